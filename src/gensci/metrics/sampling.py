"""Measurements of samplers: acceptance, importance weights (Kish ESS, self-normalised estimates, log Z) and
autocorrelation (tau_int, error bars of chain means). Numpy in, floats out; torch tensors are accepted.

- kish_ess_fraction: (sum w)^2 / (N sum w^2) of log-weights, computed with logsumexp so that log-weights of any
  size (energies of hundreds of kT) neither overflow nor underflow (Kish 1965, Survey Sampling, sec. 11.7).
- importance_estimate: the self-normalised estimate sum w f / sum w and its delta-method standard error
  sqrt(sum wbar_i^2 (f_i - mean)^2) with normalised weights wbar (Owen 2013, Monte Carlo theory, methods and
  examples, ch. 9, eq. 9.8).
- log_partition: log Z = log mean w, with the delta-method standard error of a log of a mean,
  sd(w) / (sqrt(N) mean w) = sqrt((1 / ESS_frac - 1) / N).
- integrated_time: tau_int = 1 + 2 sum_t rho(t) with Sokal's automatic window (the smallest M with M >= c tau(M),
  c = 5; Sokal 1997, "Monte Carlo methods in statistical mechanics", p. 16), the algorithm of
  emcee.autocorr.integrated_time (emcee 3.1, src/emcee/autocorr.py: per-chain FFT autocorrelations averaged over
  chains, then the window), except that the window tests M >= c max(tau(M), 1) so an anticorrelated chain does
  not stop at lag 1 with a negative sum; tests/metrics/test_sampling.py checks it against emcee on the same series.
- mean_with_error: a chain mean with its error sigma sqrt(tau / N).
- within_sigma: whether an estimate lies within k (default 2) standard errors of a reference.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import logsumexp


def _array(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def acceptance_rate(accepted) -> float:
    """Mean of accepted flags or acceptance probabilities (any shape)."""
    a = _array(accepted)
    if a.size == 0:
        raise ValueError("acceptance_rate of an empty array")
    return float(a.mean())


def _log_weights(log_w) -> np.ndarray:
    lw = _array(log_w).reshape(-1)
    if lw.size == 0:
        raise ValueError("no log-weights")
    if np.isnan(lw).any() or np.isposinf(lw).any():
        raise ValueError(f"log-weights must be finite or -inf (weight 0); got {int(np.isnan(lw).sum())} NaN and "
                         f"{int(np.isposinf(lw).sum())} +inf")
    if np.isneginf(lw).all():
        raise ValueError("every log-weight is -inf: no sample has any weight")
    return lw


def kish_ess_fraction(log_w) -> float:
    """Kish's ESS / N = (sum w)^2 / (N sum w^2), from log-weights [N]; 1 for equal weights, 1/N for one."""
    lw = _log_weights(log_w)
    return float(np.exp(2 * logsumexp(lw) - logsumexp(2 * lw) - math.log(lw.size)))


def importance_estimate(log_w, values) -> dict[str, float]:
    """Self-normalised estimate of E_p[f] from log-weights [N] and f(x_i) [N]: {"mean", "error"}."""
    lw = _log_weights(log_w)
    f = _array(values).reshape(-1)
    if f.shape != lw.shape:
        raise ValueError(f"{f.size} values for {lw.size} log-weights")
    w = np.exp(lw - logsumexp(lw))
    mean = float(np.sum(w * f))
    return {"mean": mean, "error": float(math.sqrt(np.sum(w**2 * (f - mean) ** 2)))}


def log_partition(log_w) -> dict[str, float]:
    """log Z = log mean exp(log w) for log w = -U(x) - log q(x), x ~ q: {"log_z", "error", "ess_fraction"}."""
    lw = _log_weights(log_w)
    ess = kish_ess_fraction(lw)
    return {"log_z": float(logsumexp(lw) - math.log(lw.size)),
            "error": float(math.sqrt(max(1 / ess - 1, 0.0) / lw.size)), "ess_fraction": ess}


def _autocorrelation(x: np.ndarray) -> np.ndarray:
    """Normalised autocorrelation [T] of each column of x [T, B] (FFT, zero-padded), averaged over columns."""
    t = x.shape[0]
    n = 1 << (2 * t - 1).bit_length()
    centred = x - x.mean(0)
    f = np.fft.rfft(centred, n=n, axis=0)
    acf = np.fft.irfft(f * np.conj(f), n=n, axis=0)[:t]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (acf / acf[0]).mean(1)


def integrated_time(x, c: float = 5.0) -> float:
    """tau_int of a series [T] or of B chains [T, B] (Sokal window, as emcee); inf when a chain never moves.
    Trust it when T >= 50 tau (emcee's default tolerance). Below 1 for an anticorrelated chain (floored at 0)."""
    a = _array(x)
    a = a[:, None] if a.ndim == 1 else a.reshape(a.shape[0], -1)
    if a.shape[0] < 2:
        raise ValueError(f"integrated_time needs at least 2 steps, got {a.shape[0]}")
    rho = _autocorrelation(a)
    if not np.isfinite(rho).all():  # a constant chain: it never moved
        return math.inf
    taus = 2.0 * np.cumsum(rho) - 1.0
    # max(tau, 1): an anticorrelated chain (HMC near a half period) has partial sums that swing below 1, even
    # below 0, at lag 1; the window then waits until lag c. For tau(M) >= 1, as in any positively correlated
    # chain, this is emcee's rule unchanged.
    small = np.arange(taus.size) < c * np.maximum(taus, 1.0)
    window = int(np.argmin(small)) if small.any() else taus.size - 1
    return max(float(taus[window]), 0.0)


def mean_with_error(x, c: float = 5.0) -> dict[str, float]:
    """The mean of a chain observable [T] or [T, B] and its error sigma sqrt(tau / N), N = T * B:
    {"mean", "error", "tau", "n", "reliable"} (reliable = 1.0 when T >= 50 tau)."""
    a = _array(x)
    a = a[:, None] if a.ndim == 1 else a.reshape(a.shape[0], -1)
    tau = integrated_time(a, c)
    return {"mean": float(a.mean()), "error": float(a.std() * math.sqrt(tau / a.size)), "tau": tau,
            "n": float(a.size), "reliable": float(a.shape[0] >= 50 * tau)}


def ess_per_evaluation(n_samples: int, tau: float, evaluations: int) -> float:
    """(n_samples / tau) / evaluations: effective samples per energy evaluation (count training's too)."""
    if evaluations <= 0:
        raise ValueError(f"evaluations must be positive, got {evaluations}")
    return n_samples / tau / evaluations


def within_sigma(value: float, error: float, reference: float, reference_error: float = 0.0, k: float = 2.0) -> bool:
    """Whether |value - reference| <= k sqrt(error^2 + reference_error^2)."""
    return bool(abs(value - reference) <= k * math.hypot(error, reference_error))
