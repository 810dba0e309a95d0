"""Seeded random draws that do not depend on where the model lives."""

from __future__ import annotations

import torch
from torch import Tensor


def sample_normal(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> Tensor:
    """Standard normal draws from `generator` on its own device, moved to `device`, so a CPU-seeded
    generator gives the same numbers whatever device the model sits on."""
    gen_device = generator.device if generator is not None else device
    return torch.randn(shape, generator=generator, device=gen_device).to(device)


def sample_uniform(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> Tensor:
    """U[0, 1) draws from `generator` on its own device, moved to `device` (as sample_normal)."""
    gen_device = generator.device if generator is not None else device
    return torch.rand(shape, generator=generator, device=gen_device).to(device)


def sample_categorical(probs: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """One class index per row of probs [..., K] (rows need not be normalised; non-negative): [...] long.

    Inverse-CDF sampling with one uniform draw per row from `generator` on its own device, so the same seed gives
    the same classes on any device."""
    cdf = probs.cumsum(-1)
    u = sample_uniform(probs.shape[:-1] + (1,), generator, probs.device).to(cdf.dtype) * cdf[..., -1:]
    return (cdf <= u).sum(-1).clamp(max=probs.shape[-1] - 1)
