"""Seeded random draws that do not depend on where the model lives."""

from __future__ import annotations

import torch
from torch import Tensor


def sample_normal(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> Tensor:
    """Standard normal draws from `generator` on its own device, moved to `device`, so a CPU-seeded
    generator gives the same numbers whatever device the model sits on."""
    gen_device = generator.device if generator is not None else device
    return torch.randn(shape, generator=generator, device=gen_device).to(device)
