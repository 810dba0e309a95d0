"""Pieces shared by the message-passing networks on padded molecule batches (EGNN, BondEGNN).

- `EdgeList`: the real atoms of a padded batch packed to [M, .] and their ordered pairs i != j as an edge
  list [E] (gather + index_add instead of [B, N, N, .] tensors: no work on padding pairs).
- `pair_mlp`: an MLP on the concatenation [h_i, h_j, e_ij] with its first Linear split into per-atom parts
  (W_a h_i + W_b h_j computed once per atom) and a per-pair part (W_e e_ij): the same function with a third
  of the pair FLOPs (benchmarks/molecules/README.md).
- `compiled(fn)`: torch.compile of an unbound `_run`-style function, once per process.
"""

from __future__ import annotations

import shutil
from functools import cache, cached_property

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gensci.ops.masks import edge_mask


class EdgeList:
    """Real atoms of a padded batch (node_mask [B, N] bool) packed to [M, .]; real ordered pairs i != j as
    (row, col) [E] indices into the packed atoms, sorted by row (b, i, j in row-major order)."""

    def __init__(self, mask: Tensor):
        self.shape = tuple(mask.shape)
        self.flat = mask.reshape(-1).nonzero().squeeze(1)
        pos = torch.cumsum(mask.reshape(-1).long(), 0).reshape(mask.shape) - 1
        self.b, self.i, self.j = edge_mask(mask).nonzero(as_tuple=True)
        self.row, self.col, self.n = pos[self.b, self.i], pos[self.b, self.j], len(self.flat)

    def pack(self, v: Tensor) -> Tensor:
        """[B, N, F] -> [M, F] (real atoms)."""
        return v.reshape(-1, v.shape[-1])[self.flat]

    def unpack(self, v: Tensor, shape=None) -> Tensor:
        """[M, F] -> [B, N, F], zero on padding."""
        b, n = shape if shape is not None else self.shape
        out = v.new_zeros(b * n, v.shape[-1])
        return out.index_copy(0, self.flat, v).reshape(b, n, v.shape[-1])

    def pack_pairs(self, v: Tensor) -> Tensor:
        """[B, N, N, F] -> [E, F] (real pairs i != j)."""
        return v[self.b, self.i, self.j]

    def unpack_pairs(self, v: Tensor) -> Tensor:
        """[E, F] -> [B, N, N, F], zero on the diagonal and on padding pairs."""
        b, n = self.shape
        out = v.new_zeros(b, n, n, v.shape[-1])
        out[self.b, self.i, self.j] = v
        return out

    @cached_property
    def reverse(self) -> Tensor:
        """[E]: the index of pair (j, i) for each pair (i, j)."""
        b, n = self.shape
        lookup = torch.full((b * n * n,), -1, dtype=torch.long, device=self.row.device)
        lookup[(self.b * n + self.i) * n + self.j] = torch.arange(len(self.b), device=self.row.device)
        return lookup[(self.b * n + self.j) * n + self.i]

    def pairs(self, a: Tensor, b: Tensor) -> Tensor:
        return a[self.row] + b[self.col]

    def radial(self, x: Tensor, norm_constant: float) -> tuple[Tensor, Tensor]:
        """Squared distances [E, 1] and (x_i - x_j) / (|x_i - x_j| + norm_constant) [E, 3]."""
        diff = x[self.row] - x[self.col]
        d = (diff**2).sum(-1, keepdim=True)
        return d, diff / (torch.sqrt(d + 1e-8) + norm_constant)

    def sum(self, v: Tensor, w: Tensor | None = None) -> Tensor:
        """sum_j w_ij v_ij per atom i: [E, F] -> [M, F]."""
        v = v if w is None else v * w.to(v.dtype)
        return v.new_zeros(self.n, v.shape[-1]).index_add_(0, self.row, v)

    def degree(self) -> Tensor:
        return torch.bincount(self.row, minlength=self.n).unsqueeze(-1)

    def mask(self, v: Tensor) -> Tensor:
        return v  # every packed atom is real


def pair_mlp(mlp: nn.Sequential, graph, h: Tensor, e: Tensor) -> Tensor:
    """mlp(cat[h_i, h_j, e_ij]) with the first Linear split into per-atom and per-pair parts (same function).

    h: [M, H] atoms (or [B, N, H] for a dense graph); e: pair features [E, P] (or [B, N, N, P]); the first layer
    of `mlp` is Linear(2 H + P, .)."""
    first, hidden = mlp[0], h.shape[-1]
    w = first.weight
    ab = F.linear(h, torch.cat([w[:, :hidden], w[:, hidden : 2 * hidden]]))
    a, b = ab.chunk(2, dim=-1)
    pre = graph.pairs(a, b) + F.linear(e.to(ab.dtype), w[:, 2 * hidden :], first.bias)
    return mlp[1:](pre)


@cache
def compiled(fn):
    """torch.compile(fn, dynamic=True), once per function and process. For an unbound method `Net._run`: one
    compiled graph serves every instance (training model, EMA copy) and nothing compiled is stored on a module
    (state_dict and deepcopy stay plain)."""
    if not any(shutil.which(c) for c in ("g++", "c++", "clang++", "cl")):
        raise RuntimeError("compile=True needs a C++ compiler for torch.compile on CPU (g++ or clang++); "
                           "install one or turn compilation off (method.compile=false)")
    # Dynamo's DDP optimiser splits the graph at gradient-bucket boundaries and fails on these dynamic-shape graphs
    # ("'float' object has no attribute 'meta'" under torchrun, torch 2.13); the models fit one bucket anyway
    torch._dynamo.config.optimize_ddp = False
    return torch.compile(fn, dynamic=True)
