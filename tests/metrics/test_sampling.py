import math

import emcee
import numpy as np
import pytest
from scipy.signal import lfilter

from gensci.metrics.sampling import (
    acceptance_rate,
    ess_per_evaluation,
    importance_estimate,
    integrated_time,
    kish_ess_fraction,
    log_partition,
    mean_with_error,
    within_sigma,
)


def ar1(rho: float, n: int, chains: int, seed: int) -> np.ndarray:
    """x_t = rho x_{t-1} + sqrt(1 - rho^2) e_t, started in equilibrium: tau_int = (1 + rho) / (1 - rho)."""
    rng = np.random.default_rng(seed)
    e = rng.standard_normal((n, chains)) * math.sqrt(1 - rho**2)
    e[0] = rng.standard_normal(chains)
    return lfilter([1.0], [1.0, -rho], e, axis=0)


def test_kish_ess_of_equal_one_and_shifted_weights():
    assert kish_ess_fraction(np.zeros(100)) == pytest.approx(1.0)
    lw = np.full(100, -np.inf)
    lw[3] = 0.0
    assert kish_ess_fraction(lw) == pytest.approx(1 / 100)
    rng = np.random.default_rng(0)
    lw = rng.normal(size=500)
    # invariant to a constant shift, even one that would overflow exp
    assert kish_ess_fraction(lw + 5000.0) == pytest.approx(kish_ess_fraction(lw), rel=1e-12)
    w = np.exp(lw)
    assert kish_ess_fraction(lw) == pytest.approx(w.sum() ** 2 / (w.size * (w**2).sum()), rel=1e-12)
    with pytest.raises(ValueError, match="NaN"):
        kish_ess_fraction(np.array([0.0, np.nan]))


@pytest.mark.parametrize("s", [0.9, 1.5, 2.5])
def test_kish_ess_of_a_gaussian_proposal_matches_its_closed_form(s):
    # target N(0,1), proposal N(0,s^2), w = p/q: E_q w = 1, E_q w^2 = int p^2/q = s^2 / sqrt(2 s^2 - 1), so
    # ESS/N -> (E_q w)^2 / E_q w^2 = sqrt(2 s^2 - 1) / s^2 (finite variance of the estimate needs s^2 > 3/4)
    rng = np.random.default_rng(1)
    n = 40_000
    x = rng.normal(scale=s, size=n)
    lw = -0.5 * x**2 + 0.5 * (x / s) ** 2 + math.log(s)
    exact = math.sqrt(2 * s**2 - 1) / s**2
    # delta-method standard error of m1^2 / m2 from the sample's covariance of (w, w^2)
    w = np.exp(lw)
    m1, m2 = w.mean(), (w**2).mean()
    grad = np.array([2 * m1 / m2, -(m1**2) / m2**2])
    se = math.sqrt(grad @ np.cov(np.stack([w, w**2])) @ grad / n)
    assert abs(kish_ess_fraction(lw) - exact) < 4 * se
    assert se < 0.05  # the check has teeth


def test_importance_estimate_and_log_z_of_an_unnormalised_gaussian():
    # U(x) = |x|^2 / (2 sigma^2) in 2-D: Z = 2 pi sigma^2, E_p[x_1^2] = sigma^2; proposal N(0, 1.5^2 I)
    sigma, s, n = 1.3, 1.5, 20_000
    rng = np.random.default_rng(2)
    x = rng.normal(scale=s, size=(n, 2))
    log_q = -0.5 * (x**2).sum(1) / s**2 - math.log(2 * math.pi * s**2)
    lw = -0.5 * (x**2).sum(1) / sigma**2 - log_q
    lz = log_partition(lw)
    assert abs(lz["log_z"] - math.log(2 * math.pi * sigma**2)) < 3 * lz["error"]
    assert 0 < lz["error"] < 0.02
    est = importance_estimate(lw, x[:, 0] ** 2)
    assert abs(est["mean"] - sigma**2) < 3 * est["error"]
    assert 0 < est["error"] < 0.05
    # a proposal equal to the target: every weight Z, error 0
    assert log_partition(np.full(10, 1.7)) == pytest.approx({"log_z": 1.7, "error": 0.0, "ess_fraction": 1.0})


@pytest.mark.parametrize("rho", [-0.3, 0.0, 0.5, 0.9])
def test_integrated_time_of_ar1_is_its_closed_form(rho):
    x = ar1(rho, 50_000, 4, seed=3)
    exact = (1 + rho) / (1 - rho)
    assert integrated_time(x) == pytest.approx(exact, rel=0.1)


def test_integrated_time_of_a_strongly_anticorrelated_chain_stays_positive():
    # rho = -0.6: tau = 0.25; emcee's window stops at lag 1 where the partial sum is 1 + 2 rho = -0.2
    x = ar1(-0.6, 50_000, 4, seed=3)
    assert float(emcee.autocorr.integrated_time(x, quiet=True)[0]) < 0
    assert 0.15 < integrated_time(x) < 0.3


def test_integrated_time_agrees_with_emcee():
    for seed, rho in [(4, 0.7), (5, 0.95)]:
        x = ar1(rho, 20_000, 3, seed)
        assert integrated_time(x) == pytest.approx(float(emcee.autocorr.integrated_time(x, quiet=True)[0]), rel=1e-9)
        assert integrated_time(x[:, 0]) == pytest.approx(float(emcee.autocorr.integrated_time(x[:, 0])[0]), rel=1e-9)
    assert integrated_time(np.ones((100, 2))) == math.inf


def test_mean_with_error_covers_the_truth_with_the_tau_corrected_error():
    # over 200 AR(1) chains with rho = 0.9, the mean's error must be sqrt(tau) ~ 4.4 times the naive one,
    # and 2-sigma intervals must cover 0 about 95% of the time
    hits, ratios = 0, []
    for seed in range(200):
        x = ar1(0.9, 4_000, 1, seed)[:, 0]
        r = mean_with_error(x)
        hits += within_sigma(r["mean"], r["error"], 0.0)
        ratios.append(r["error"] / (x.std() / math.sqrt(x.size)))
    assert 0.90 <= hits / 200 <= 0.99
    assert np.median(ratios) == pytest.approx(math.sqrt(19), rel=0.1)


def test_small_helpers():
    assert acceptance_rate(np.array([1, 0, 1, 1])) == 0.75
    assert ess_per_evaluation(1000, 4.0, 500) == 0.5
    assert within_sigma(1.0, 0.1, 1.19) and not within_sigma(1.0, 0.1, 1.21)
    assert within_sigma(1.0, 0.1, 1.25, reference_error=0.1)
