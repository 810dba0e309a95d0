import math

import numpy as np
import pytest
import torch

from gensci.methods.diffusion.samplers import reverse_step, sample_ancestral, time_grid
from gensci.methods.diffusion.schedules import (
    alpha, alpha_sigma_t_given_s, clip_noise_schedule, gamma_table, polynomial_alphas2, sigma, snr,
)


@pytest.mark.parametrize("name", ["polynomial_2", "polynomial_3", "cosine"])
def test_variance_preserving_and_monotone(name):
    g = gamma_table(name, 1000, 1e-5)
    assert g.shape == (1001,) and g.dtype == torch.float64
    a, s = alpha(g), sigma(g)
    assert torch.allclose(a**2 + s**2, torch.ones_like(g), atol=1e-12)
    assert torch.all(torch.diff(a**2) < 0)  # alpha-bar strictly decreasing
    assert torch.allclose(snr(g), a**2 / s**2, rtol=1e-9)


def test_polynomial_2_endpoints_follow_edm_precision():
    a2 = polynomial_alphas2(1000, precision=1e-5, power=2)
    # en_diffusion.py polynomial_schedule: alpha^2(0) = 1 - s (squeezed), alpha^2(1) near s
    assert a2[0] == pytest.approx(1 - 1e-5, abs=1e-12)
    assert 1e-5 < a2[-1] < 2e-5
    g = gamma_table("polynomial_2", 1000, 1e-5)
    assert float(g[0]) == pytest.approx(math.log(1e-5 / (1 - 1e-5)), abs=1e-9)  # log SNR_max ~ 11.5
    assert float(-g[-1]) < -10  # log SNR_min


def test_clip_noise_schedule_bounds_each_step():
    a2 = np.array([0.9, 0.5, 1e-6, 1e-9])
    clipped = clip_noise_schedule(a2, clip_value=0.001)
    ratios = clipped / np.concatenate([[1.0], clipped[:-1]])
    assert np.all(ratios >= 0.001 - 1e-15) and np.all(ratios <= 1)


def test_composing_q_s_given_0_and_q_t_given_s_gives_q_t_given_0():
    g = gamma_table("polynomial_2", 1000, 1e-5)
    for s, t in [(0, 1), (10, 500), (300, 1000), (999, 1000)]:
        a_ts, s2_ts = alpha_sigma_t_given_s(g[t], g[s])
        assert float(a_ts * alpha(g[s])) == pytest.approx(float(alpha(g[t])), rel=1e-10)
        assert float(a_ts**2 * sigma(g[s]) ** 2 + s2_ts) == pytest.approx(float(sigma(g[t]) ** 2), rel=1e-8)
    # and by sampling: z_s ~ q(z_s|x), z_t ~ q(z_t|z_s) has the moments of q(z_t|x)
    gen = torch.Generator().manual_seed(0)
    x, s, t = 1.5, 200, 700
    z_s = alpha(g[s]) * x + sigma(g[s]) * torch.randn(200_000, generator=gen, dtype=torch.float64)
    a_ts, s2_ts = alpha_sigma_t_given_s(g[t], g[s])
    z_t = a_ts * z_s + s2_ts.sqrt() * torch.randn(200_000, generator=gen, dtype=torch.float64)
    assert float(z_t.mean()) == pytest.approx(float(alpha(g[t]) * x), abs=0.01)
    assert float(z_t.std()) == pytest.approx(float(sigma(g[t])), abs=0.01)


def test_time_grid():
    assert time_grid(1000) == list(range(1000, -1, -1))
    assert time_grid(1000, 4) == [1000, 750, 500, 250, 0]
    grid = time_grid(1000, 300)
    assert len(grid) == 301 and all(a > b for a, b in zip(grid, grid[1:]))
    with pytest.raises(ValueError, match="1..1000"):
        time_grid(1000, 1001)


def test_sampler_with_the_ideal_denoiser_reproduces_gaussian_data():
    """Data x ~ N(mu, v): the optimal eps(z_t) is known in closed form; ancestral sampling with it must return
    the data's mean and variance, with the error shrinking as the strided grid gets finer."""
    g = gamma_table("polynomial_2", 1000, 1e-5)
    mu, v = 2.0, 0.25

    def ideal_eps(z, t):
        a, s = alpha(g[t]), sigma(g[t])
        return (s * (z - a * mu) / (a**2 * v + s**2)).to(z.dtype)  # E[eps | z_t]

    var_errors = []
    for steps in (20, 100, 1000):
        gen = torch.Generator().manual_seed(0)
        z = torch.randn(20_000, dtype=torch.float64, generator=gen)
        calls = []
        out = sample_ancestral(lambda z, t: calls.append(t) or ideal_eps(z, t), z, time_grid(1000, steps), g,
                               noise=lambda: torch.randn(20_000, dtype=torch.float64, generator=gen))
        assert len(calls) == steps  # one network call per reverse step
        assert float(out.mean()) == pytest.approx(mu, abs=0.02)
        var_errors.append(abs(float(out.var()) - v))
    assert var_errors[0] > var_errors[1] > var_errors[2]
    assert var_errors[2] < 0.03 * v


def test_reverse_step_is_exact_posterior_mean_when_eps_is_true_noise():
    g = gamma_table("polynomial_2", 100, 1e-5)
    x = torch.tensor([0.7], dtype=torch.float64)
    eps = torch.tensor([0.3], dtype=torch.float64)
    t, s = 60, 20
    z_t = alpha(g[t]) * x + sigma(g[t]) * eps
    # posterior mean of q(z_s | z_t, x) (VDM eq. 32-33)
    a_ts, s2_ts = alpha_sigma_t_given_s(g[t], g[s])
    mean = a_ts * sigma(g[s]) ** 2 / sigma(g[t]) ** 2 * z_t + alpha(g[s]) * s2_ts / sigma(g[t]) ** 2 * x
    got = reverse_step(z_t, eps, g[t], g[s], torch.zeros(1, dtype=torch.float64))
    assert torch.allclose(got, mean, rtol=1e-10)
