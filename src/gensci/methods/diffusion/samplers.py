"""Ancestral sampling for variance-preserving diffusion in the eps-parametrisation, as pure functions.

The reverse step p(z_s | z_t) = q(z_s | z_t, x = x_hat(z_t, eps_hat)) is defined for any s < t, so the
same function runs all T steps or a strided subset (fewer network calls for lower quality).
Formulas: ehoogeboom/e3_diffusion_for_molecules, equivariant_diffusion/en_diffusion.py
(sample_p_zs_given_zt); Kingma et al., "Variational Diffusion Models" (2021), appendix A.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor

from gensci.methods.diffusion.schedules import alpha_sigma_t_given_s, sigma


def time_grid(timesteps: int, steps: int | None = None) -> list[int]:
    """Integer times T = t_S > ... > t_0 = 0 of a sampler with `steps` reverse steps (None: all T).

    Evenly strided and rounded to the training grid, so every step is a pair s < t of trained times.
    """
    steps = timesteps if steps is None else int(steps)
    if not 1 <= steps <= timesteps:
        raise ValueError(f"sampling steps must be in 1..{timesteps} (the trained timesteps), got {steps}")
    return [round(k * timesteps / steps) for k in range(steps, -1, -1)]


def reverse_step(z_t: Tensor, eps: Tensor, gamma_t: Tensor, gamma_s: Tensor, noise: Tensor) -> Tensor:
    """Draw z_s ~ p(z_s | z_t) given the predicted noise eps, for s < t:

        mu = z_t / alpha_{t|s} - sigma^2_{t|s} / (alpha_{t|s} sigma_t) eps,   std = sigma_{t|s} sigma_s / sigma_t

    gamma_t, gamma_s: scalars or tensors broadcastable to z_t; noise: a standard normal draw like z_t.
    """
    alpha_ts, sigma2_ts = alpha_sigma_t_given_s(gamma_t, gamma_s)
    sigma_t, sigma_s = sigma(gamma_t), sigma(gamma_s)
    mu = z_t / alpha_ts - (sigma2_ts / alpha_ts / sigma_t) * eps
    std = torch.sqrt(sigma2_ts) * sigma_s / sigma_t
    return mu + std * noise


def sample_ancestral(
    eps_model: Callable[[Tensor, int], Tensor],
    z: Tensor,
    times: Sequence[int],
    gamma: Tensor,
    noise: Callable[[], Tensor],
    project: Callable[[Tensor], Tensor] | None = None,
    callback: Callable[[int, int, Tensor], None] | None = None,
) -> Tensor:
    """Run reverse steps along integer `times` (descending, e.g. time_grid(T, S)); returns z at times[-1].

    eps_model(z, t) -> predicted noise (called once per step: len(times) - 1 calls); gamma: [T + 1] table;
    noise() -> a fresh standard normal draw shaped like z; project(z) -> z back on the model's subspace
    (e.g. zero centre of mass); callback(k, s, z_s) after step k.
    """
    table = gamma.to(device=z.device)
    for k, (t, s) in enumerate(zip(times[:-1], times[1:])):
        eps = eps_model(z, t)
        z = reverse_step(z, eps, table[t], table[s], noise()).to(z.dtype)
        if project is not None:
            z = project(z)
        if callback is not None:
            callback(k, s, z)
    return z
