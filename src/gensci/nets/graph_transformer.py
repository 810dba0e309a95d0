"""DiGress's graph transformer: node, edge and global (graph-level) features updated together.

Vignac, Krawczuk, Siraudin, Wang, Cevher & Frossard, "DiGress: Discrete Denoising diffusion for graph generation"
(ICLR 2023), sec. 4.3 and appendix B.1; cvignac/DiGress at 780242b, src/models/transformer_model.py (GraphTransformer,
XEyTransformerLayer, NodeEdgeBlock) and src/models/layers.py (Xtoy, Etoy). One attention block (NodeEdgeBlock), per
head h and channel c (df = dx / n_head channels per head; the scores are per channel, not summed over channels):

    Y_ijc = (Q_ic K_jc / sqrt(df)) (1 + W_mul E_ij)_c + (W_add E_ij)_c          FiLM of the scores by the edges
    E'_ij = W_eo ((1 + W_ym y) * Y_ij + W_ya y)                                  new edges from the scores, FiLM by y
    X'_i  = W_xo ((1 + W_xm y) * sum_j softmax_j(Y_ij.) V_j + W_xa y)            attention over real nodes j
    y'    = MLP(W_y y + pool(X) + pool(E))                                      pool: mean, min, max, std -> Linear

then residual + LayerNorm and a feed-forward block (ReLU, dropout) per stream (XEyTransformerLayer). The network:
input MLPs (edges symmetrised), n_layers blocks, output MLPs; the node and edge logits add the first out_x / out_e
input channels (the noisy one-hots) as the reference does, and the edge logits are symmetrised and zero on the
diagonal. Differences from the reference, so that padding changes nothing: pooling into y uses real nodes (and real
pairs i != j) only, with the population std (the reference pools over the padded tensor); streams are re-masked after
every block. Inputs: X [B, N, in_x], E [B, N, N, in_e] (symmetric), y [B, in_y], node_mask [B, N]. Outputs: node
logits [B, N, out_x] and edge logits [B, N, N, out_e], zero on padding. Permutation-equivariant.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def mlp(d_in: int, d_hidden: int, d_out: int, act_out: bool) -> nn.Sequential:
    """Linear-ReLU-Linear(-ReLU): the reference's mlp_in_* (act_out) and mlp_out_* blocks."""
    layers = [nn.Linear(d_in, d_hidden), nn.ReLU(), nn.Linear(d_hidden, d_out)]
    return nn.Sequential(*layers, nn.ReLU()) if act_out else nn.Sequential(*layers)


def masked_pool(v: Tensor, mask: Tensor) -> Tensor:
    """[B, ..., F] with mask [B, ...] -> [B, 4 F]: mean, min, max and (population) std over the masked entries;
    zeros for a graph without any (a one-atom molecule has no pairs)."""
    b, f = v.shape[0], v.shape[-1]
    v, m = v.reshape(b, -1, f), mask.reshape(b, -1, 1).to(v.dtype)
    count = m.sum(1).clamp(min=1)
    mean = (v * m).sum(1) / count
    var = ((v - mean.unsqueeze(1)).square() * m).sum(1) / count
    real = m.bool()
    low = torch.where(real, v, torch.inf).amin(1)
    high = torch.where(real, v, -torch.inf).amax(1)
    some = m.sum(1) > 0
    low, high = torch.where(some, low, 0.0), torch.where(some, high, 0.0)
    return torch.cat([mean, low, high, torch.sqrt(var + 1e-8)], -1)


class NodeEdgeBlock(nn.Module):
    """Self-attention with edge FiLM that also updates edges and the global features (module docstring)."""

    def __init__(self, dx: int, de: int, dy: int, n_head: int):
        super().__init__()
        if dx % n_head:
            raise ValueError(f"dx ({dx}) must be a multiple of n_head ({n_head})")
        self.n_head, self.df = n_head, dx // n_head
        self.q, self.k, self.v = nn.Linear(dx, dx), nn.Linear(dx, dx), nn.Linear(dx, dx)
        self.e_add, self.e_mul = nn.Linear(de, dx), nn.Linear(de, dx)
        self.y_e_add, self.y_e_mul = nn.Linear(dy, dx), nn.Linear(dy, dx)
        self.y_x_add, self.y_x_mul = nn.Linear(dy, dx), nn.Linear(dy, dx)
        self.y_y, self.x_y, self.e_y = nn.Linear(dy, dy), nn.Linear(4 * dx, dy), nn.Linear(4 * de, dy)
        self.x_out, self.e_out = nn.Linear(dx, dx), nn.Linear(dx, de)
        self.y_out = nn.Sequential(nn.Linear(dy, dy), nn.ReLU(), nn.Linear(dy, dy))

    def forward(self, x: Tensor, e: Tensor, y: Tensor, node_mask: Tensor, pair_mask: Tensor) -> tuple[Tensor, ...]:
        b, n, dx = x.shape
        m = node_mask.unsqueeze(-1).to(x.dtype)
        pm = (node_mask.unsqueeze(1) & node_mask.unsqueeze(2)).unsqueeze(-1).to(x.dtype)  # real pairs incl. i == j
        q, k = self.q(x) * m, self.k(x) * m
        scores = q.unsqueeze(2) * k.unsqueeze(1) / math.sqrt(self.df)  # [B, N, N, dx]: i, j, channel
        scores = scores * (self.e_mul(e) * pm + 1) + self.e_add(e) * pm
        new_e = self.y_e_add(y)[:, None, None] + (self.y_e_mul(y)[:, None, None] + 1) * scores
        new_e = self.e_out(new_e) * pm
        keys = node_mask[:, None, :, None]  # attend to real nodes j only
        attn = torch.softmax(scores.masked_fill(~keys, -torch.inf), dim=2)
        weighted = (attn * (self.v(x) * m).unsqueeze(1)).sum(2)  # [B, N, dx]
        new_x = self.y_x_add(y).unsqueeze(1) + (self.y_x_mul(y).unsqueeze(1) + 1) * weighted
        new_x = self.x_out(new_x) * m
        new_y = self.y_out(self.y_y(y) + self.x_y(masked_pool(x, node_mask)) + self.e_y(masked_pool(e, pair_mask)))
        return new_x, new_e, new_y


class GraphTransformerLayer(nn.Module):
    """NodeEdgeBlock, then per stream: dropout, residual, LayerNorm, feed-forward (ReLU), residual, LayerNorm."""

    def __init__(self, dx: int, de: int, dy: int, n_head: int, ff_x: int, ff_e: int, ff_y: int, dropout: float):
        super().__init__()
        self.attention = NodeEdgeBlock(dx, de, dy, n_head)
        self.streams = nn.ModuleDict({
            name: nn.ModuleDict({"norm1": nn.LayerNorm(d), "norm2": nn.LayerNorm(d),
                                 "ff": nn.Sequential(nn.Linear(d, ff), nn.ReLU(), nn.Dropout(dropout), nn.Linear(ff, d),
                                                     nn.Dropout(dropout))})
            for name, d, ff in (("x", dx, ff_x), ("e", de, ff_e), ("y", dy, ff_y))})
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, e: Tensor, y: Tensor, node_mask: Tensor, pair_mask: Tensor) -> tuple[Tensor, ...]:
        updates = self.attention(x, e, y, node_mask, pair_mask)
        out = []
        for (name, s), old, new in zip(self.streams.items(), (x, e, y), updates):
            h = s["norm1"](old + self.dropout(new))
            out.append(s["norm2"](h + s["ff"](h)))
        x, e, y = out
        m = node_mask.unsqueeze(-1).to(x.dtype)
        pm = (node_mask.unsqueeze(1) & node_mask.unsqueeze(2)).unsqueeze(-1).to(x.dtype)
        return x * m, e * pm, y


class GraphTransformer(nn.Module):
    """(X [B, N, in_x], E [B, N, N, in_e], y [B, in_y], node_mask [B, N]) -> (node logits [B, N, out_x], edge logits
    [B, N, N, out_e]); see the module docstring. Widths as the reference's hidden_dims (dx, de, dy, n_head,
    ff_x/e/y = dim_ffX/E/y) and hidden_mlp_dims (mlp_x/e/y)."""

    def __init__(self, in_x: int, in_e: int, in_y: int, out_x: int, out_e: int, n_layers: int = 9, dx: int = 256,
                 de: int = 64, dy: int = 64, n_head: int = 8, ff_x: int = 256, ff_e: int = 128, ff_y: int = 128,
                 mlp_x: int = 256, mlp_e: int = 128, mlp_y: int = 128, dropout: float = 0.1):
        super().__init__()
        if out_x > in_x or out_e > in_e:
            raise ValueError("the first out_x / out_e input channels must be the noisy one-hots (added to the logits)")
        self.out_x, self.out_e = out_x, out_e
        self.in_x, self.in_e, self.in_y = mlp(in_x, mlp_x, dx, True), mlp(in_e, mlp_e, de, True), mlp(in_y, mlp_y, dy, True)
        self.layers = nn.ModuleList(GraphTransformerLayer(dx, de, dy, n_head, ff_x, ff_e, ff_y, dropout)
                                    for _ in range(n_layers))
        self.out_x_mlp, self.out_e_mlp = mlp(dx, mlp_x, out_x, False), mlp(de, mlp_e, out_e, False)

    def forward(self, x: Tensor, e: Tensor, y: Tensor, node_mask: Tensor) -> tuple[Tensor, Tensor]:
        node_mask = node_mask.bool()
        n = x.shape[1]
        off_diagonal = ~torch.eye(n, dtype=torch.bool, device=x.device)
        pairs = node_mask.unsqueeze(1) & node_mask.unsqueeze(2)
        pair_mask = pairs & off_diagonal  # real pairs i != j: pooled into y
        m, pm = node_mask.unsqueeze(-1).to(x.dtype), pairs.unsqueeze(-1).to(x.dtype)
        h_e = self.in_e(e)
        h_x, h_e, h_y = self.in_x(x) * m, 0.5 * (h_e + h_e.transpose(1, 2)) * pm, self.in_y(y)
        for layer in self.layers:
            h_x, h_e, h_y = layer(h_x, h_e, h_y, node_mask, pair_mask)
        logits_x = (self.out_x_mlp(h_x) + x[..., : self.out_x]) * m
        logits_e = (self.out_e_mlp(h_e) + e[..., : self.out_e]) * (pair_mask.unsqueeze(-1).to(x.dtype))
        return logits_x, 0.5 * (logits_e + logits_e.transpose(1, 2))
