"""E(n)-equivariant graph network (EGNN) as EDM configures it, on padded, masked batches.

Satorras, Hoogeboom & Welling, "E(n) Equivariant Graph Neural Networks" (ICML 2021), eqs. 3-6, in the
variant of Hoogeboom et al., "Equivariant Diffusion for Molecule Generation in 3D" (ICML 2022); reference
code ehoogeboom/e3_diffusion_for_molecules, egnn/egnn_new.py (EGNN, EquivariantBlock, GCL,
EquivariantUpdate, coord2diff). One block on the fully connected graph of real atoms (i != j):

    d_ij = |x_i - x_j|^2,   d0_ij = the same at the network input,   e_ij = (d_ij, d0_ij)
    m_ij = phi_e(h_i, h_j, e_ij)                       Linear-SiLU-Linear-SiLU
    h_i <- h_i + phi_h(h_i, sum_j sigmoid(w . m_ij + b) m_ij)           (attention; sum aggregation)
    x_i <- x_i + sum_j (x_i - x_j) / (sqrt(d_ij) + 1) * 15 tanh(phi_x(h_i, h_j, e_ij))

Speed (benchmarks/molecules/README.md): the first Linear of phi_e and phi_x acts on the concatenation
[h_i, h_j, e_ij]; it is computed as W_a h_i + W_b h_j per atom plus W_e e_ij per pair -- the same
function with a third of the pair FLOPs -- and pairs are formed over real atoms only: "edges" packs
the real pairs of the batch into an edge list (gather + index_add); "dense" runs [B, N, N, H] tensors
on the batch trimmed to its largest molecule; "buckets" runs "dense" per group of molecules of similar
size (groups chosen per batch), which keeps the tensors cache-sized. `compile=True` runs the edge-list
network through torch.compile (fused elementwise kernels). `reference_forward` is the plain
concatenating version, kept for tests and benchmarks.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from gensci.nets.graph import EdgeList, compiled, pair_mlp
from gensci.ops.masks import edge_mask, gather_nodes, real_first, scatter_nodes, size_groups


class GCL(nn.Module):
    """Invariant node update (egnn_new.py GCL, attention on, edge features (d_ij, d0_ij)). `edge_nf`: pair features
    after [h_i, h_j]; 1 (d_ij alone) in the property regressor (gensci.nets.property_egnn)."""

    def __init__(self, hidden_nf: int, attention: bool = True, edge_nf: int = 2):
        super().__init__()
        self.edge_mlp = nn.Sequential(
            nn.Linear(2 * hidden_nf + edge_nf, hidden_nf), nn.SiLU(), nn.Linear(hidden_nf, hidden_nf), nn.SiLU()
        )
        self.node_mlp = nn.Sequential(nn.Linear(2 * hidden_nf, hidden_nf), nn.SiLU(), nn.Linear(hidden_nf, hidden_nf))
        self.att_mlp = nn.Linear(hidden_nf, 1) if attention else None


class EquivariantBlock(nn.Module):
    """`inv_sublayers` GCLs then one coordinate update (egnn_new.py EquivariantBlock/EquivariantUpdate)."""

    def __init__(self, hidden_nf: int, inv_sublayers: int = 1, attention: bool = True):
        super().__init__()
        self.gcls = nn.ModuleList(GCL(hidden_nf, attention) for _ in range(inv_sublayers))
        last = nn.Linear(hidden_nf, 1, bias=False)
        nn.init.xavier_uniform_(last.weight, gain=0.001)  # as egnn_new.py EquivariantUpdate
        self.coord_mlp = nn.Sequential(
            nn.Linear(2 * hidden_nf + 2, hidden_nf), nn.SiLU(), nn.Linear(hidden_nf, hidden_nf), nn.SiLU(), last
        )


class EGNN(nn.Module):
    """E(n)-equivariant graph network: (h [B, N, F], x [B, N, 3], node_mask [B, N]) -> (h_out [B, N, F_out], x_out).

    h_out is invariant and x_out equivariant under rotations, reflections and translations of x, both
    permute with the atoms; padding atoms never change real atoms' outputs and their outputs are zero.
    Defaults are EDM's QM9 settings (main_qm9.py + README command): attention, tanh coordinates with
    coords_range 15 per block, norm_constant 1, inv_sublayers 1, sum aggregation with normalization_factor 1.
    """

    def __init__(
        self,
        in_node_nf: int,
        hidden_nf: int = 256,
        n_layers: int = 9,
        out_node_nf: int | None = None,
        attention: bool = True,
        tanh: bool = True,
        coords_range: float = 15.0,
        norm_constant: float = 1.0,
        inv_sublayers: int = 1,
        normalization_factor: float = 1.0,
        aggregation: Literal["sum", "mean"] = "sum",
        impl: Literal["edges", "dense", "buckets"] = "edges",
        group_cost: float | None = None,
        compile: bool = False,
    ):
        super().__init__()
        self.hidden_nf, self.tanh, self.coords_range = hidden_nf, tanh, float(coords_range)
        self.norm_constant, self.aggregation = norm_constant, aggregation
        self.normalization_factor, self.compile = normalization_factor, compile
        # "buckets": a dense group costs about as much as this many extra pairs (launch overhead), measured on
        # CPU at width 256 and scaled with the per-pair work (width^2); see benchmarks/molecules/README.md
        self.impl, self.group_cost = impl, 200.0 * (256 / hidden_nf) ** 2 if group_cost is None else group_cost
        self.embedding = nn.Linear(in_node_nf, hidden_nf)
        self.embedding_out = nn.Linear(hidden_nf, out_node_nf or in_node_nf)
        self.blocks = nn.ModuleList(EquivariantBlock(hidden_nf, inv_sublayers, attention) for _ in range(n_layers))

    def forward(self, h: Tensor, x: Tensor, node_mask: Tensor) -> tuple[Tensor, Tensor]:
        mask = node_mask.bool()
        if self.impl == "edges":
            graph = EdgeList(mask)
            run = compiled(EGNN._run) if self.compile else EGNN._run
            h_out, x_out = run(self, graph, graph.pack(h), graph.pack(x))
            return graph.unpack(h_out, mask.shape), graph.unpack(x_out, mask.shape)
        if self.impl == "dense":
            return self._dense(h, x, mask)
        groups = size_groups(mask.sum(1), self.group_cost)  # "buckets": dense per group of similar sizes
        outs = [self._dense(h[g], x[g], mask[g]) for g in groups]
        inverse = torch.argsort(torch.cat(groups))
        return torch.cat([o[0] for o in outs])[inverse], torch.cat([o[1] for o in outs])[inverse]

    def _dense(self, h: Tensor, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        index = real_first(mask)  # [B, n_max]: real atoms first, batch trimmed to its largest molecule
        graph = _Dense(gather_nodes(mask.unsqueeze(-1), index).squeeze(-1))
        h_out, x_out = self._run(graph, graph.mask(gather_nodes(h, index)), graph.mask(gather_nodes(x, index)))
        return scatter_nodes(h_out, index, mask.shape[1]), scatter_nodes(x_out, index, mask.shape[1])

    def _run(self, graph, h: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        d0, _ = graph.radial(x, self.norm_constant)
        h = self.embedding(h)
        for block in self.blocks:
            d, diff = graph.radial(x, self.norm_constant)
            e = torch.cat([d, d0], -1)
            for gcl in block.gcls:
                m = pair_mlp(gcl.edge_mlp, graph, h, e)
                w = torch.sigmoid(gcl.att_mlp(m)) if gcl.att_mlp is not None else None
                agg = self._aggregate(graph, m, w)
                h = graph.mask(h + gcl.node_mlp(torch.cat([h, agg.to(h.dtype)], -1)))
            s = pair_mlp(block.coord_mlp, graph, h, e).to(x.dtype)
            s = torch.tanh(s) * self.coords_range if self.tanh else s
            x = graph.mask(x + self._aggregate(graph, diff, s))
        return graph.mask(self.embedding_out(h)), x

    def _aggregate(self, graph, v: Tensor, w: Tensor | None) -> Tensor:
        agg = graph.sum(v, w)
        if self.aggregation == "mean":
            return agg / graph.degree().clamp(min=1).to(agg.dtype)
        return agg / self.normalization_factor


class _Dense:
    """[B, N, N, .] pair tensors with an edge mask (padding pairs and i == j weighted 0)."""

    def __init__(self, mask: Tensor):
        self.node = mask.unsqueeze(-1)
        self.edge = edge_mask(mask).unsqueeze(-1)

    def pairs(self, a: Tensor, b: Tensor) -> Tensor:
        return a.unsqueeze(2) + b.unsqueeze(1)

    def radial(self, x: Tensor, norm_constant: float) -> tuple[Tensor, Tensor]:
        diff = x.unsqueeze(2) - x.unsqueeze(1)
        d = (diff**2).sum(-1, keepdim=True)
        return d, diff / (torch.sqrt(d + 1e-8) + norm_constant)

    def sum(self, v: Tensor, w: Tensor | None) -> Tensor:
        w = self.edge.to(v.dtype) if w is None else w.to(v.dtype) * self.edge
        return (v * w).sum(2)

    def degree(self) -> Tensor:
        return self.edge.sum(2)

    def mask(self, v: Tensor) -> Tensor:
        return v * self.node.to(v.dtype)


def reference_forward(net: EGNN, h: Tensor, x: Tensor, node_mask: Tensor) -> tuple[Tensor, Tensor]:
    """The plain dense EGNN over all N x N padded pairs, concatenating [h_i, h_j, d_ij, d0_ij] as
    egnn_new.py does; shares `net`'s weights. Slow; the obviously-correct version for tests/benchmarks."""
    n = x.shape[1]
    m = node_mask.unsqueeze(-1).to(x.dtype)
    e = edge_mask(node_mask).unsqueeze(-1).to(x.dtype)

    def pairs(u: Tensor) -> Tensor:
        return torch.cat([u.unsqueeze(2).expand(-1, -1, n, -1), u.unsqueeze(1).expand(-1, n, -1, -1)], -1)

    def radial(x: Tensor) -> tuple[Tensor, Tensor]:
        diff = x.unsqueeze(2) - x.unsqueeze(1)
        d = (diff**2).sum(-1, keepdim=True)
        return d, diff / (torch.sqrt(d + 1e-8) + net.norm_constant)

    def aggregate(v: Tensor) -> Tensor:
        agg = (v * e).sum(2)
        return agg / e.sum(2).clamp(min=1) if net.aggregation == "mean" else agg / net.normalization_factor

    d0, _ = radial(x)
    h = net.embedding(h)
    for block in net.blocks:
        d, diff = radial(x)
        for gcl in block.gcls:
            mij = gcl.edge_mlp(torch.cat([pairs(h), d, d0], -1))
            att = torch.sigmoid(gcl.att_mlp(mij)) if gcl.att_mlp is not None else 1.0
            h = (h + gcl.node_mlp(torch.cat([h, aggregate(mij * att)], -1))) * m
        s = block.coord_mlp(torch.cat([pairs(h), d, d0], -1))
        s = torch.tanh(s) * net.coords_range if net.tanh else s
        x = (x + aggregate(diff * s)) * m
        h = h * m
    return net.embedding_out(h) * m, x
