"""Variance-preserving noise schedules, chosen by name, as pure functions of gamma = -log SNR.

q(z_t | x) = N(alpha_t x, sigma_t^2 I) with alpha_t^2 + sigma_t^2 = 1 and
    alpha_t^2 = sigmoid(-gamma_t),  sigma_t^2 = sigmoid(gamma_t),  SNR_t = alpha_t^2 / sigma_t^2 = exp(-gamma_t)
(Kingma et al., "Variational Diffusion Models", 2021; Hoogeboom et al., EDM, 2022, sec. 2-3).
A schedule is a float64 table gamma [T + 1] at t = 0, 1/T, ..., 1 (`gamma_table(name, T, precision)`);
index 0 is the least noisy latent z_0, from which the final step (samplers.final_step) predicts the data.
Names (SCHEDULES): "polynomial_<power>" and "cosine" as EDM (ehoogeboom/e3_diffusion_for_molecules,
equivariant_diffusion/en_diffusion.py: polynomial_schedule, clip_noise_schedule, cosine_beta_schedule,
sigma_and_alpha_t_given_s), "cosine_shifted_<factor>" (cosine with its SNR divided by factor^2), "linear" as
DDPM. A new schedule is one function alphas2(T, precision) and one line in SCHEDULES.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from gensci.errors import ConfigError


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


def linear_alphas2(timesteps: int) -> np.ndarray:
    """alpha^2 = prod_i (1 - beta_i) of DDPM's linear betas (Ho et al. 2020, sec. 4: beta from 1e-4 to 0.02 over
    1000 steps), for T + 1 steps scaled by 1000 / (T + 1) so the schedule barely depends on T
    (openai/improved-diffusion, gaussian_diffusion.py get_named_beta_schedule "linear"), betas capped at 0.999.

    Index k holds DDPM's x_{k+1}: with timesteps = 999 the table is exactly DDPM's 1000-step chain and the
    final step from z_0 is DDPM's p(x_0 | x_1).
    """
    scale = 1000 / (timesteps + 1)
    betas = np.minimum(np.linspace(scale * 1e-4, scale * 0.02, timesteps + 1), 0.999)
    return np.cumprod(1.0 - betas)


def shifted_alphas2(alphas2: np.ndarray, factor: float) -> np.ndarray:
    """alpha^2 of a schedule whose log-SNR is lowered by 2 ln(factor) at every t: SNR / factor^2 (Hoogeboom, Heek
    & Salimans 2023, "simple diffusion", sec. 3.1: a mean over factor x factor pixels then has the SNR a single
    pixel had, so global structure is decided as slowly as local structure was)."""
    return alphas2 / (alphas2 + factor**2 * (1 - alphas2))


# name -> alphas2(timesteps, precision, *parameter): [T + 1]; a "<...>" in a name is a float parameter
SCHEDULES: dict[str, Callable[..., np.ndarray]] = {
    "polynomial_<power>": lambda T, precision, power: polynomial_alphas2(T, precision, power),
    "cosine": lambda T, precision: cosine_alphas2(T),
    "cosine_shifted_<factor>": lambda T, precision, factor: shifted_alphas2(cosine_alphas2(T), factor),
    "linear": lambda T, precision: linear_alphas2(T),
}


def _parse(name: str) -> tuple[Callable[..., np.ndarray], tuple[float, ...]] | None:
    for key, fn in SCHEDULES.items():
        prefix = key.split("<", 1)[0]
        if key == name:
            return fn, ()
        if "<" in key and name.startswith(prefix):
            try:
                value = float(name[len(prefix):])
            except ValueError:
                return None
            return (fn, (value,)) if 0 < value < float("inf") else None
    return None


def check_schedule(name: str) -> str:
    """`name` if it names a registered schedule (e.g. "polynomial_2"), else a ConfigError listing the choices."""
    if not isinstance(name, str) or _parse(name) is None:
        raise ConfigError(f"unknown noise schedule {name!r}; choices: {', '.join(SCHEDULES)} "
                          "(power > 0, e.g. polynomial_2)")
    return name


def gamma_table(schedule: str, timesteps: int, precision: float = 1e-4) -> Tensor:
    """gamma = -log(alpha^2 / sigma^2) at t = 0, 1/T, ..., 1: a float64 tensor [T + 1], increasing.

    `schedule`: a name from SCHEDULES ("polynomial_<power>" e.g. "polynomial_2", "cosine", "linear");
    `precision` is used by the polynomial schedules only.
    """
    fn, args = _parse(check_schedule(schedule))
    alphas2 = fn(timesteps, precision, *args)
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
