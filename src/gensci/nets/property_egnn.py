"""The EGNN property regressor of EDM's conditional-generation protocol: one molecule in, one number out.

Satorras, Hoogeboom & Welling, "E(n) Equivariant Graph Neural Networks" (ICML 2021), QM9 regression, as EDM
configures it to score conditional samples (Hoogeboom et al., ICML 2022; reference code
ehoogeboom/e3_diffusion_for_molecules, qm9/property_prediction/models_property.py EGNN + E_GCL_mask,
models/gcl.py E_GCL; main_qm9_prop.py argument defaults: 7 layers, 128 hidden, attention, node_attr 0,
in_node_nf 5 = the H, C, N, O, F one-hot). On the fully connected graph of real atoms (i != j):

    h_i <- Linear(one_hot_i)
    m_ij = phi_e(h_i, h_j, |x_i - x_j|^2)                      Linear-SiLU-Linear-SiLU
    h_i <- h_i + phi_h(h_i, sum_j sigmoid(w . m_ij + b) m_ij)           (attention; sum aggregation)
    y = phi_g(sum_i phi_n(h_i))                                phi_n, phi_g: Linear-SiLU-Linear

Coordinates are never updated (E_GCL_mask leaves its coordinate model out), so y is invariant under rotations,
reflections, translations and permutations of the atoms, and padding atoms change nothing. The layers are
gensci.nets.egnn.GCL with one pair feature; pairs are an edge list over real atoms (gensci.nets.graph).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gensci.nets.egnn import GCL
from gensci.nets.graph import EdgeList, pair_mlp


class PropertyEGNN(nn.Module):
    """(one_hot [B, N, F], x [B, N, 3], node_mask [B, N]) -> y [B] (the normalised property; see module docstring).

    Defaults are main_qm9_prop.py's: hidden_nf 128, n_layers 7, attention on, SiLU.
    """

    def __init__(self, in_node_nf: int = 5, hidden_nf: int = 128, n_layers: int = 7, attention: bool = True):
        super().__init__()
        self.embedding = nn.Linear(in_node_nf, hidden_nf)
        self.gcls = nn.ModuleList(GCL(hidden_nf, attention, edge_nf=1) for _ in range(n_layers))
        self.node_dec = nn.Sequential(nn.Linear(hidden_nf, hidden_nf), nn.SiLU(), nn.Linear(hidden_nf, hidden_nf))
        self.graph_dec = nn.Sequential(nn.Linear(hidden_nf, hidden_nf), nn.SiLU(), nn.Linear(hidden_nf, 1))

    def forward(self, h: Tensor, x: Tensor, node_mask: Tensor) -> Tensor:
        mask = node_mask.bool()
        graph = EdgeList(mask)
        d, _ = graph.radial(graph.pack(x), 1.0)  # squared distances; models_property.py passes no other edge feature
        h = self.embedding(graph.pack(h))
        for gcl in self.gcls:
            m = pair_mlp(gcl.edge_mlp, graph, h, d)
            w = torch.sigmoid(gcl.att_mlp(m)) if gcl.att_mlp is not None else None
            h = h + gcl.node_mlp(torch.cat([h, graph.sum(m, w)], -1))
        per_atom = self.node_dec(h)
        molecule = graph.flat // mask.shape[1]  # which molecule each packed atom belongs to
        pooled = per_atom.new_zeros(mask.shape[0], per_atom.shape[-1]).index_add_(0, molecule, per_atom)
        return self.graph_dec(pooled).squeeze(-1)
