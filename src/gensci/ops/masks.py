"""Masks and centre-of-mass handling for padded batches of point clouds.

Shapes: x [B, N, D] positions or features, node_mask [B, N] (1 real, 0 padding).
"""

from __future__ import annotations

import torch
from torch import Tensor

from gensci.ops.random import sample_normal


def expand_mask(node_mask: Tensor) -> Tensor:
    """[B, N] -> [B, N, 1], in the dtype of the mask's float use."""
    return node_mask.unsqueeze(-1).to(torch.get_default_dtype() if not node_mask.is_floating_point() else node_mask.dtype)


def masked_mean(x: Tensor, node_mask: Tensor) -> Tensor:
    """Mean over real nodes: x [B, N, D] -> [B, 1, D]."""
    m = expand_mask(node_mask).to(x.dtype)
    return (x * m).sum(1, keepdim=True) / m.sum(1, keepdim=True).clamp(min=1)


def remove_mean(x: Tensor, node_mask: Tensor) -> Tensor:
    """Project onto the zero-centre-of-mass subspace; padding stays exactly zero."""
    m = expand_mask(node_mask).to(x.dtype)
    return (x - masked_mean(x, node_mask)) * m


def sample_com_free_gaussian(shape: tuple[int, int, int], node_mask: Tensor, generator=None,
                             dtype: torch.dtype | None = None) -> Tensor:
    """Standard Gaussian on the zero-CoM subspace of real nodes: [B, N, D] on node_mask's device, drawn on the
    generator's device (ops.random.sample_normal)."""
    return remove_mean(sample_normal(shape, generator, node_mask.device, dtype), node_mask)


def sample_masked_gaussian(shape: tuple[int, int, int], node_mask: Tensor, generator=None,
                           dtype: torch.dtype | None = None) -> Tensor:
    """Standard Gaussian on real nodes, zero on padding: [B, N, D] (drawn as sample_com_free_gaussian)."""
    z = sample_normal(shape, generator, node_mask.device, dtype)
    return z * expand_mask(node_mask).to(z.dtype)


def edge_mask(node_mask: Tensor, self_loops: bool = False) -> Tensor:
    """[B, N] -> [B, N, N]: pairs of real nodes (without i == j unless asked)."""
    m = node_mask.bool()
    e = m.unsqueeze(1) & m.unsqueeze(2)
    if not self_loops:
        e = e & ~torch.eye(m.shape[1], dtype=torch.bool, device=m.device)
    return e


def mask_from_sizes(sizes: Tensor, n: int | None = None) -> Tensor:
    """Node counts [B] -> node_mask [B, n] float (n: the largest count unless given), real nodes first."""
    n = int(sizes.max()) if n is None else n
    return (torch.arange(n, device=sizes.device) < sizes[:, None]).float()


def real_first(node_mask: Tensor) -> Tensor:
    """Per row, the indices of the nodes with real ones first (stable), trimmed to the largest real count: [B, n_max].

    With `gather_nodes`/`scatter_nodes` this packs a padded batch to its largest molecule and back.
    """
    m = node_mask.bool()
    order = torch.argsort((~m).to(torch.uint8), dim=1, stable=True)
    return order[:, : int(m.sum(1).max())]


def gather_nodes(v: Tensor, index: Tensor) -> Tensor:
    """v [B, N, F], index [B, K] -> v[b, index[b, k]]: [B, K, F]."""
    return torch.gather(v, 1, index.unsqueeze(-1).expand(-1, -1, v.shape[-1]))


def scatter_nodes(v: Tensor, index: Tensor, n: int) -> Tensor:
    """Inverse of gather_nodes for a partial permutation `index`: [B, K, F] -> [B, n, F], zero elsewhere."""
    out = v.new_zeros(v.shape[0], n, v.shape[-1])
    return out.scatter(1, index.unsqueeze(-1).expand(-1, -1, v.shape[-1]), v)


def size_groups(sizes: Tensor, group_cost: float) -> list[Tensor]:
    """Split a batch into groups of similar size for dense pair computations: [B] sizes -> list of index tensors.

    Groups are runs of the size-sorted batch minimising sum_g (|g| * max_size_g^2 + group_cost), i.e. the
    padded pairs plus a fixed cost per group (in units of pairs), by dynamic programming over the B sizes.
    """
    order = torch.argsort(sizes, stable=True)
    s = sizes[order].double().cpu().tolist()
    best, cut = [0.0] + [float("inf")] * len(s), [0] * (len(s) + 1)
    for j in range(1, len(s) + 1):
        for i in range(j):
            cost = best[i] + (j - i) * s[j - 1] ** 2 + group_cost
            if cost < best[j]:
                best[j], cut[j] = cost, i
    bounds, j = [], len(s)
    while j > 0:
        bounds.append((cut[j], j))
        j = cut[j]
    return [order[i:j] for i, j in reversed(bounds)]
