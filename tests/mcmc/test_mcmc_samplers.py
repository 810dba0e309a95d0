import math

import pytest
import torch
from scipy.integrate import quad

from gensci.errors import UserError
from gensci.mcmc import HMC, MALA, FlowMALA, IndependenceMH, RandomWalkMetropolis, run_chains
from gensci.metrics.sampling import kish_ess_fraction, mean_with_error


class Gaussian:
    """U(x) = |x|^2 / (2 sigma^2) over the non-batch dims."""

    has_gradient = True

    def __init__(self, sigma: float = 1.0):
        self.sigma = sigma

    def energy(self, x):
        return 0.5 * (x**2).flatten(1).sum(1) / self.sigma**2

    def grad_energy(self, x):
        return x / self.sigma**2


class DoubleWell:
    """1-D U(x) = a (x^2 - 1)^2; gradient by autograd (no grad_energy)."""

    has_gradient = True

    def __init__(self, a: float = 1.0):
        self.a = a

    def energy(self, x):
        return self.a * (x[:, 0] ** 2 - 1) ** 2


class NoGradient(Gaussian):
    has_gradient = False


class GaussianProposal:
    """q = N(0, s^2 I) on [d]."""

    def __init__(self, s: float, d: int, dtype=torch.float64):
        self.s, self.d, self.dtype = s, d, dtype

    def log_prob(self, x):
        return -0.5 * (x**2).sum(1) / self.s**2 - self.d * math.log(self.s * math.sqrt(2 * math.pi))

    def sample(self, n, generator):
        x = self.s * torch.randn(n, self.d, generator=generator, dtype=self.dtype)
        return x, self.log_prob(x)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


KERNELS = {
    "rwm": lambda: RandomWalkMetropolis(step_size=0.5),
    "mala": lambda: MALA(step_size=0.5),
    "hmc": lambda: HMC(step_size=0.3, n_leapfrog=5),
    "flow_mala": lambda: FlowMALA(GaussianProposal(1.5, 2), step_size=0.5, flow_moves=1, local_moves=2),
}


def assert_gaussian_moments(samples, sigma=1.0, k=4.0):
    for d in range(samples.shape[-1]):
        m = mean_with_error(samples[..., d])
        assert abs(m["mean"]) < k * m["error"], m
        v = mean_with_error(samples[..., d] ** 2)
        assert abs(v["mean"] - sigma**2) < k * v["error"], v
        assert v["error"] < 0.1  # enough samples for the check to have teeth


@pytest.mark.parametrize("name", list(KERNELS))
def test_each_sampler_gets_a_gaussians_mean_and_variance(name):
    x0 = torch.randn(32, 2, generator=gen(1), dtype=torch.float64) * 3
    r = run_chains(Gaussian(), x0, KERNELS[name](), n_steps=600, warmup=200, generator=gen(2))
    assert r.samples.shape == (600, 32, 2) and r.samples.dtype == torch.float64
    assert torch.isfinite(r.samples).all()
    assert_gaussian_moments(r.samples)


@pytest.mark.parametrize("name", ["rwm", "mala", "hmc"])
def test_adaptation_reaches_the_target_acceptance_then_freezes(name):
    kernel = KERNELS[name]()
    x0 = torch.randn(64, 5, generator=gen(3))
    r = run_chains(Gaussian(), x0, kernel, n_steps=300, warmup=300, generator=gen(4))
    assert r.samples.dtype == torch.float32
    assert abs(r.acceptance - kernel.target_acceptance) < 0.1
    assert kernel.step_size == r.step_size  # not moved by the recorded steps


@pytest.mark.parametrize("name", list(KERNELS))
def test_seeded_runs_repeat_and_other_seeds_differ(name):
    x0 = torch.zeros(4, 2, dtype=torch.float64)
    a, b, c = (run_chains(Gaussian(), x0, KERNELS[name](), 20, 10, generator=gen(s)).samples for s in (5, 5, 6))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_hmc_samples_a_double_well():
    # E[x^2] under exp(-(x^2 - 1)^2), by quadrature
    z = quad(lambda x: math.exp(-((x * x - 1) ** 2)), -6, 6)[0]
    exact = quad(lambda x: x * x * math.exp(-((x * x - 1) ** 2)), -6, 6)[0] / z
    x0 = torch.randn(32, 1, generator=gen(7), dtype=torch.float64)
    r = run_chains(DoubleWell(), x0, HMC(0.2, 8), n_steps=800, warmup=200, generator=gen(8))
    m = mean_with_error(r.samples[..., 0] ** 2)
    assert abs(m["mean"] - exact) < 4 * m["error"] and m["error"] < 0.03
    s = mean_with_error(r.samples[..., 0])
    assert abs(s["mean"]) < 4 * s["error"]  # both wells visited evenly


def test_flow_moves_cross_a_barrier_that_local_moves_do_not():
    # barrier of 8 kT: MALA chains started in the right well stay there; independence moves from a broad
    # proposal visit both wells evenly (the point of Gabrie, Rotskoff & Vanden-Eijnden 2022)
    x0 = torch.ones(32, 1, dtype=torch.float64)
    local = run_chains(DoubleWell(8.0), x0, MALA(0.1), n_steps=300, warmup=100, generator=gen(16))
    assert (local.samples > 0).all()
    mixed = FlowMALA(GaussianProposal(1.5, 1), step_size=0.1, flow_moves=1, local_moves=2)
    r = run_chains(DoubleWell(8.0), x0, mixed, n_steps=300, warmup=100, generator=gen(16))
    m = mean_with_error(r.samples[..., 0])
    assert abs(m["mean"]) < 4 * m["error"] and m["error"] < 0.1


def test_hmc_jitter_breaks_the_half_period_resonance_and_stays_exact():
    # on N(0, I), eps L = pi is a half period: x -> -x, so |x|^2 (the energy) barely moves without jitter
    x0 = torch.randn(16, 2, generator=gen(17), dtype=torch.float64)
    taus = {}
    for jitter in (0.0, 0.5):
        kernel = HMC(step_size=math.pi / 10, n_leapfrog=10, jitter=jitter)
        r = run_chains(Gaussian(), x0, kernel, n_steps=1000, generator=gen(18), adapt=False)
        taus[jitter] = mean_with_error(r.energies)["tau"]
        if jitter:
            assert_gaussian_moments(r.samples)
    assert taus[0.0] > 10 * taus[0.5]


def test_evaluations_are_counted():
    b, n, warm, leap = 8, 15, 5, 4
    x0 = torch.zeros(b, 2)
    assert run_chains(Gaussian(), x0, RandomWalkMetropolis(), n, warm).counts.energy == b * (1 + n + warm)
    c = run_chains(Gaussian(), x0, MALA(), n, warm).counts
    assert (c.energy, c.gradient) == (b * (1 + n + warm), b * (1 + n + warm))
    c = run_chains(Gaussian(), x0, HMC(0.1, leap), n, warm).counts
    assert (c.energy, c.gradient) == (b * (1 + n + warm), b * (1 + (n + warm) * leap))
    assert c.proposals == b * (n + warm) and 0 < c.accepted <= c.proposals and c.nonfinite == 0


def test_proposal_equal_to_the_target_is_always_accepted():
    q = GaussianProposal(1.0, 3)
    x0, _ = q.sample(16, gen(9))
    r = run_chains(Gaussian(), x0, IndependenceMH(q), n_steps=50, generator=gen(10))
    assert r.acceptance == 1.0 and r.counts.accepted == r.counts.proposals
    x, log_q = q.sample(1000, gen(11))
    assert kish_ess_fraction(-Gaussian().energy(x) - log_q) == pytest.approx(1.0)


def test_independence_sampler_with_a_wider_proposal_is_exact():
    q = GaussianProposal(2.0, 2)
    x0 = torch.full((32, 2), 0.5, dtype=torch.float64)  # not from q: log q is asked of the proposal
    r = run_chains(Gaussian(), x0, IndependenceMH(q), n_steps=800, warmup=50, generator=gen(12))
    assert 0.3 < r.acceptance < 0.9
    assert_gaussian_moments(r.samples)


class Walled(Gaussian):
    """A Gaussian whose energy is NaN beyond x_0 > 1 (a target undefined there)."""

    def energy(self, x):
        u = super().energy(x)
        return torch.where(x[:, 0] > 1, torch.full_like(u, math.nan), u)


@pytest.mark.parametrize("name", ["rwm", "mala", "hmc"])
def test_non_finite_energies_are_rejected_and_counted(name):
    x0 = torch.zeros(16, 2, dtype=torch.float64)
    r = run_chains(Walled(), x0, KERNELS[name](), n_steps=100, warmup=20, generator=gen(13))
    assert torch.isfinite(r.samples).all() and torch.isfinite(r.energies).all()
    assert (r.samples[..., 0] <= 1).all()
    assert r.counts.nonfinite > 0
    assert r.counts.accepted + r.counts.nonfinite <= r.counts.proposals


def test_non_finite_proposal_densities_are_rejected_and_counted():
    class Broken(GaussianProposal):
        def sample(self, n, generator):
            x, log_q = super().sample(n, generator)
            return x, torch.where(x[:, 0] > 0, torch.full_like(log_q, math.nan), log_q)

    q = Broken(1.5, 2)
    r = run_chains(Gaussian(), torch.zeros(16, 2, dtype=torch.float64), IndependenceMH(q), 50, generator=gen(14))
    assert r.counts.nonfinite > 0 and (r.samples[..., 0] <= 0).all()


def test_user_errors():
    x0 = torch.zeros(4, 2)
    x0[2, 0] = 5.0
    with pytest.raises(UserError, match="not finite at 1 of 4 start states"):
        run_chains(Walled(), x0, RandomWalkMetropolis(), 5)
    for kernel in (MALA(), HMC(), FlowMALA(GaussianProposal(1.0, 2))):
        with pytest.raises(UserError, match="needs the energy's gradient"):
            run_chains(NoGradient(), torch.zeros(4, 2), kernel, 5)
    run_chains(NoGradient(), torch.zeros(4, 2), RandomWalkMetropolis(), 5)  # needs none

    class SampleOnly:
        def sample(self, n, generator):
            return torch.zeros(n, 2), torch.zeros(n)

    with pytest.raises(UserError, match="no log_prob"):
        run_chains(Gaussian(), torch.zeros(4, 2), IndependenceMH(SampleOnly()), 5)
    with pytest.raises(UserError, match="step size must be positive"):
        MALA(step_size=0.0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", ["rwm", "mala", "hmc"])
def test_cuda_chains_with_a_cpu_generator(name):
    x0 = torch.zeros(64, 2, device="cuda")
    r = run_chains(Gaussian(), x0, KERNELS[name](), 300, 100, generator=gen(15))
    assert r.samples.device.type == "cuda"
    assert_gaussian_moments(r.samples.cpu())
