"""Seeded random draws that do not depend on where the model lives.

Each helper draws on the generator's own device and moves the result to `device`, so a CPU-seeded
torch.Generator gives the same numbers (and works at all) whatever device the model sits on.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _device_of(generator: torch.Generator | None, device: torch.device) -> torch.device:
    return generator.device if generator is not None else torch.device(device)


def sample_normal(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device,
                  dtype: torch.dtype | None = None) -> Tensor:
    """Standard normal draws [shape] in `dtype` (default: torch's default dtype) on `device`."""
    return torch.randn(shape, generator=generator, device=_device_of(generator, device), dtype=dtype).to(device)


def sample_integers(low: int, high: int, shape: tuple[int, ...], generator: torch.Generator | None,
                    device: torch.device) -> Tensor:
    """Uniform integers in [low, high) [shape] (int64) on `device`."""
    return torch.randint(low, high, shape, generator=generator, device=_device_of(generator, device)).to(device)


def sample_categorical(probs: Tensor, n: int, generator: torch.Generator | None) -> Tensor:
    """n draws (with replacement) of indices into `probs` [K] (unnormalised weights), on probs' device."""
    gen_device = _device_of(generator, probs.device)
    return torch.multinomial(probs.to(gen_device), n, replacement=True, generator=generator).to(probs.device)


def sample_uniform(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device,
                   dtype: torch.dtype | None = None) -> Tensor:
    """Uniform draws in [0, 1) [shape] in `dtype` (default: torch's default dtype) on `device`."""
    return torch.rand(shape, generator=generator, device=_device_of(generator, device), dtype=dtype).to(device)


def sample_categorical_rows(probs: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """One class index per row of probs [..., K] (non-negative, rows need not be normalised): [...] int64.

    Inverse-CDF sampling with one uniform draw per row from `generator` on its own device (unlike
    torch.multinomial, any number of leading dimensions and the same classes on any device)."""
    cdf = probs.cumsum(-1)
    u = sample_uniform(probs.shape[:-1] + (1,), generator, probs.device, cdf.dtype) * cdf[..., -1:]
    return (cdf <= u).sum(-1).clamp(max=probs.shape[-1] - 1)
