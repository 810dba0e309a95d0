import math

import numpy as np
import pytest
import torch

from gensci.errors import ConfigError
from gensci.methods.diffusion.schedules import (
    SCHEDULES, alpha, alpha_sigma_t_given_s, check_schedule, clip_noise_schedule, gamma_table, linear_alphas2,
    polynomial_alphas2, sigma, snr,
)

# every registered schedule (a parametrised family with two of its members), at EDM's T and at a small T
NAMES = [n for n in SCHEDULES if "<" not in n] + ["polynomial_2", "polynomial_3", "polynomial_1.5", "cosine_shifted_4"]


@pytest.mark.parametrize("timesteps", [1000, 20])
@pytest.mark.parametrize("name", NAMES)
def test_variance_preserving_and_monotone(name, timesteps):
    g = gamma_table(name, timesteps, 1e-5)
    assert g.shape == (timesteps + 1,) and g.dtype == torch.float64 and torch.isfinite(g).all()
    a, s = alpha(g), sigma(g)
    assert torch.allclose(a**2 + s**2, torch.ones_like(g), atol=1e-12)
    assert torch.all(torch.diff(g) > 0)  # gamma strictly increasing: alpha-bar strictly decreasing
    assert torch.all((a**2 > 0) & (a**2 < 1))
    assert torch.allclose(snr(g), a**2 / s**2, rtol=1e-9)


def test_linear_is_ddpm_betas():
    # Ho et al. 2020 sec. 4: T = 1000 betas linear from 1e-4 to 0.02; our table with timesteps 999 is that chain
    a2 = linear_alphas2(999)
    betas = 1 - a2 / np.concatenate([[1.0], a2[:-1]])
    assert betas[0] == pytest.approx(1e-4, rel=1e-9) and betas[-1] == pytest.approx(0.02, rel=1e-9)
    assert np.allclose(np.diff(betas), (0.02 - 1e-4) / 999, rtol=1e-6)
    assert a2[-1] == pytest.approx(4.04e-5, rel=0.01)  # alpha-bar_T of DDPM's schedule


def test_unknown_schedule_lists_the_choices():
    assert check_schedule("polynomial_2.5") == "polynomial_2.5"
    for bad in ["nonsense", "polynomial_", "polynomial_x", "polynomial_-1", "polynomial_inf", "cosine_2"]:
        with pytest.raises(ConfigError, match="polynomial_<power>, cosine, cosine_shifted_<factor>, linear"):
            gamma_table(bad, 10)


def test_polynomial_2_endpoints_follow_edm_precision():
    a2 = polynomial_alphas2(1000, precision=1e-5, power=2)
    # en_diffusion.py polynomial_schedule: alpha^2(0) = 1 - s (squeezed), alpha^2(1) near s
    assert a2[0] == pytest.approx(1 - 1e-5, abs=1e-12)
    assert 1e-5 < a2[-1] < 2e-5
    g = gamma_table("polynomial_2", 1000, 1e-5)
    assert float(g[0]) == pytest.approx(math.log(1e-5 / (1 - 1e-5)), abs=1e-9)  # log SNR_max ~ 11.5
    assert float(-g[-1]) < -10  # log SNR_min


@pytest.mark.parametrize("factor", [0.5, 4.0, 8.0])
def test_shifted_cosine_divides_the_snr_by_the_factor_squared_at_every_step(factor):
    shifted, cosine = gamma_table(f"cosine_shifted_{factor:g}", 1000), gamma_table("cosine", 1000)
    assert torch.allclose(shifted - cosine, torch.full_like(cosine, 2 * math.log(factor)), atol=1e-6)
    assert torch.allclose(snr(shifted), snr(cosine) / factor**2, rtol=1e-6)


def test_clip_noise_schedule_bounds_each_step():
    a2 = np.array([0.9, 0.5, 1e-6, 1e-9])
    clipped = clip_noise_schedule(a2, clip_value=0.001)
    ratios = clipped / np.concatenate([[1.0], clipped[:-1]])
    assert np.all(ratios >= 0.001 - 1e-15) and np.all(ratios <= 1)


@pytest.mark.parametrize("name", NAMES)
def test_composing_q_s_given_0_and_q_t_given_s_gives_q_t_given_0(name):
    g = gamma_table(name, 1000, 1e-5)
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
