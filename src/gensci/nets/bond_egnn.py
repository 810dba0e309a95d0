"""BondEGNN: an E(3)-equivariant graph network with edge (bond) features and narrow pair messages.

For models that generate atoms, charges and bonds jointly with coordinates (MiDi, Vignac et al. 2023;
SemlaFlow, Irwin et al. 2024). EGNN's update (Satorras et al. 2021, eqs. 3-6, as in gensci.nets.egnn) with
two changes that make pairs cheap and carry bonds:
- an edge state e_ij (width `edge_nf`) that enters every message and is updated by it (as MiDi's and
  Semla's edge channels; the bond logits are read from it);
- messages of width `message_nf` < `hidden_nf`: node features enter pairs through per-atom projections (the
  split first layer of gensci.nets.graph.pair_mlp), so each pair costs ~message_nf x (message_nf + edge_nf)
  instead of EGNN's 2 hidden_nf^2 (Semla's "project nodes to a small message width before forming pairs",
  semla-flow models/semla.py EdgeMessages.node_proj; benchmarks/molecules/README.md measures the gain).
One layer on the fully connected graph of real atoms (i != j), r_ij = |x_i - x_j|:

    m_ij = phi_m(LN(h)_i, LN(h)_j, LN(e)_ij, rbf(r_ij))               Linear-SiLU-Linear-SiLU, width message_nf
    h_i <- h_i + phi_h(LN(h)_i, sum_j sigmoid(w . m_ij) m_ij / Z)
    x_i <- x_i + sum_j (x_i - x_j) / (r_ij + 1) * (w_x . m_ij) / Z      (Z = normalization_factor)
    e_ij <- e_ij + W_e m_ij

Inputs: node features h [B, N, F] (invariant: atom type and charge one-hots, time, ...), coordinates x [B, N, 3],
edge features e [B, N, N, E] (bond one-hots, ...; symmetric), node_mask [B, N]; optionally x_cond [B, N, 3]
(self-conditioning: distances of a previous prediction enter the initial edge state). The input distances enter
the initial edge state too. Outputs: x_out [B, N, 3] (E(3)-equivariant; translation-equivariant, so the caller
removes the centre of mass), node outputs [B, N, F_out] (invariant) and edge outputs [B, N, N, K] (invariant,
exactly symmetric: the head reads e_ij + e_ji and the two atoms symmetrically), zero on padding and diagonal.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gensci.nets.graph import EdgeList, compiled, pair_mlp


class RadialBasis(nn.Module):
    """r [E, 1] -> [E, n + 1]: Gaussians exp(-((r - mu_k) / delta)^2) on n centres in [0, r_max], and r itself."""

    def __init__(self, n: int = 16, r_max: float = 6.0):
        super().__init__()
        self.register_buffer("centres", torch.linspace(0.0, r_max, n), persistent=False)
        self.width = r_max / (n - 1)

    def forward(self, r: Tensor) -> Tensor:
        return torch.cat([torch.exp(-(((r - self.centres) / self.width) ** 2)), r], -1)


class BondEGNNLayer(nn.Module):
    def __init__(self, hidden_nf: int, message_nf: int, edge_nf: int, n_geo: int):
        super().__init__()
        self.node_norm, self.edge_norm = nn.LayerNorm(hidden_nf), nn.LayerNorm(edge_nf)
        self.message_mlp = nn.Sequential(nn.Linear(2 * hidden_nf + edge_nf + n_geo, message_nf), nn.SiLU(),
                                         nn.Linear(message_nf, message_nf), nn.SiLU())
        self.gate = nn.Linear(message_nf, 1)
        self.node_mlp = nn.Sequential(nn.Linear(hidden_nf + message_nf, hidden_nf), nn.SiLU(),
                                      nn.Linear(hidden_nf, hidden_nf))
        self.coord = nn.Linear(message_nf, 1, bias=False)
        nn.init.xavier_uniform_(self.coord.weight, gain=0.001)  # small first moves, as egnn_new.py EquivariantUpdate
        self.edge_update = nn.Linear(message_nf, edge_nf)


class BondEGNN(nn.Module):
    """(h [B, N, F], x [B, N, 3], e [B, N, N, E], node_mask [B, N], x_cond [B, N, 3] | None)
    -> (x_out [B, N, 3], h_out [B, N, out_node_nf], e_out [B, N, N, out_edge_nf]); see the module docstring."""

    def __init__(self, in_node_nf: int, in_edge_nf: int, out_node_nf: int, out_edge_nf: int, hidden_nf: int = 128,
                 message_nf: int = 32, edge_nf: int = 32, n_layers: int = 6, n_rbf: int = 16, rbf_max: float = 6.0,
                 normalization_factor: float = 10.0, cond_coords: bool = False, compile: bool = False):
        super().__init__()
        self.normalization_factor, self.cond_coords, self.compile = normalization_factor, cond_coords, compile
        self.rbf = RadialBasis(n_rbf, rbf_max)
        n_geo = n_rbf + 1
        self.node_in = nn.Sequential(nn.Linear(in_node_nf, hidden_nf), nn.SiLU(), nn.Linear(hidden_nf, hidden_nf))
        edge_in = in_edge_nf + n_geo * (2 if cond_coords else 1)
        self.edge_in = nn.Sequential(nn.Linear(edge_in, edge_nf), nn.SiLU(), nn.Linear(edge_nf, edge_nf))
        self.layers = nn.ModuleList(BondEGNNLayer(hidden_nf, message_nf, edge_nf, n_geo) for _ in range(n_layers))
        self.node_out = nn.Sequential(nn.LayerNorm(hidden_nf), nn.Linear(hidden_nf, hidden_nf), nn.SiLU(),
                                      nn.Linear(hidden_nf, out_node_nf))
        self.bond_norm, self.bond_node = nn.LayerNorm(edge_nf), nn.Linear(hidden_nf, edge_nf)
        self.bond_out = nn.Sequential(nn.Linear(edge_nf + n_geo, edge_nf), nn.SiLU(), nn.Linear(edge_nf, out_edge_nf))

    def forward(self, h: Tensor, x: Tensor, e: Tensor, node_mask: Tensor,
                x_cond: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        if (x_cond is not None) != self.cond_coords:
            raise ValueError(f"x_cond must be given exactly when the network was built with cond_coords "
                             f"(cond_coords={self.cond_coords})")
        graph = EdgeList(node_mask.bool())
        graph.reverse  # noqa: B018  (computed here, outside a compiled _run)
        run = compiled(BondEGNN._run) if self.compile else BondEGNN._run
        cond = graph.pack(x_cond) if x_cond is not None else None
        x_out, h_out, e_out = run(self, graph, graph.pack(h), graph.pack(x), graph.pack_pairs(e), cond)
        return graph.unpack(x_out), graph.unpack(h_out), graph.unpack_pairs(e_out)

    def _run(self, graph: EdgeList, h: Tensor, x: Tensor, e: Tensor, x_cond: Tensor | None):
        geo = [self._distances(graph, x)]
        if x_cond is not None:
            geo.append(self._distances(graph, x_cond))
        e = self.edge_in(torch.cat([e.to(x.dtype)] + geo, -1))
        h = self.node_in(h)
        for layer in self.layers:
            d, unit = graph.radial(x, 1.0)
            hn = layer.node_norm(h)
            m = pair_mlp(layer.message_mlp, graph, hn, torch.cat([layer.edge_norm(e), self.rbf(torch.sqrt(d + 1e-8))], -1))
            agg = graph.sum(m, torch.sigmoid(layer.gate(m))) / self.normalization_factor
            h = h + layer.node_mlp(torch.cat([hn, agg], -1))
            x = x + graph.sum(unit * layer.coord(m)) / self.normalization_factor
            e = e + layer.edge_update(m)
        a = self.bond_node(h)
        sym = self.bond_norm(e + e[graph.reverse]) + graph.pairs(a, a)  # symmetric in i and j
        bonds = self.bond_out(torch.cat([sym, self._distances(graph, x)], -1))
        return x, self.node_out(h), 0.5 * (bonds + bonds[graph.reverse])  # bit-exact (matmuls round per row)

    def _distances(self, graph: EdgeList, x: Tensor) -> Tensor:
        d, _ = graph.radial(x, 1.0)
        return self.rbf(torch.sqrt(d + 1e-8))
