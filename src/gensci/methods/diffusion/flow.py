"""Flow matching for continuous and categorical variables, as pure functions (time t = 0 noise, t = 1 data).

Continuous (Lipman et al. 2023, conditional flow matching with a linear path; SemlaFlow, Irwin et al. 2024):
    x_t = (1 - t) x_0 + t x_1 + sigma eps,    the network predicts x_1;  v(x_t) = (x1_hat - x_t) / (1 - t)
Categorical, "uniform-sample" discrete flow matching (Campbell et al. 2024, "Generative flows on discrete state
spaces"; as semla-flow data/interpolate.py `_interpolate_mol` ("unmask") and models/fm.py
`Integrator._uniform_sample_step`): each entry is the data class with probability t, else its prior sample; the
network predicts p(x_1 | x_t) and a step of length dt jumps to class j != x_t with probability
    dt [ (1 + 2 eta (K - 1) t) / (1 - t) p(j) + eta p(x_t) ]
(eta > 0 adds the detailed-balance noise of the uniform prior; semla-flow's default eta = 1).
Shapes: any leading dimensions; categoricals are class indices [...] or probabilities [..., K].
"""

from __future__ import annotations

import torch
from torch import Tensor

from gensci.ops.random import sample_categorical_rows, sample_uniform

EPS = 1e-5  # semla-flow models/fm.py Integrator(eps=1e-5): times are clamped to [EPS, 1 - EPS] in the jump rates


def sample_time(n: int, alpha: float = 2.0, beta: float = 1.0, device=None) -> Tensor:
    """[n] training times t ~ Beta(alpha, beta) (SemlaFlow: time_alpha 2, time_beta 1, semla-flow train.py
    DEFAULT_TIME_ALPHA/BETA: more training near the data end t -> 1). Draws from torch's global generator."""
    return torch.distributions.Beta(torch.tensor(float(alpha)), torch.tensor(float(beta))).sample((n,)).to(device)


def interpolate_gaussian(x0: Tensor, x1: Tensor, t: Tensor, noise: Tensor | None = None, sigma: float = 0.0) -> Tensor:
    """x_t = (1 - t) x0 + t x1 + sigma noise; t broadcastable to x0 (e.g. [B, 1, 1])."""
    xt = (1 - t) * x0 + t * x1
    return xt if noise is None or sigma == 0 else xt + sigma * noise


def interpolate_categorical(x0: Tensor, x1: Tensor, t: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Class indices: x1 where a uniform draw is below t, else x0 (t broadcastable to x0)."""
    keep = sample_uniform(tuple(x1.shape), generator, x1.device) < t
    return torch.where(keep, x1, x0)


def time_grid(steps: int, device=None) -> Tensor:
    """[steps + 1] evenly spaced times 0 = t_0 < ... < t_steps = 1 of an Euler integrator (steps network calls)."""
    if steps < 1:
        raise ValueError(f"sampling steps must be at least 1, got {steps}")
    return torch.linspace(0.0, 1.0, steps + 1, dtype=torch.float64, device=device)


def euler_step_gaussian(xt: Tensor, x1_hat: Tensor, t: Tensor, dt: float) -> Tensor:
    """x_{t + dt} = x_t + dt (x1_hat - x_t) / (1 - t): the velocity of the linear path towards the prediction."""
    return xt + dt * (x1_hat - xt) / (1 - t)


def jump_probabilities(xt: Tensor, p1: Tensor, t: Tensor, dt: float, eta: float = 0.0) -> Tensor:
    """[..., K] probabilities of the class after one step from xt [...] (indices) given p1 = p(x_1 | x_t) [..., K].

    t: broadcastable to xt (e.g. [B, 1] or [B, 1, 1]). The noise eta is switched off on the last step
    (t + dt >= 1), as semla-flow's Integrator; where the jump probabilities exceed 1 in total (large dt x rate)
    they are normalised, as semla-flow's torch.distributions.Categorical does."""
    k = p1.shape[-1]
    t = t.to(p1.dtype).clamp(EPS, 1 - EPS).unsqueeze(-1)
    noise = torch.where(t + dt < 1.0, torch.full_like(t, eta), torch.zeros_like(t))
    current = xt.unsqueeze(-1)
    rate = dt * ((1 + 2 * noise * (k - 1) * t) / (1 - t) * p1 + noise * p1.gather(-1, current))
    probs = rate.clamp(max=1.0).scatter(-1, current, 0.0)
    stay = (1.0 - probs.sum(-1, keepdim=True)).clamp(min=0.0)
    probs = probs.scatter(-1, current, stay)
    return probs / probs.sum(-1, keepdim=True)


def categorical_step(xt: Tensor, p1: Tensor, t: Tensor, dt: float, eta: float = 0.0,
                     generator: torch.Generator | None = None) -> Tensor:
    """One discrete flow matching step: class indices [...] at t + dt."""
    return sample_categorical_rows(jump_probabilities(xt, p1, t, dt, eta), generator)
