import math

import pytest
import torch

from gensci.data.targets import target
from gensci.errors import UserError
from gensci.mcmc import LearnedProposal, run_chains, train_learned_proposal
from gensci.metrics.sampling import mean_with_error
from gensci.metrics.sampling import within_sigma as within


def quadrature_mean_x1(tilt: float = 1.0) -> float:
    from scipy.integrate import quad

    def w(x):
        return math.exp(-(x**4 - 6 * x**2 + tilt * x))

    z, _ = quad(w, -6, 6, points=[-1.7, 1.7], limit=200)
    m, _ = quad(lambda x: x * w(x), -6, 6, points=[-1.7, 1.7], limit=200)
    return m / z


class Gaussian:
    """U = sum x_i^2 / (2 var_i)."""

    def __init__(self, var):
        self.var = torch.tensor(var, dtype=torch.float64)

    def energy(self, x):
        return 0.5 * (x**2 / self.var).sum(1)


def chain_mean(series):
    """Mean and tau-corrected error of an observable [T, B], from the series of chain averages (chains that never
    leave a well make a constant column, whose autocorrelation is undefined)."""
    return mean_with_error(series.double().mean(1))


def well_start(n, p_right, generator):
    """n starts in the two double-well minima, p_right of them on the right: near stationarity, so a short warm-up
    leaves no visible bias."""
    x0 = torch.zeros(n, 2, dtype=torch.float64)
    x0[:, 0] = torch.where(torch.rand(n, generator=generator, dtype=torch.float64) < p_right, 1.7, -1.8)
    return x0


def test_untrained_kernel_is_exact_on_the_double_well():
    t = target("double-well")
    ref = t.reference()
    g = torch.Generator().manual_seed(0)
    r = run_chains(t, well_start(256, ref["p_right"], g), LearnedProposal(2, scale=2.0, seed=0), n_steps=2000,
                   warmup=200, generator=g)
    m = chain_mean(r.samples[..., 0])
    p = chain_mean(r.samples[..., 0] > 0)
    assert within(m["mean"], m["error"], quadrature_mean_x1()), m
    assert within(p["mean"], p["error"], ref["p_right"]), p
    assert p["error"] < 0.01 and r.counts.energy == 256 * 2201  # the check has teeth; one energy per proposal


class StateScale(LearnedProposal):
    """No shift and sigma = 0.5 exp(x) clamped: strongly state-dependent, so q(x1 | x2) != q(x2 | x1)."""

    def shift_and_log_scale(self, x):
        return torch.zeros_like(x), (math.log(0.5) + x).clamp(-3, 1)


class WithoutReverse(StateScale):
    """Scores the reverse move with the forward density, so the Hastings terms cancel: plain Metropolis."""

    def log_q(self, x_to, x_from):
        return super().log_q(x_from, x_to)


def gaussian_variance(kernel):
    g = torch.Generator().manual_seed(1)
    r = run_chains(Gaussian([1.0]), torch.randn(512, 1, generator=g, dtype=torch.float64), kernel, n_steps=1000,
                   warmup=100, generator=g)
    return chain_mean(r.samples[..., 0] ** 2)


def test_the_reverse_probability_is_what_keeps_a_state_dependent_scale_exact():
    v = gaussian_variance(StateScale(1))
    assert within(v["mean"], v["error"], 1.0) and v["error"] < 0.02, v
    biased = gaussian_variance(WithoutReverse(1))
    assert not within(biased["mean"], biased["error"], 1.0, k=5.0), biased


def train(seed, steps=200):
    kernel = LearnedProposal(2, scale=0.3, seed=seed)
    g = torch.Generator().manual_seed(seed)
    x0 = torch.randn(128, 2, generator=g, dtype=torch.float64)
    return kernel, train_learned_proposal(kernel, Gaussian([4.0, 0.25]), x0, steps=steps, lr=3e-3, generator=g,
                                          progress=False)


def test_training_is_seeded_and_raises_the_acceptance_weighted_jump():
    k1, fit1 = train(0)
    k2, fit2 = train(0)
    assert fit1.objective == fit2.objective
    assert torch.equal(fit1.state.x, fit2.state.x)
    for a, b in zip(k1.net.parameters(), k2.net.parameters(), strict=True):
        assert torch.equal(a, b)
    assert fit1.counts.energy == 128 * 201 and fit1.counts.gradient == 128 * 200
    untrained = sum(fit1.objective[:10]) / 10
    assert sum(fit1.objective[-10:]) / 10 > 3 * untrained, (untrained, fit1.objective[-10:])


def test_learned_chain_is_seeded():
    def run():
        g = torch.Generator().manual_seed(3)
        return run_chains(target("double-well"), torch.zeros(8, 2, dtype=torch.float64), LearnedProposal(2, seed=3),
                          n_steps=50, generator=g).samples

    assert torch.equal(run(), run())


def test_bad_input_is_a_user_error():
    with pytest.raises(UserError, match="dim"):
        LearnedProposal(0)
    with pytest.raises(UserError, match="dim 3"):
        run_chains(target("double-well"), torch.zeros(4, 2), LearnedProposal(3), n_steps=1)
    with pytest.raises(UserError, match="steps"):
        train_learned_proposal(LearnedProposal(2), target("double-well"), torch.zeros(4, 2), steps=0)
