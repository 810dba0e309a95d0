"""Variance-preserving noise schedules as pure functions of gamma = -log SNR.

q(z_t | x) = N(alpha_t x, sigma_t^2 I) with alpha_t^2 + sigma_t^2 = 1 and
    alpha_t^2 = sigmoid(-gamma_t),  sigma_t^2 = sigmoid(gamma_t),  SNR_t = alpha_t^2 / sigma_t^2 = exp(-gamma_t)
(Kingma et al., "Variational Diffusion Models", 2021; Hoogeboom et al., EDM, 2022, sec. 2-3).
Facts follow ehoogeboom/e3_diffusion_for_molecules, equivariant_diffusion/en_diffusion.py
(polynomial_schedule, clip_noise_schedule, PredefinedNoiseSchedule, sigma_and_alpha_t_given_s).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


def clip_noise_schedule(alphas2: np.ndarray, clip_value: float = 0.001) -> np.ndarray:
    """Clip the per-step ratio alpha_t^2 / alpha_{t-1}^2 from below (en_diffusion.py: it helps sampling stability)."""
    alphas2 = np.concatenate([np.ones(1), alphas2])
    step = np.clip(alphas2[1:] / alphas2[:-1], clip_value, 1.0)
    return np.cumprod(step)


def polynomial_alphas2(timesteps: int, precision: float = 1e-4, power: float = 2.0) -> np.ndarray:
    """alpha^2 at t = 0, 1/T, ..., 1: (1 - (t)^power)^2, clipped, squeezed into [precision, 1 - precision].

    As en_diffusion.py polynomial_schedule: the grid is linspace(0, T+1, T+1) / (T+1), so alpha^2 at t = 1
    is not exactly 0 before the squeeze; EDM's QM9 run uses power 2 ("polynomial_2") and precision 1e-5.
    """
    steps = timesteps + 1
    x = np.linspace(0, steps, steps)
    alphas2 = (1 - np.power(x / steps, power)) ** 2
    alphas2 = clip_noise_schedule(alphas2, clip_value=0.001)
    return (1 - 2 * precision) * alphas2 + precision


def cosine_alphas2(timesteps: int, s: float = 0.008) -> np.ndarray:
    """alpha^2 of the cosine schedule (Nichol & Dhariwal 2021), as en_diffusion.py cosine_beta_schedule."""
    steps = timesteps + 2
    x = np.linspace(0, steps, steps)
    ac = np.cos(((x / steps) + s) / (1 + s) * np.pi * 0.5) ** 2
    ac = ac / ac[0]
    betas = np.clip(1 - ac[1:] / ac[:-1], 0, 0.999)
    return np.cumprod(1.0 - betas)


def gamma_table(schedule: str, timesteps: int, precision: float = 1e-4) -> Tensor:
    """gamma = -log(alpha^2 / sigma^2) at t = 0, 1/T, ..., 1: a float64 tensor [T + 1], increasing.

    `schedule` is "polynomial_<power>" (e.g. "polynomial_2") or "cosine".
    """
    if schedule.startswith("polynomial_"):
        alphas2 = polynomial_alphas2(timesteps, precision, float(schedule.split("_", 1)[1]))
    elif schedule == "cosine":
        alphas2 = cosine_alphas2(timesteps)
    else:
        raise ValueError(f"unknown noise schedule {schedule!r}; expected 'polynomial_<power>' or 'cosine'")
    return torch.from_numpy(np.log(1 - alphas2) - np.log(alphas2))


def alpha(gamma: Tensor) -> Tensor:
    return torch.sqrt(torch.sigmoid(-gamma))


def sigma(gamma: Tensor) -> Tensor:
    return torch.sqrt(torch.sigmoid(gamma))


def snr(gamma: Tensor) -> Tensor:
    return torch.exp(-gamma)


def alpha_sigma_t_given_s(gamma_t: Tensor, gamma_s: Tensor) -> tuple[Tensor, Tensor]:
    """q(z_t | z_s) = N(alpha_{t|s} z_s, sigma_{t|s}^2): returns (alpha_{t|s}, sigma^2_{t|s}) for s < t.

    alpha_{t|s} = alpha_t / alpha_s and sigma^2_{t|s} = sigma_t^2 - alpha_{t|s}^2 sigma_s^2, computed stably
    as -expm1(softplus(gamma_s) - softplus(gamma_t)) (en_diffusion.py sigma_and_alpha_t_given_s).
    """
    sigma2 = -torch.expm1(F.softplus(gamma_s) - F.softplus(gamma_t))
    alpha_ts = torch.exp(0.5 * (F.logsigmoid(-gamma_t) - F.logsigmoid(-gamma_s)))
    return alpha_ts, sigma2
