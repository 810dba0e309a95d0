"""The diffusion toolkit's samplers and parametrisations, on closed forms (no training).

Gaussian data x ~ N(mu, v I) has the optimal eps-prediction E[eps | z_t] = sigma_t (z_t - alpha_t mu) /
(alpha_t^2 v + sigma_t^2) at every t, so every registered sampler, fed with it, must return the data's mean and
variance (up to its discretisation error, which shrinks as steps grow). A new sampler in SAMPLERS is covered
here without editing this file.
"""

import itertools

import pytest
import torch

from gensci.errors import ConfigError
from gensci.methods.diffusion.parametrisations import PARAMETRISATIONS, convert, eps_model
from gensci.methods.diffusion.samplers import (
    SAMPLERS, check_sampler, check_sampler_options, final_step, get_sampler, network_calls, reverse_step, time_grid,
)
from gensci.methods.diffusion.schedules import alpha, alpha_sigma_t_given_s, gamma_table, sigma

T = 1000
SCHEDULE = gamma_table("polynomial_2", T, 1e-5)  # EDM's QM9 schedule
MU = torch.linspace(-1.0, 2.0, 8, dtype=torch.float64)  # data mean per dimension
VAR = 0.25  # data variance
N_SAMPLES = 4000
CASES = [(name, {}) for name in SAMPLERS] + [("ddim", {"eta": 1.0}), ("ddim", {"eta": 0.5}),
                                             ("langevin", {"corrector_steps": 2, "snr": 0.1})]


def ideal_eps(z, t, schedule=SCHEDULE):
    a, s = alpha(schedule[t]), sigma(schedule[t])
    return s * (z - a * MU) / (a**2 * VAR + s**2)


def draw(name, options, steps, seed=0, model=ideal_eps):
    """Samples x [N_SAMPLES, 8] from pure noise through the sampler and the final step (with its noise)."""
    gen = torch.Generator().manual_seed(seed)
    noise = lambda: torch.randn(N_SAMPLES, len(MU), generator=gen, dtype=torch.float64)  # noqa: E731
    z = get_sampler(name)(model, noise(), time_grid(T, steps), SCHEDULE, noise, **options)
    return final_step(model, z, SCHEDULE, noise)


@pytest.mark.parametrize("name,options", CASES, ids=[f"{n}{o or ''}" for n, o in CASES])
def test_every_sampler_reproduces_gaussian_data_with_the_ideal_denoiser(name, options):
    mean_errors, var_errors = [], []
    for steps in (5, 25, 250):
        calls = []
        x = draw(name, options, steps, model=lambda z, t: calls.append(t) or ideal_eps(z, t))
        assert len(calls) == network_calls(name, steps, **options) + 1  # + the final step
        mean_errors.append(float((x.mean(0) - MU).abs().mean()))
        var_errors.append(float((x.var(0) - VAR).abs().mean()))
        # Monte Carlo floor (std of a mean 0.008, of a variance 0.006 per dimension) plus discretisation error
        assert mean_errors[-1] < 0.03, (steps, mean_errors)
        assert var_errors[-1] < 0.015 + 0.5 / steps**0.5, (steps, var_errors)
    assert var_errors[-1] < var_errors[0] / 4, var_errors


@pytest.mark.parametrize("name,options", CASES, ids=[f"{n}{o or ''}" for n, o in CASES])
def test_every_sampler_is_seeded(name, options):
    a, b, c = draw(name, options, 10, seed=1), draw(name, options, 10, seed=1), draw(name, options, 10, seed=2)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_samplers_project_after_each_update_and_call_back_after_each_step():
    for name in SAMPLERS:
        seen, projected = [], []
        gen = torch.Generator().manual_seed(0)
        noise = lambda: torch.randn(5, 3, generator=gen, dtype=torch.float64)  # noqa: E731
        get_sampler(name)(lambda z, t: z * 0.1, noise(), time_grid(T, 4), SCHEDULE, noise,
                          project=lambda z: projected.append(1) or z - z.mean(-1, keepdim=True),
                          callback=lambda k, s, z: seen.append((k, s, float(z.mean(-1).abs().max() / z.abs().max()))))
        assert [(k, s) for k, s, _ in seen] == [(0, 750), (1, 500), (2, 250), (3, 0)], name
        assert all(m < 1e-12 for *_, m in seen) and len(projected) == network_calls(name, 4), name  # per update


def test_ddim_with_eta_1_is_ancestral_sampling_and_eta_0_is_deterministic():
    x_anc, x_ddim = draw("ancestral", {}, 20, seed=3), draw("ddim", {"eta": 1.0}, 20, seed=3)
    assert torch.allclose(x_anc, x_ddim, rtol=1e-9, atol=1e-9)  # same p(z_s | z_t), same noise draws
    calls = []
    get_sampler("ddim")(ideal_eps, torch.zeros(2, 8, dtype=torch.float64), time_grid(T, 5), SCHEDULE,
                        noise=lambda: calls.append(1) or torch.ones(2, 8, dtype=torch.float64))
    assert calls == []  # eta = 0 never draws noise


def exact_ode(z, t, s, schedule=SCHEDULE):
    """The probability-flow ODE's exact solution for Gaussian data: z_t's standardised offset from alpha_t mu is
    kept, so z_s = alpha_s mu + sqrt(alpha_s^2 v + sigma_s^2) (z_t - alpha_t mu) / sqrt(alpha_t^2 v + sigma_t^2)."""
    scale = lambda g: torch.sqrt(alpha(g) ** 2 * VAR + sigma(g) ** 2)  # noqa: E731
    a_t, a_s = alpha(schedule[t]), alpha(schedule[s])
    return a_s * MU + scale(schedule[s]) * (z - a_t * MU) / scale(schedule[t])


def test_ddim_solves_the_flow_ode_to_first_order_and_dpmpp2m_is_several_times_closer():
    z_T = torch.randn(256, len(MU), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    truth = exact_ode(z_T, T, 0)
    errors = {name: [float((get_sampler(name)(ideal_eps, z_T, time_grid(T, steps), SCHEDULE, None) - truth)
                           .abs().max()) for steps in (10, 20, 40)] for name in ("ddim", "dpmpp2m")}
    ddim, dpm = errors["ddim"], errors["dpmpp2m"]
    assert all(1.7 < a / b < 2.3 for a, b in zip(ddim, ddim[1:])), ddim  # halving the step halves the error
    # second order in the middle; its first-order last step into t = 0 sets a floor (measured: 4.5-15x closer)
    assert all(d < c / 4 for c, d in zip(ddim, dpm)), errors


def test_final_step_inverts_the_forward_process_and_adds_sigma0_over_alpha0_noise():
    x = torch.randn(6, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    eps = torch.randn(6, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    g0 = SCHEDULE[0]
    z0 = alpha(g0) * x + sigma(g0) * eps
    assert torch.allclose(final_step(lambda z, t: eps, z0, SCHEDULE), x, atol=1e-12)
    noisy = final_step(lambda z, t: eps, z0, SCHEDULE, noise=lambda: torch.ones_like(z0))
    assert torch.allclose(noisy - x, (sigma(g0) / alpha(g0)).expand_as(x), atol=1e-12)


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


def test_time_grid():
    assert time_grid(1000) == list(range(1000, -1, -1))
    assert time_grid(1000, 4) == [1000, 750, 500, 250, 0]
    grid = time_grid(1000, 300)
    assert len(grid) == 301 and all(a > b for a, b in zip(grid, grid[1:]))
    with pytest.raises(ConfigError, match="1..1000"):  # a user's --steps: one line on the command line
        time_grid(1000, 1001)


def test_unknown_sampler_or_option_lists_the_choices():
    with pytest.raises(ConfigError, match="ancestral, ddim, dpmpp2m, langevin"):
        check_sampler("nonsense")
    with pytest.raises(ConfigError, match="options: eta"):
        check_sampler_options("ddim", {"snr": 0.1})
    assert network_calls("langevin", 10, corrector_steps=3) == 40
    with pytest.raises(ConfigError, match="eta"):
        draw("ddim", {"eta": 2.0}, 5)


@pytest.mark.parametrize("source,target", list(itertools.permutations(PARAMETRISATIONS, 2)))
def test_parametrisations_round_trip(source, target):
    """Every pair, float64, random alpha^2 + sigma^2 = 1: converting there and back is the identity, and every
    kind agrees with its definition from (x0, eps)."""
    gen = torch.Generator().manual_seed(0)
    a2 = torch.rand(16, 1, generator=gen, dtype=torch.float64) * 0.98 + 0.01
    a, s = a2.sqrt(), (1 - a2).sqrt()
    x0, eps = (torch.randn(16, 5, generator=gen, dtype=torch.float64) for _ in range(2))
    z = a * x0 + s * eps
    truth = {"eps": eps, "x0": x0, "v": a * eps - s * x0, "score": -eps / s}  # Salimans & Ho 2022 eq. for v
    value = truth[source]
    assert torch.allclose(convert(value, source, target, z, a, s), truth[target], rtol=1e-9, atol=1e-9)
    back = convert(convert(value, source, target, z, a, s), target, source, z, a, s)
    assert torch.allclose(back, value, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("kind", PARAMETRISATIONS)
def test_a_network_of_any_parametrisation_samples_like_the_eps_network(kind):
    def network(z, t):  # the ideal denoiser, expressed in `kind`
        g = SCHEDULE[t]
        return convert(ideal_eps(z, t), "eps", kind, z, alpha(g), sigma(g))

    model = eps_model(network, kind, SCHEDULE)
    assert torch.allclose(draw("ddim", {}, 10, model=model), draw("ddim", {}, 10), atol=1e-8)
    with pytest.raises(ConfigError, match="eps, x0, v, score"):
        eps_model(network, "noise", SCHEDULE)
