"""Masks of observed pixels for inpainting benchmarks (1 = observed, 0 = hidden), seeded.

- `random_pixel_mask`: each pixel observed independently with probability `observed` (the 30-70 % random-pixel
  setting of the field-inpainting benchmarks);
- `box_mask`: one hidden axis-aligned square per image covering `hidden` of its area, at a random position
  (DPS's box inpainting, Chung et al. 2023, sec. 4: a 128 x 128 box in 256 x 256 images, i.e. 25 %).
Shapes: [N, 1, S, S] float (broadcast over channels by gensci.methods.field_diffusion inpaint and the CLI).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from gensci.ops.random import sample_integers, sample_uniform


def random_pixel_mask(n: int, side: int, observed: float, generator: torch.Generator | None = None,
                      device: torch.device | str = "cpu") -> Tensor:
    """[n, 1, side, side]: 1 with probability `observed` per pixel."""
    if not 0 <= observed <= 1:
        raise ValueError(f"observed fraction must be in [0, 1], got {observed}")
    return (sample_uniform((n, 1, side, side), generator, torch.device(device)) < observed).float()


def box_mask(n: int, side: int, hidden: float = 0.25, generator: torch.Generator | None = None,
             device: torch.device | str = "cpu") -> Tensor:
    """[n, 1, side, side]: 0 inside one square of round(side sqrt(hidden)) pixels per image, 1 elsewhere."""
    if not 0 <= hidden < 1:
        raise ValueError(f"hidden fraction must be in [0, 1), got {hidden}")
    box = round(side * math.sqrt(hidden))
    corner = sample_integers(0, side - box + 1, (n, 2), generator, torch.device(device))
    idx = torch.arange(side, device=device)
    rows = (idx >= corner[:, :1]) & (idx < corner[:, :1] + box)  # [n, side]
    cols = (idx >= corner[:, 1:]) & (idx < corner[:, 1:] + box)
    return (~(rows[:, :, None] & cols[:, None, :])).float().unsqueeze(1)
