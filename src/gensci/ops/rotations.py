"""Random orthogonal matrices for equivariance tests and data augmentation."""

from __future__ import annotations

import torch
from torch import Tensor


def random_orthogonal(dim: int = 3, reflection: bool = False, generator=None, dtype=None) -> Tensor:
    """A Haar-random rotation (det +1), or a rotation composed with a reflection (det -1)."""
    a = torch.randn(dim, dim, generator=generator, dtype=dtype or torch.float64)
    q, r = torch.linalg.qr(a)
    q = q * torch.sign(torch.diagonal(r)).unsqueeze(0)
    if (torch.det(q) < 0) != reflection:
        q[:, 0] = -q[:, 0]
    return q.to(dtype or torch.get_default_dtype())


def random_rotations(batch: int, generator=None, dtype=None) -> Tensor:
    """[B, 3, 3] independent random rotations (for augmentation)."""
    return torch.stack([random_orthogonal(3, False, generator, dtype) for _ in range(batch)])
