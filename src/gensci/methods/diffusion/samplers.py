"""Samplers for variance-preserving diffusion, chosen by name: plain functions with one signature.

As k-diffusion (crowsonkb/k-diffusion, k_diffusion/sampling.py): the network, its parametrisation
(parametrisations.py) and the sampler are three separate things, and every sampler is

    sample_<name>(model, z, times, schedule, noise, project=None, callback=None, *, <options>) -> z at times[-1]

    model(z_t, t) -> eps_hat [like z]; t: an int index into `schedule` (wrap an x0/v/score network with
                  parametrisations.eps_model)
    z             [B, ...] the state at times[0] (pure noise N(0, I) when times[0] = T)
    times         descending ints, e.g. time_grid(T, steps) = [T, ..., 0]
    schedule      gamma table [T + 1] (float64; schedules.gamma_table)
    noise()       a fresh standard normal draw shaped like z, on the model's subspace (e.g. CoM-free)
    project(z)    z back onto that subspace after each update (None: identity)
    callback(k, s, z_s) after step k, now at time s
    options       keyword-only, from the method's config (`sampler_options`); see each sampler

A sampler calls the network `calls_per_step(**options)` times per step (network_calls). Then the final step
(`final_step`: the data from z_0, one more call) maps z_0 to the data. A new sampler is one function and one
`@register_sampler` line; tests/methods/test_samplers.py runs the ideal-denoiser test on every registered one.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import Tensor

from gensci.errors import ConfigError
from gensci.methods.diffusion.schedules import alpha, alpha_sigma_t_given_s, sigma

EpsModel = Callable[[Tensor, int], Tensor]


@dataclass(frozen=True)
class Sampler:
    fn: Callable[..., Tensor]
    calls_per_step: Callable[..., int]

    def options(self) -> dict[str, object]:
        """The sampler's keyword-only options with their defaults."""
        return {p.name: p.default for p in inspect.signature(self.fn).parameters.values()
                if p.kind is inspect.Parameter.KEYWORD_ONLY}


SAMPLERS: dict[str, Sampler] = {}


def register_sampler(name: str, calls_per_step: Callable[..., int] = lambda **options: 1):
    """Decorator: add a sampler function to SAMPLERS under `name`; calls_per_step(**all options) -> network
    calls per step (default 1)."""

    def add(fn):
        SAMPLERS[name] = Sampler(fn, calls_per_step)
        return fn

    return add


def check_sampler(name: str) -> str:
    """`name` if it is a registered sampler, else a ConfigError listing the choices."""
    if name not in SAMPLERS:
        raise ConfigError(f"unknown sampler {name!r}; choices: {', '.join(SAMPLERS)}")
    return name


def check_sampler_options(name: str, options: dict) -> dict:
    """`options` if each is a keyword option of sampler `name`, else a ConfigError naming the valid ones."""
    valid = SAMPLERS[check_sampler(name)].options()
    for key in options:
        if key not in valid:
            raise ConfigError(f"sampler {name!r} has no option {key!r}; options: {', '.join(valid) or 'none'}")
    return options


def get_sampler(name: str) -> Callable[..., Tensor]:
    return SAMPLERS[check_sampler(name)].fn


def network_calls(name: str, steps: int, **options) -> int:
    """How often sampler `name` calls the network over `steps` steps (without the final step)."""
    entry = SAMPLERS[check_sampler(name)]
    return steps * entry.calls_per_step(**(entry.options() | check_sampler_options(name, options)))


def time_grid(timesteps: int, steps: int | None = None) -> list[int]:
    """Integer times T = t_S > ... > t_0 = 0 of a sampler with `steps` reverse steps (None: all T).

    Evenly strided and rounded to the training grid, so every step is a pair s < t of trained times.
    """
    steps = timesteps if steps is None else int(steps)
    if not 1 <= steps <= timesteps:
        raise ConfigError(f"sampling steps must be in 1..{timesteps} (the trained timesteps), got {steps}")
    return [round(k * timesteps / steps) for k in range(steps, -1, -1)]


def frame_indices(n_states: int, n_frames: int) -> list[int]:
    """Indices of at most n_frames states evenly spread over n_states (first and last included): a chain's frames."""
    return sorted({round(k * (n_states - 1) / max(n_frames - 1, 1)) for k in range(n_frames)})


def _steps(times: Sequence[int]):
    return enumerate(zip(times[:-1], times[1:]))


def _after(z: Tensor, k: int, s: int, project, callback) -> Tensor:
    if project is not None:
        z = project(z)
    if callback is not None:
        callback(k, s, z)
    return z


# ---- ancestral (DDPM) -------------------------------------------------------------------------------
def reverse_step(z_t: Tensor, eps: Tensor, gamma_t: Tensor, gamma_s: Tensor, noise: Tensor) -> Tensor:
    """Draw z_s ~ p(z_s | z_t) = q(z_s | z_t, x = x_hat(z_t, eps)) given the predicted noise eps, for s < t:

        mu = z_t / alpha_{t|s} - sigma^2_{t|s} / (alpha_{t|s} sigma_t) eps,   std = sigma_{t|s} sigma_s / sigma_t

    (Kingma et al. 2021, VDM appendix A; en_diffusion.py sample_p_zs_given_zt). gamma_t, gamma_s: scalars or
    tensors broadcastable to z_t; noise: a standard normal draw like z_t.
    """
    alpha_ts, sigma2_ts = alpha_sigma_t_given_s(gamma_t, gamma_s)
    sigma_t, sigma_s = sigma(gamma_t), sigma(gamma_s)
    mu = z_t / alpha_ts - (sigma2_ts / alpha_ts / sigma_t) * eps
    std = torch.sqrt(sigma2_ts) * sigma_s / sigma_t
    return mu + std * noise


@register_sampler("ancestral")
def sample_ancestral(model: EpsModel, z: Tensor, times: Sequence[int], schedule: Tensor, noise: Callable[[], Tensor],
                     project=None, callback=None) -> Tensor:
    """Ancestral sampling (Ho et al. 2020, Algorithm 2; EDM's sampler) on a possibly strided grid: z_s ~
    p(z_s | z_t) for each (t, s) of `times` (reverse_step). One network call per step."""
    table = schedule.to(device=z.device)
    for k, (t, s) in _steps(times):
        z = reverse_step(z, model(z, t), table[t], table[s], noise()).to(z.dtype)
        z = _after(z, k, s, project, callback)
    return z


# ---- DDIM ---------------------------------------------------------------------------------------------
def ddim_step(z_t: Tensor, eps: Tensor, gamma_t: Tensor, gamma_s: Tensor, eta: float,
              noise: Callable[[], Tensor]) -> Tensor:
    """Song, Meng & Ermon 2021, "Denoising Diffusion Implicit Models", eq. 12 (alpha-bar = alpha^2):

        z_s = alpha_s x_hat + sqrt(sigma_s^2 - c^2) eps + c noise,   x_hat = (z_t - sigma_t eps) / alpha_t,
        c = eta sigma_{t|s} sigma_s / sigma_t                        (eq. 16)

    eta = 1: c is ancestral sampling's std and the mean equals its mean (the same p(z_s | z_t));
    eta = 0: deterministic (no noise drawn).
    """
    _, sigma2_ts = alpha_sigma_t_given_s(gamma_t, gamma_s)
    sigma_t, sigma_s = sigma(gamma_t), sigma(gamma_s)
    x_hat = (z_t - sigma_t * eps) / alpha(gamma_t)
    c = eta * torch.sqrt(sigma2_ts) * sigma_s / sigma_t
    z_s = alpha(gamma_s) * x_hat + torch.sqrt((sigma_s**2 - c**2).clamp(min=0)) * eps
    return z_s + c * noise() if eta > 0 else z_s


@register_sampler("ddim")
def sample_ddim(model: EpsModel, z: Tensor, times: Sequence[int], schedule: Tensor, noise: Callable[[], Tensor],
                project=None, callback=None, *, eta: float = 0.0) -> Tensor:
    """DDIM (ddim_step) along `times`; eta in [0, 1] (0: deterministic, the default of the paper's fast
    samplers, Table 1; 1: ancestral's variance). One network call per step."""
    if not 0 <= eta <= 1:
        raise ConfigError(f"ddim: eta must be in [0, 1], got {eta}")
    table = schedule.to(device=z.device)
    for k, (t, s) in _steps(times):
        z = ddim_step(z, model(z, t), table[t], table[s], eta, noise).to(z.dtype)
        z = _after(z, k, s, project, callback)
    return z


# ---- DPM-Solver++(2M) ------------------------------------------------------------------------------------
@register_sampler("dpmpp2m")
def sample_dpmpp2m(model: EpsModel, z: Tensor, times: Sequence[int], schedule: Tensor, noise: Callable[[], Tensor],
                   project=None, callback=None) -> Tensor:
    """DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++", Algorithm 2): the probability-flow ODE that DDIM
    (eta = 0) solves to first order, solved to second order in the log-SNR lambda = log(alpha / sigma) by reusing
    the previous step's clean-data estimate (multistep: one network call per step, as DDIM):

        z_s = (sigma_s / sigma_t) z_t - alpha_s (e^-h - 1) D,   h = lambda_s - lambda_t,
        D = (1 + 1 / 2r) x_hat_t - (1 / 2r) x_hat_prev,         r = h_prev / h

    D = x_hat_t (first order: exactly DDIM's step) on the first step and on the last one into t = 0, whose h is
    several times its predecessor's, so that extrapolating would amplify x_hat's error (the reference's
    `lower_order_final`, LuChengTHU/dpm-solver dpm_solver_pytorch.py). Deterministic; on Gaussian data with the
    ideal denoiser 4.5-15x closer to the exact ODE solution than DDIM at 10-40 steps (tests/methods/test_samplers.py).
    """
    table = schedule.to(device=z.device)
    x_prev = h_prev = None
    for k, (t, s) in _steps(times):
        a_t, s_t, a_s, s_s = alpha(table[t]), sigma(table[t]), alpha(table[s]), sigma(table[s])
        x_hat = (z - s_t * model(z, t)) / a_t
        h = 0.5 * (table[t] - table[s])  # lambda = log(alpha / sigma) = -gamma / 2 (schedules.alpha, sigma)
        first_order = x_prev is None or k == len(times) - 2
        d = x_hat if first_order else x_hat + (x_hat - x_prev) * h / (2 * h_prev)
        z = ((s_s / s_t) * z - a_s * torch.expm1(-h) * d).to(z.dtype)
        z = _after(z, k, s, project, callback)
        x_prev, h_prev = x_hat, h
    return z


# ---- predictor-corrector with Langevin dynamics ----------------------------------------------------------
def langevin_step(z: Tensor, eps: Tensor, sigma_t: Tensor, alpha_step2: Tensor, snr: float, noise: Tensor) -> Tensor:
    """One Langevin corrector step at time t with score = -eps / sigma_t (Song et al. 2021, "Score-Based
    Generative Modeling through SDEs", Algorithm 5):

        step = 2 alpha_i (snr ||noise|| / ||score||)^2,   z + step score + sqrt(2 step) noise

    alpha_i: the per-step alpha^2 of the predictor's step (1 - beta_i on DDPM's grid). The norms are per-sample
    norms averaged over the batch, as the reference code (yang-song/score_sde_pytorch sampling.py
    LangevinCorrector), not Algorithm 5's per-sample norms: in few dimensions a sample near the mode has a
    tiny ||score|| and gets a huge step (with the ideal denoiser on 8-dimensional Gaussian data, per-sample
    norms gave +60 % variance after 1000 steps, batch-averaged ones +2 %).
    """
    score = -eps / sigma_t
    score_norm = score.flatten(1).norm(dim=1).mean().clamp(min=torch.finfo(z.dtype).tiny)
    ratio = noise.flatten(1).norm(dim=1).mean() / score_norm
    step = (2 * alpha_step2 * (snr * ratio) ** 2).to(z.dtype)
    return z + step * score + torch.sqrt(2 * step) * noise


@register_sampler("langevin", calls_per_step=lambda corrector_steps, **_: 1 + corrector_steps)
def sample_langevin(model: EpsModel, z: Tensor, times: Sequence[int], schedule: Tensor, noise: Callable[[], Tensor],
                    project=None, callback=None, *, snr: float = 0.16, corrector_steps: int = 1) -> Tensor:
    """Predictor-corrector sampling (Song et al. 2021, "Score-Based Generative Modeling through SDEs", sec. 4.2,
    Algorithm 3 for VP with the ancestral predictor of Table 1): at each step, `corrector_steps` Langevin steps
    at t (langevin_step) then one ancestral step t -> s, in the order of the reference's get_pc_sampler
    (yang-song/score_sde_pytorch sampling.py). snr 0.16 and one corrector step are its defaults
    (configs/default_cifar10_configs.py: sampling.snr, sampling.n_steps_each). 1 + corrector_steps calls per step.
    """
    if snr <= 0 or corrector_steps < 0 or int(corrector_steps) != corrector_steps:
        raise ConfigError(f"langevin: needs snr > 0 and an integer corrector_steps >= 0, got {snr}, {corrector_steps}")
    table = schedule.to(device=z.device)
    for k, (t, s) in _steps(times):
        alpha_step2 = alpha_sigma_t_given_s(table[t], table[s])[0] ** 2
        for _ in range(int(corrector_steps)):
            z = langevin_step(z, model(z, t), sigma(table[t]), alpha_step2, snr, noise()).to(z.dtype)
            z = project(z) if project is not None else z
        z = reverse_step(z, model(z, t), table[t], table[s], noise()).to(z.dtype)
        z = _after(z, k, s, project, callback)
    return z


# ---- from z_0 to the data --------------------------------------------------------------------------------
def final_step(model: EpsModel, z: Tensor, schedule: Tensor, noise: Callable[[], Tensor] | None = None) -> Tensor:
    """The data from z_0 (t = 0), one network call: x_hat = (z_0 - sigma_0 eps_hat) / alpha_0, plus
    (sigma_0 / alpha_0) noise() when `noise` is given.

    With noise: a draw from p(x | z_0) = N(x_hat, sigma_0^2 / alpha_0^2), EDM's final step for the positions
    (en_diffusion.py sample_p_xh_given_z0); without: its mean, DDPM's noiseless last step (Ho et al. 2020,
    Algorithm 2, z = 0 at t = 1). schedule: gamma table [T + 1]; z: [B, ...].
    """
    g0 = schedule[0].to(z.device)
    x = (z - sigma(g0) * model(z, 0)) / alpha(g0)
    if noise is not None:
        x = x + torch.exp(0.5 * g0) * noise()
    return x.to(z.dtype)
