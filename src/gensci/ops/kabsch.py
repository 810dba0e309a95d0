"""Rigid alignment and atom matching of point clouds in padded batches (x, y [B, N, 3], node_mask [B, N]).

- `kabsch_rotation`: the proper rotation R minimising sum_i |R x_i - y_i|^2 over real atoms (Kabsch 1976; the
  determinant correction keeps det R = +1, as scipy's Rotation.align_vectors).
- `hungarian_match`: the permutation of x's atoms minimising sum_i |x_perm(i) - y_i|^2
  (scipy.optimize.linear_sum_assignment per molecule), optionally only within equal classes.
- `equivariant_ot`: both, in the order of equivariant optimal-transport flow matching (Klein, Kraemer & Noe,
  "Equivariant flow matching", 2023; SemlaFlow, semla-flow data/interpolate.py GeometricInterpolant._match_mols):
  permute the prior sample to the data molecule, then rotate it onto the data.

Matching all atoms or only within an element type: for generating molecules the prior's atoms carry no types
(their categorical noise is drawn independently of their positions), so only positions carry a cost and
SemlaFlow matches all atoms; pass `classes` where both sides share labels (e.g. conformer generation for a
known composition) to keep every atom on its own type.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor


def kabsch_rotation(x: Tensor, y: Tensor, node_mask: Tensor) -> Tensor:
    """[B, 3, 3] proper rotations R with x_i R^T ~ y_i (both centred on their real atoms' mean first)."""
    m = node_mask.unsqueeze(-1).to(x.dtype)
    n = m.sum(1, keepdim=True).clamp(min=1)
    xc, yc = (x - (x * m).sum(1, keepdim=True) / n) * m, (y - (y * m).sum(1, keepdim=True) / n) * m
    cov = xc.transpose(1, 2) @ yc  # [B, 3, 3] = sum_i x_i y_i^T
    u, _, vt = torch.linalg.svd(cov)
    d = torch.sign(torch.linalg.det(vt.transpose(1, 2) @ u.transpose(1, 2)))
    d = torch.where(d == 0, torch.ones_like(d), d)
    fix = torch.diag_embed(torch.stack([torch.ones_like(d), torch.ones_like(d), d], -1))
    return vt.transpose(1, 2) @ fix @ u.transpose(1, 2)


def hungarian_match(x: Tensor, y: Tensor, node_mask: Tensor, classes: Tensor | None = None) -> Tensor:
    """[B, N] indices perm such that x[b, perm[b]] is matched to y[b] atom by atom at least total squared distance.

    Real atoms are matched among themselves (padding keeps its place). classes [B, N] (ints): the class of atom i
    on both sides (x's atom i carries y's atom i's class, as a prior built from the data's composition does);
    then only atoms of equal class are matched."""
    cost = torch.cdist(y.detach().double(), x.detach().double()).square().cpu().numpy()  # [B, N(y), N(x)]
    mask = node_mask.bool().cpu().numpy()
    labels = classes.cpu().numpy() if classes is not None else None
    perm = np.tile(np.arange(x.shape[1]), (x.shape[0], 1))
    for b in range(x.shape[0]):
        real = np.flatnonzero(mask[b])
        c = cost[b][np.ix_(real, real)]
        if labels is not None:
            lab = labels[b, real]
            c = np.where(lab[:, None] == lab[None, :], c, np.inf)
        _, cols = linear_sum_assignment(c)
        perm[b, real] = real[cols]
    return torch.from_numpy(perm).to(x.device)


def permute_nodes(v: Tensor, perm: Tensor) -> Tensor:
    """v [B, N, ...] -> v[b, perm[b]]."""
    index = perm.reshape(perm.shape + (1,) * (v.dim() - 2)).expand(perm.shape + v.shape[2:])
    return torch.gather(v, 1, index)


def equivariant_ot(prior: Tensor, data: Tensor, node_mask: Tensor) -> Tensor:
    """The prior sample [B, N, 3] (centred) permuted to match the data atom by atom, then rotated onto it."""
    prior = permute_nodes(prior, hungarian_match(prior, data, node_mask))
    rot = kabsch_rotation(prior, data, node_mask)
    return (prior @ rot.transpose(1, 2)) * node_mask.unsqueeze(-1).to(prior.dtype)
