"""Symmetries of square grids for data augmentation: the 8 turns and mirrors of the square (the dihedral group
D4), cyclic shifts of periodic grids, and permutations of a lattice's site states."""

from __future__ import annotations

import torch
from torch import Tensor


def dihedral(x: Tensor, codes: Tensor) -> Tensor:
    """Each grid `x[i]` [C, H, W] turned by codes[i] % 4 quarter turns, then mirrored if codes[i] >= 4."""
    out = x.clone()
    for code in range(8):
        sel = codes == code
        if sel.any():
            y = torch.rot90(x[sel], code % 4, dims=(-2, -1))
            out[sel] = y.flip(-1) if code >= 4 else y
    return out


def random_dihedral(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """x [B, C, S, S], each grid in one of its 8 orientations at random."""
    return dihedral(x, torch.randint(8, (len(x),), generator=generator).to(x.device))


def random_shift(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """x [B, C, H, W], each grid shifted cyclically by a random offset in both directions (periodic data)."""
    b, _, h, w = x.shape
    dy = torch.randint(h, (b, 1, 1), generator=generator).to(x.device)
    dx = torch.randint(w, (b, 1, 1), generator=generator).to(x.device)
    rows = (torch.arange(h, device=x.device).view(1, h, 1) - dy) % h
    cols = (torch.arange(w, device=x.device).view(1, 1, w) - dx) % w
    index = (rows * w + cols).view(b, 1, h * w).expand(-1, x.shape[1], -1)
    return x.flatten(2).gather(2, index).view_as(x)


def random_state_permutation(states: Tensor, k: int, generator: torch.Generator | None = None) -> Tensor:
    """Class indices states [B, ...] in 0..k-1, each item's states relabelled by its own random permutation
    (for an Ising lattice: the global spin flip, half the time)."""
    b = len(states)
    perms = torch.rand(b, k, generator=generator).argsort(-1).to(states.device)
    return perms.gather(1, states.reshape(b, -1)).view_as(states)
