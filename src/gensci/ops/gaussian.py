"""Closed-form Gaussian quantities used by VAEs and diffusion bounds."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def gaussian_kl(mu_q: Tensor, sigma_q: Tensor, mu_p: Tensor | float = 0.0, sigma_p: Tensor | float = 1.0) -> Tensor:
    """Elementwise KL(N(mu_q, sigma_q^2) || N(mu_p, sigma_p^2)); sum it over the dimensions you need.

    KL = log(sigma_p / sigma_q) + (sigma_q^2 + (mu_q - mu_p)^2) / (2 sigma_p^2) - 1/2.
    """
    sigma_p = torch.as_tensor(sigma_p, dtype=sigma_q.dtype, device=sigma_q.device)
    return torch.log(sigma_p / sigma_q) + (sigma_q**2 + (mu_q - mu_p) ** 2) / (2 * sigma_p**2) - 0.5


def gaussian_kl_logvar(mu: Tensor, logvar: Tensor) -> Tensor:
    """Elementwise KL(N(mu, exp(logvar)) || N(0, 1)) = -1/2 (1 + logvar - mu^2 - exp(logvar))."""
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())


def gaussian_kl_isotropic(mu_q: Tensor, sigma_q: Tensor, mu_p: Tensor, sigma_p: Tensor, d: Tensor | int) -> Tensor:
    """KL between isotropic Gaussians in d dimensions given the summed squared mean distance.

    mu_q, mu_p: already-reduced ||mu_q - mu_p||^2 is computed here from [B, ...] tensors;
    sigma_q, sigma_p: [B] scalars; d: degrees of freedom (for CoM-free positions (N-1)*3).
    """
    mu_norm2 = (mu_q - mu_p).pow(2).flatten(1).sum(-1)
    return d * torch.log(sigma_p / sigma_q) + 0.5 * (d * sigma_q**2 + mu_norm2) / sigma_p**2 - 0.5 * d


def standard_normal_log_cdf_diff(lo: Tensor, hi: Tensor) -> Tensor:
    """log(Phi(hi) - Phi(lo)) computed stably (used for discretised likelihoods)."""
    cdf = lambda v: 0.5 * (1 + torch.erf(v / math.sqrt(2)))  # noqa: E731
    return torch.log((cdf(hi) - cdf(lo)).clamp(min=1e-10))
