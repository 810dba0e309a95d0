"""Structural and spectral features of padded graphs: DiGress's "extra features" (Vignac et al., ICLR 2023, sec. 4.3).

A denoiser of graphs built from message passing or attention cannot count cycles or see connectivity by itself;
DiGress feeds it, at every step, features of the noisy graph computed exactly. As cvignac/DiGress at 780242b,
src/diffusion/extra_features.py (ExtraFeatures, NodeCycleFeatures, KNodeCycles, EigenFeatures):
- cycle counts: per node the k-cycles through it for k = 3, 4, 5, per graph the k-cycles for k = 3, 4, 5, 6, from
  traces and diagonals of powers of the adjacency matrix (closed walks minus the degenerate ones); divided by 10
  and capped at 1 as DiGress. DiGress has no per-node count of 6-cycles (KNodeCycles.k6_cycle returns None for
  nodes), nor does this module;
- the combinatorial Laplacian L = D - A: the number of connected components, the first 5 non-zero eigenvalues
  (divided by the number of nodes; 2 where the graph has fewer), the 2 eigenvectors after the null space, and a
  per-node flag "outside the largest connected component".
Differences from the reference:
- the per-node 5-cycle count: the reference subtracts 2 (A^3)_ii d_i + (A diag A^3)_i - (A^3)_ii from (A^5)_ii, which
  over-counts near triangles (cyclopropanes and epoxides are common in QM9). A closed 5-walk that is not a cycle is
  a triangle plus one back-and-forth step; counting them per oriented triangle through i (steps at i before or
  after, at the two other corners, minus 3 walks counted twice) and per triangle one step away from i gives the
  formula in cycle_counts, which equals brute-force enumeration (tests/ops/test_graph_features.py);
and, so that padding and node order change nothing:
- components come from reachability ((A + I)^N > 0), not from counting eigenvalues below 1e-5 and taking the mode of
  the rounded first eigenvector (eigh returns an arbitrary basis of a repeated zero eigenvalue, so the reference's
  flag is a heuristic); nodes in a component tied for the largest are not flagged;
- eigenvalues past the graph's own are 2 (the reference fills with 2 only past the padded size, so a small graph in
  a batch padded to a larger one read the padding's eigenvalues).
Eigenvectors keep eigh's arbitrary sign (as the reference). Shapes: adj [B, N, N] (0/1, symmetric; entries of
padding pairs are ignored), node_mask [B, N].
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

CYCLE_SCALE = 10.0  # NodeCycleFeatures: counts / 10, capped at 1
N_EIGENVALUES = 5  # get_eigenvalues_features k
N_EIGENVECTORS = 2  # get_eigenvectors_features k
FEATURE_MODES = ("none", "cycles", "eigenvalues", "all")  # DiGress's extra_features options (null = none)


def _masked_adjacency(adj: Tensor, node_mask: Tensor) -> Tensor:
    m = node_mask.to(adj.dtype)
    eye = torch.eye(adj.shape[-1], dtype=adj.dtype, device=adj.device)
    return adj * m.unsqueeze(1) * m.unsqueeze(2) * (1 - eye)


def cycle_counts(adj: Tensor, node_mask: Tensor) -> tuple[Tensor, Tensor]:
    """(per node: cycles of length 3, 4, 5 through each node [B, N, 3], per graph: cycles of length 3..6 [B, 4]).

    Closed walks (A^k)_ii minus the walks that are not simple cycles, halved (two directions); d = degrees:
    c3_i = (A^3)_ii / 2 and c4_i = ((A^4)_ii - d_i (d_i - 1) - (A d)_i) / 2 as KNodeCycles;
    c5_i = ((A^5)_ii - (A^3)_ii (2 d_i - 5) - 2 sum_j A_ij (A^2)_ij d_j - sum_j A_ij (A^3)_jj) / 2;
    per graph: sum_i c_k,i / k, and the 6-cycles by the reference's trace formula (k6_cycle) / 12."""
    a = _masked_adjacency(adj.double(), node_mask)
    d = a.sum(-1)
    a2 = a @ a
    a3 = a2 @ a
    a4 = a3 @ a
    a5 = a4 @ a
    a6 = a5 @ a
    diag = lambda x: x.diagonal(dim1=-2, dim2=-1)  # noqa: E731
    trace = lambda x: diag(x).sum(-1)  # noqa: E731
    c3 = diag(a3)
    c4 = diag(a4) - d * (d - 1) - (a @ d.unsqueeze(-1)).squeeze(-1)
    # closed 5-walks minus those made of a triangle and a back-and-forth step (derived in the module docstring)
    c5 = (diag(a5) - c3 * (2 * d - 5) - 2 * (a * a2 * d.unsqueeze(-2)).sum(-1)
          - (a @ c3.unsqueeze(-1)).squeeze(-1))
    c6 = (trace(a6) - 3 * diag(a3).pow(2).sum(-1) + 9 * (a * a2.pow(2)).sum((-2, -1)) - 6 * (diag(a2) * diag(a4)).sum(-1)
          + 6 * trace(a4) - 4 * trace(a3) + 4 * diag(a2).pow(3).sum(-1) + 3 * a3.sum((-2, -1))
          - 12 * diag(a2).pow(2).sum(-1) + 4 * trace(a2))
    node = torch.stack([c3, c4, c5], -1) / 2
    graph = torch.stack([c3.sum(-1) / 6, c4.sum(-1) / 8, c5.sum(-1) / 10, c6 / 12], -1)
    return node.to(adj.dtype), graph.to(adj.dtype)


def connected_components(adj: Tensor, node_mask: Tensor) -> tuple[Tensor, Tensor]:
    """(number of connected components of the real nodes [B], size of each node's component [B, N], 0 on padding),
    from reachability: (A + I)^(2^k) > 0 for 2^k >= N."""
    m = node_mask.bool()
    n = adj.shape[-1]
    reach = (_masked_adjacency(adj.float(), node_mask) + torch.diag_embed(m.float())) > 0
    for _ in range(max(1, math.ceil(math.log2(max(n, 2))))):
        reach = (reach.float() @ reach.float()) > 0
    size = reach.sum(-1) * m
    count = torch.where(m, 1.0 / size.clamp(min=1), 0.0).sum(-1).round().long()
    return count, size


def spectral_features(adj: Tensor, node_mask: Tensor, vectors: bool = True) -> dict[str, Tensor]:
    """DiGress's EigenFeatures on the combinatorial Laplacian of the real nodes:
    n_components [B, 1], eigenvalues [B, 5] (the first non-zero ones / number of nodes, 2 past the graph's own),
    and with `vectors`: not_lcc [B, N, 1] (1 outside the largest component) and eigenvectors [B, N, 2] (the two after
    the null space, 0 past the graph's own and on padding)."""
    m = node_mask.bool()
    b, n = m.shape
    a = _masked_adjacency(adj.float(), node_mask)
    lap = torch.diag_embed(a.sum(-1)) - a
    # padding nodes get eigenvalue 2 N, above every real one (<= N), as the reference's mask_diag
    lap = lap + torch.diag_embed((~m).float() * 2 * n)
    n_real = m.sum(-1, keepdim=True)
    count, size = connected_components(adj, node_mask)
    first = count.unsqueeze(-1) + torch.arange(max(N_EIGENVALUES, N_EIGENVECTORS), device=adj.device)  # [B, k]
    inside = first < n_real
    index = first.clamp(max=n - 1)
    if vectors:
        values, vecs = torch.linalg.eigh(lap)
    else:
        values, vecs = torch.linalg.eigvalsh(lap), None
    values = values / n_real.clamp(min=1)
    k = N_EIGENVALUES
    out = {"n_components": count.unsqueeze(-1).to(adj.dtype if adj.is_floating_point() else torch.float32),
           "eigenvalues": torch.where(inside[:, :k], values.gather(1, index[:, :k]), 2.0)}
    if vectors:
        k = N_EIGENVECTORS
        picked = vecs.gather(2, index[:, None, :k].expand(b, n, k)) * inside[:, None, :k]
        out["eigenvectors"] = picked * m.unsqueeze(-1)
        out["not_lcc"] = ((size < size.amax(-1, keepdim=True)) & m).float().unsqueeze(-1)
    return out


def extra_feature_dims(mode: str) -> tuple[int, int]:
    """(per-node, per-graph) widths of graph_extra_features(mode)."""
    if mode not in FEATURE_MODES:
        raise ValueError(f"extra features {mode!r}: choose one of {', '.join(FEATURE_MODES)}")
    node = {"none": 0, "cycles": 3, "eigenvalues": 3, "all": 3 + 1 + N_EIGENVECTORS}[mode]
    graph = {"none": 1, "cycles": 5, "eigenvalues": 6 + N_EIGENVALUES, "all": 6 + N_EIGENVALUES}[mode]
    return node, graph


def graph_extra_features(adj: Tensor, node_mask: Tensor, mode: str, max_n: int) -> tuple[Tensor, Tensor]:
    """DiGress's ExtraFeatures(mode) of a noisy graph: (node [B, N, F_node], graph [B, F_graph]), widths as
    extra_feature_dims. node: cycles k = 3, 4, 5 (/10, capped at 1) [+ not_lcc, 2 eigenvectors for "all"];
    graph: n / max_n, cycles k = 3..6 (/10, capped) [+ n_components, 5 eigenvalues for "eigenvalues" and "all"].
    "none" gives n / max_n only (the reference's dummy features give nothing; the size is cheap and useful)."""
    extra_feature_dims(mode)  # checks the mode
    m = node_mask.to(torch.float32)
    size = m.sum(-1, keepdim=True) / max_n
    if mode == "none":
        return m.new_zeros(m.shape + (0,)), size
    node_c, graph_c = cycle_counts(adj.float(), node_mask)
    node = [(node_c / CYCLE_SCALE).clamp(max=1) * m.unsqueeze(-1)]
    graph = [size, (graph_c / CYCLE_SCALE).clamp(max=1)]
    if mode in ("eigenvalues", "all"):
        spec = spectral_features(adj, node_mask, vectors=mode == "all")
        graph += [spec["n_components"], spec["eigenvalues"]]
        if mode == "all":
            node += [spec["not_lcc"], spec["eigenvectors"]]
    return torch.cat(node, -1), torch.cat(graph, -1)
