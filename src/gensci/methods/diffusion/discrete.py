"""Discrete (categorical) diffusion with marginal transitions, generic over the class dimension K.

Austin et al. 2021 (D3PM); DiGress (Vignac et al. 2023, sec. 4: marginal transitions); MiDi (Vignac et al. 2023,
sec. 4.1-4.2). Reference code cvignac/MiDi at 775b731, midi/diffusion/noise_model.py (MarginalUniformTransition,
get_Qt_bar, sample_zs_from_zt) and diffusion_utils.py (cosine_beta_schedule_discrete,
compute_batched_over0_posterior_distribution). With marginals m [K] (the training frequencies of the classes):

    Q_t|s = a_t|s I + (1 - a_t|s) 1 m^T,   Qbar_t = abar_t I + (1 - abar_t) 1 m^T,   a_t|s = abar_t / abar_s
    q(x_t | x_0) = x_0 Qbar_t,   q(x_s | x_t, x_0) = (x_t Q_t|s^T) * (x_0 Qbar_s) / (x_0 Qbar_t x_t^T)
    p(x_s | x_t) = sum_c p(x_0 = c | x_t) q(x_s | x_t, x_0 = c)          (the model's posterior, x_0-prediction)

m is the stationary distribution of every Q (m^T Q = m^T), so the prior at t = 1 is m. Unlike MiDi's code, which
uses the one-step matrix Q_t also when it skips steps, Q_t|s is exact for any s < t, so a strided sampler
(fewer steps than training timesteps) samples from the right posterior.

Also here: MiDi's per-modality cosine schedule (sec. 4.2, "adaptive noise schedule": abar(t) with an exponent nu
per modality; nu = 2.5 positions, 1.5 bonds, 1 atom types and charges).
Shapes: x_t, x_0 one-hot or probabilities [..., K]; abar broadcastable to [...] (e.g. [B, 1] for nodes).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from gensci.ops.random import sample_categorical_rows


def cosine_alpha_bar(timesteps: int, nu: float = 1.0, s: float = 0.008) -> Tensor:
    """abar at t = 0, 1, ..., T: float64 [T + 1], decreasing from ~1 to ~0.

    As diffusion_utils.cosine_beta_schedule_discrete + NoiseModel.__init__ (MiDi): f(x) = cos^2(pi/2 (x^nu + s) /
    (1 + s)) on the T + 2 points x = linspace(0, T + 2, T + 2) / (T + 2) (that is x_k = k / (T + 1), k = 0..T+1, as
    the reference writes it), betas = 1 - f(x_k+1)/f(x_k) clamped to <= 0.9999, abar = cumprod(1 - beta)."""
    steps = timesteps + 2
    x = np.linspace(0, steps, steps) / steps
    f = np.cos(0.5 * np.pi * ((x**nu) + s) / (1 + s)) ** 2
    betas = np.clip(1 - f[1:] / f[:-1], 0, 0.9999)
    return torch.from_numpy(np.cumprod(1 - betas))


def gaussian_gamma(alpha_bar: Tensor) -> Tensor:
    """gamma = -log SNR of MiDi's positions: the Gaussian mean coefficient is abar itself, sigma^2 = 1 - abar^2
    (NoiseModel: _sigma2_bar = -expm1(2 log abar), _gamma = log(-expm1(2 log abar)) - 2 log abar). With gamma,
    gensci.methods.diffusion.schedules.alpha/sigma give (abar, sqrt(1 - abar^2))."""
    log_a = torch.log(alpha_bar)
    return torch.log(-torch.expm1(2 * log_a)) - 2 * log_a


def transition_matrix(alpha: Tensor, marginals: Tensor) -> Tensor:
    """alpha I + (1 - alpha) 1 m^T: [..., K, K] (rows: from-class, columns: to-class) for alpha [...]."""
    k = marginals.shape[-1]
    a = torch.as_tensor(alpha, dtype=marginals.dtype, device=marginals.device)[..., None, None]
    eye = torch.eye(k, dtype=marginals.dtype, device=marginals.device)
    return a * eye + (1 - a) * marginals.expand(k, k)


def q_probs(x0: Tensor, alpha_bar: Tensor, marginals: Tensor) -> Tensor:
    """q(x_t | x_0) = x_0 Qbar_t = abar x_0 + (1 - abar) m: [..., K]."""
    a = torch.as_tensor(alpha_bar, dtype=x0.dtype, device=x0.device).unsqueeze(-1)
    return a * x0 + (1 - a) * marginals.to(x0.dtype)


def posterior_probs(xt: Tensor, x0: Tensor, alpha_t: Tensor, alpha_s: Tensor, marginals: Tensor) -> Tensor:
    """q(x_s | x_t, x_0) [..., K] for s < t (abar_s >= abar_t): x_t one-hot, x_0 one-hot or probabilities."""
    m = marginals.to(xt.dtype)
    a_t = torch.as_tensor(alpha_t, dtype=xt.dtype, device=xt.device).unsqueeze(-1)
    a_s = torch.as_tensor(alpha_s, dtype=xt.dtype, device=xt.device).unsqueeze(-1)
    a_ts = a_t / a_s
    left = a_ts * xt + (1 - a_ts) * (xt * m).sum(-1, keepdim=True)  # x_t Q_t|s^T: Q_t|s[k, x_t] for every k
    joint = left * q_probs(x0, a_s.squeeze(-1), m)
    return joint / joint.sum(-1, keepdim=True).clamp(min=1e-30)


def model_posterior_probs(xt: Tensor, p0: Tensor, alpha_t: Tensor, alpha_s: Tensor, marginals: Tensor) -> Tensor:
    """p(x_s | x_t) = sum_c p0[c] q(x_s | x_t, x_0 = c): [..., K], p0 = the network's p(x_0 | x_t) [..., K]."""
    k = p0.shape[-1]
    eye = torch.eye(k, dtype=xt.dtype, device=xt.device)
    expand = lambda a: torch.as_tensor(a, dtype=xt.dtype, device=xt.device).unsqueeze(-1)  # noqa: E731
    per_class = posterior_probs(xt.unsqueeze(-2), eye, expand(alpha_t), expand(alpha_s), marginals)  # [..., K(x0), K]
    return (p0.unsqueeze(-1) * per_class).sum(-2)


def symmetrize_pairs(v: Tensor) -> Tensor:
    """[B, N, N, ...] -> the upper triangle (i < j) mirrored below it, zero on the diagonal (class 0 = no edge)."""
    n = v.shape[1]
    upper = torch.triu(torch.ones(n, n, dtype=torch.bool, device=v.device), diagonal=1)
    upper = upper.reshape((1, n, n) + (1,) * (v.dim() - 3))
    v = torch.where(upper, v, torch.zeros_like(v))
    return v + v.transpose(1, 2)


def sample_classes(probs: Tensor, generator: torch.Generator | None = None, pairs: bool = False) -> Tensor:
    """Class indices [...] from probabilities [..., K]; pairs=True: [B, N, N, K] -> symmetric [B, N, N]."""
    x = sample_categorical_rows(probs, generator)
    return symmetrize_pairs(x) if pairs else x


def sample_prior(marginals: Tensor, shape: tuple[int, ...], generator: torch.Generator | None = None,
                 pairs: bool = False) -> Tensor:
    """Class indices [*shape] drawn from the marginals [K] (the limit of the marginal transitions); pairs=True:
    shape (B, N, N), symmetric, zero diagonal."""
    return sample_classes(marginals.float().expand(tuple(shape) + (marginals.shape[-1],)), generator, pairs)


def sample_noisy(x0: Tensor, alpha_bar: Tensor, marginals: Tensor, generator: torch.Generator | None = None,
                 pairs: bool = False) -> Tensor:
    """x_t ~ q(x_t | x_0) = abar x_0 + (1 - abar) m for class indices x0 [...] (abar broadcastable to x0's shape,
    e.g. [B, 1] for nodes, [B, 1, 1] for pairs): class indices [...]; pairs=True: symmetric, zero diagonal."""
    probs = q_probs(F.one_hot(x0, marginals.shape[-1]).float(), alpha_bar.float(), marginals.float())
    return sample_classes(probs, generator, pairs)


def sample_reverse(xt: Tensor, p0: Tensor, alpha_t: Tensor, alpha_s: Tensor, marginals: Tensor,
                   generator: torch.Generator | None = None, pairs: bool = False) -> Tensor:
    """x_s ~ p(x_s | x_t) = sum_c p0[c] q(x_s | x_t, x_0 = c) for class indices xt [...] and the network's
    p(x_0 | x_t) p0 [..., K]: class indices [...]; exact for any s < t (strided sampling)."""
    probs = model_posterior_probs(F.one_hot(xt, marginals.shape[-1]).float(), p0, alpha_t, alpha_s, marginals.float())
    return sample_classes(probs, generator, pairs)
