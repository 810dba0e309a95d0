"""DiGress: discrete denoising diffusion of molecular graphs (atoms and bonds, no coordinates).

Vignac, Krawczuk, Siraudin, Wang, Cevher & Frossard, "DiGress: Discrete Denoising diffusion for graph generation"
(ICLR 2023); reference code cvignac/DiGress at 780242b (src/diffusion_model_discrete.py, configs/). Nodes and edges
are categorical; each is noised independently by marginal transitions (sec. 4.1: Q_t = a_t I + (1 - a_t) 1 m^T with m
the training frequencies, so the prior is m) on a cosine schedule (noise_schedule.py PredefinedNoiseScheduleDiscrete
= gensci.methods.diffusion.discrete.cosine_alpha_bar with nu = 1), T = 500 (configs/model/discrete.yaml). A graph
transformer (gensci.nets.graph_transformer) sees the noisy graph, DiGress's structural and spectral features of it
(gensci.ops.graph_features, extra_features "all"), its molecular features (extra_features_molecular.py: per atom the
element's usual valence minus its current bond-order sum, and that sum; the molecular weight) and t, and predicts
the clean graph (molecular features as the reference means them, not as its code computes them:
extra_features_molecular.py at 75c8c47 takes argmax(X_t * valencies), the class index, as the "normal valence", and
the class index of a bond as its order; here the element's valence and the bond orders, aromatic 1.5. The weight
feature is divided by max_n_atoms x the heaviest element's weight, 171 on qm9-graph, where the reference divides by
its QM9 constant max_weight = 150, src/datasets/qm9_dataset.py); the loss is cross-entropy on nodes + lambda x
cross-entropy on edges (lambda = 5, configs lambda_train [5, 0]). Training draws t uniformly from 0..T (apply_noise,
lowest_t = 0 in training). Sampling: from the prior, ancestral steps through
p(x_s | x_t) = sum_c p(x_0 = c | x_t) q(x_s | x_t, x_0 = c) (sec. 4.2); gensci's posteriors are exact for any s < t,
so a strided grid of fewer steps samples correctly too.

Formal charges. The reference models QM9's heavy atoms as four elements and no charges; its validity then rejects
the nitro groups and zwitterions it cannot express (QM9 heavy atoms: 882 charged atoms in the 100k training
molecules). Here a node's category is the pair (element, formal charge), restricted to the pairs that occur in the
training split (info "atom_charge_marginal"; on qm9-graph 8: C, C-, N, N+, N-, O, O-, F). This keeps DiGress's model
unchanged (one categorical per node, marginal prior over the categories) while every generated atom carries a charge
the data has: the noise never produces an unseen pair such as F+, the marginal prior gives charged atoms their
(small) training frequency, and the network decides element and charge together, as the valence rules need.

Batches: node_mask [B, N], atom_types [B, N] (index into info["atom_types"], -1 on padding), formal_charges [B, N]
(values in info["charge_values"]), bonds [B, N, N] (index into info["bond_types"]; symmetric). Samples: the same keys
padded to info["max_n_atoms"]; no positions (the molecule workflow scores graphs and writes ETKDG conformers).
"""

from __future__ import annotations

from typing import Any, Callable, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

from gensci.errors import ConfigError, ContractError, UserError
from gensci.methods.base import Method, SamplingOptions, StepsConfig
from gensci.methods.diffusion import discrete
from gensci.methods.diffusion.samplers import frame_indices, time_grid
from gensci.methods.edm import n_atoms_distribution
from gensci.nets.graph_transformer import GraphTransformer
from gensci.ops.graph_features import extra_feature_dims, graph_extra_features
from gensci.ops.masks import edge_mask, mask_from_sizes
from gensci.ops.random import sample_categorical
from gensci.spec import Requirements, TensorSpec

# The molecular features' element tables (DiGress src/datasets/qm9_dataset.py QM9infos: valencies [1, 4, 3, 2, 1] and
# atom_weights {H: 1, C: 12, N: 14, O: 16, F: 19}), keyed by atomic number
NORMAL_VALENCE = {1: 1, 6: 4, 7: 3, 8: 2, 9: 1}
ATOM_WEIGHT = {1: 1, 6: 12, 7: 14, 8: 16, 9: 19}
BOND_ORDER = {"none": 0.0, "single": 1.0, "double": 2.0, "triple": 3.0, "aromatic": 1.5}
Callback = Callable[[int, Tensor, Tensor, float], None]  # (step k, node classes, edge classes, noise level in [0, 1])


class DiGressConfig(StepsConfig):
    """Defaults: the published QM9 (no H) model, configs/experiment/qm9_no_h.yaml (9 layers, lambda_train [5, 0]) over
    configs/model/discrete.yaml (widths, 500 steps, cosine, marginal transitions, extra_features "all")."""

    name: Literal["digress"] = "digress"
    timesteps: int = Field(500, ge=1, description="diffusion steps T (diffusion_steps)")
    n_layers: int = Field(9, ge=1)
    dx: int = Field(256, ge=1, description="node width (hidden_dims dx)")
    de: int = Field(64, ge=1, description="edge width (hidden_dims de)")
    dy: int = Field(64, ge=1, description="global width (hidden_dims dy)")
    n_head: int = Field(8, ge=1, description="attention heads; dx must be a multiple")
    ff_x: int = Field(256, ge=1, description="node feed-forward width (dim_ffX)")
    ff_e: int = Field(128, ge=1, description="edge feed-forward width (dim_ffE)")
    ff_y: int = Field(128, ge=1, description="global feed-forward width (dim_ffy)")
    mlp_x: int = Field(256, ge=1, description="node input/output MLP width (hidden_mlp_dims X)")
    mlp_e: int = Field(128, ge=1, description="edge input/output MLP width (hidden_mlp_dims E)")
    mlp_y: int = Field(128, ge=1, description="global input MLP width (hidden_mlp_dims y)")
    dropout: float = Field(0.1, ge=0, lt=1, description="XEyTransformerLayer's default")
    edge_weight: float = Field(5.0, ge=0, description="lambda: weight of the edge cross-entropy (lambda_train[0])")
    extra_features: Literal["none", "cycles", "eigenvalues", "all"] = "all"
    molecular_features: bool = Field(True, description="valence and weight features (extra_features_molecular.py)")
    sampling_steps: int = Field(500, ge=1, description="network calls per sample unless --steps or eval.sampling_steps "
                                "say otherwise (at most timesteps)")


class DiGress(Method):
    """Discrete denoising diffusion of molecular graphs (see the module docstring)."""

    Config = DiGressConfig
    capabilities = frozenset({"sample", "chain"})
    sampling_options = frozenset({"steps"})
    default_sample_batch = 250

    @classmethod
    def requires(cls, config: DiGressConfig) -> Requirements:
        items = {"node_mask": TensorSpec(("N",)), "atom_types": TensorSpec(("N",), "int"),
                 "formal_charges": TensorSpec(("N",), "int"), "bonds": TensorSpec(("N", "N"), "int")}
        info = {"atom_types", "charge_values", "bond_types", "n_nodes_hist", "max_n_atoms", "atom_charge_marginal",
                "bond_type_marginal"} | ({"atomic_numbers"} if config.molecular_features else set())
        return Requirements(items, frozenset(info), frozenset({"molecules"}))

    @classmethod
    def sample_spec(cls, config: DiGressConfig, info: dict[str, Any]) -> dict[str, TensorSpec]:
        n = int(info["max_n_atoms"])
        return {"atom_types": TensorSpec((n,), "int", "index into info atom_types, -1 pad"),
                "formal_charges": TensorSpec((n,), "int", "formal charge, 0 pad"),
                "bonds": TensorSpec((n, n), "int", "index into info bond_types, 0 none/pad"),
                "node_mask": TensorSpec((n,))}

    def __init__(self, config: DiGressConfig, info: dict[str, Any]):
        super().__init__(config, info)
        self.max_n_atoms = int(info["max_n_atoms"])
        n_types, charges = len(info["atom_types"]), [int(v) for v in info["charge_values"]]
        joint = torch.as_tensor(info["atom_charge_marginal"], dtype=torch.float64)
        if joint.shape != (n_types, len(charges)) or (joint < 0).any() or joint.sum() <= 0:
            raise ContractError(f"info 'atom_charge_marginal' must hold [{n_types}][{len(charges)}] non-negative "
                                "frequencies (atom type x formal charge)")
        pairs = joint.nonzero()  # the node categories: (type, charge index) pairs seen in training, row-major
        lookup = torch.full((n_types, len(charges)), -1, dtype=torch.long)
        lookup[pairs[:, 0], pairs[:, 1]] = torch.arange(len(pairs))
        self.register_buffer("class_of", lookup, persistent=False)
        self.register_buffer("charge_values", torch.tensor(charges), persistent=False)
        self.register_buffer("class_type", pairs[:, 0].clone(), persistent=False)
        self.register_buffer("class_charge", torch.tensor(charges)[pairs[:, 1]], persistent=False)
        self.register_buffer("marg_x", joint[pairs[:, 0], pairs[:, 1]] / joint.sum(), persistent=False)
        marg_e = torch.as_tensor(info["bond_type_marginal"], dtype=torch.float64)
        if marg_e.shape != (len(info["bond_types"]),) or (marg_e < 0).any() or marg_e.sum() <= 0:
            raise ContractError(f"info 'bond_type_marginal' must hold {len(info['bond_types'])} non-negative frequencies")
        self.register_buffer("marg_e", marg_e / marg_e.sum(), persistent=False)
        self.register_buffer("abar", discrete.cosine_alpha_bar(config.timesteps, 1.0), persistent=False)
        self.register_buffer("n_atoms_prob", n_atoms_distribution(info["n_nodes_hist"], self.max_n_atoms), False)
        self.kx, self.ke = len(pairs), len(info["bond_types"])
        node_extra, graph_extra = extra_feature_dims(config.extra_features)
        if config.molecular_features:
            self._molecular_tables(info, pairs[:, 0])
        mol_x, mol_y = (2, 1) if config.molecular_features else (0, 0)
        c = config
        self.net = GraphTransformer(self.kx + node_extra + mol_x, self.ke, graph_extra + mol_y + 1, self.kx, self.ke,
                                    c.n_layers, c.dx, c.de, c.dy, c.n_head, c.ff_x, c.ff_e, c.ff_y, c.mlp_x, c.mlp_e,
                                    c.mlp_y, c.dropout)

    def _molecular_tables(self, info: dict[str, Any], class_type: Tensor) -> None:
        numbers = [int(z) for z in info["atomic_numbers"]]
        unknown = sorted({z for z in numbers if z not in NORMAL_VALENCE}) + [
            b for b in info["bond_types"] if b not in BOND_ORDER]
        if unknown:
            raise ConfigError(f"DiGress's molecular features know the elements H C N O F and bond types "
                              f"{', '.join(BOND_ORDER)}; got {unknown}: set method.molecular_features=false")
        valence = torch.tensor([float(NORMAL_VALENCE[z]) for z in numbers])
        weight = torch.tensor([float(ATOM_WEIGHT[z]) for z in numbers])
        self.register_buffer("class_valence", valence[class_type], persistent=False)
        self.register_buffer("class_weight", weight[class_type] / (self.max_n_atoms * float(weight.max())), False)
        self.register_buffer("bond_order", torch.tensor([BOND_ORDER[b] for b in info["bond_types"]]), False)

    # ---- data <-> categories -----------------------------------------------------------------
    def encode(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """(node classes [B, N], bond classes [B, N, N], node_mask [B, N] bool); 0 on padding."""
        mask = batch["node_mask"].bool()
        n = mask.shape[1]
        same = batch["formal_charges"].long().unsqueeze(-1) == self.charge_values  # [B, N, C]
        x = self.class_of[batch["atom_types"].long().clamp(min=0), same.float().argmax(-1)]
        known = same.any(-1) & (x >= 0)
        if not known[mask].all():
            raise ContractError("the batch holds an atom type with a formal charge that info atom_charge_marginal "
                                "gives no frequency (not in the training split)")
        return self._masked(x.clamp(min=0), batch["bonds"][:, :n, :n].long(), mask)

    def _masked(self, x: Tensor, e: Tensor, mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return x * mask, discrete.symmetrize_pairs(e) * edge_mask(mask), mask

    def decode(self, x: Tensor, e: Tensor, mask: Tensor) -> dict[str, Tensor]:
        """Categories -> atom_types (-1 on padding), formal_charges (values), bonds; padded to max_n_atoms."""
        pad = self.max_n_atoms - mask.shape[1]
        pad_nodes = lambda v, value: F.pad(v, (0, pad), value=value)  # noqa: E731
        return {"atom_types": pad_nodes(torch.where(mask, self.class_type[x], -1), -1),
                "formal_charges": pad_nodes(self.class_charge[x] * mask, 0),
                "bonds": F.pad(e * edge_mask(mask), (0, pad, 0, pad)),
                "node_mask": pad_nodes(mask.float(), 0.0)}

    # ---- the network -----------------------------------------------------------------------------
    def network(self, x: Tensor, e: Tensor, t: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Logits of the clean graph (nodes [B, N, Kx], edges [B, N, N, Ke]) from noisy classes at time t [B]
        (t_int / T)."""
        pair = edge_mask(mask)
        m = mask.unsqueeze(-1).float()
        nodes = [F.one_hot(x, self.kx).float() * m]
        node_f, graph_f = graph_extra_features((e > 0).float(), mask, self.config.extra_features, self.max_n_atoms)
        nodes.append(node_f)
        graph = [graph_f]
        if self.config.molecular_features:
            valency = (self.bond_order[e] * pair).sum(-1)
            nodes += [((self.class_valence[x] - valency) * mask).unsqueeze(-1), (valency * mask).unsqueeze(-1)]
            graph.append((self.class_weight[x] * mask).sum(-1, keepdim=True))
        graph.append(t.float().view(-1, 1))
        edges = F.one_hot(e, self.ke).float() * pair.unsqueeze(-1)
        return self.net(torch.cat(nodes, -1), edges, torch.cat(graph, -1), mask)

    def loss(self, logits_x: Tensor, logits_e: Tensor, x0: Tensor, e0: Tensor, mask: Tensor):
        """Cross-entropy per real atom + edge_weight x cross-entropy per real pair i != j (TrainLossDiscrete)."""
        pair = edge_mask(mask)
        ce_x = F.cross_entropy(logits_x[mask], x0[mask])
        ce_e = F.cross_entropy(logits_e[pair], e0[pair]) if pair.any() else logits_e.new_zeros(())
        return ce_x + self.config.edge_weight * ce_e, {"loss_nodes": float(ce_x.detach()),
                                                       "loss_edges": float(ce_e.detach())}

    def train_step(self, batch: dict[str, Tensor], step: int, opt) -> dict[str, float]:
        x0, e0, mask = self.encode(batch)
        t_int = torch.randint(0, self.config.timesteps + 1, (len(mask),), device=mask.device)
        a = self.abar[t_int]
        xt, et, _ = self._masked(discrete.sample_noisy(x0, a.view(-1, 1), self.marg_x),
                                 discrete.sample_noisy(e0, a.view(-1, 1, 1), self.marg_e, pairs=True), mask)
        loss, parts = self.loss(*self.network(xt, et, t_int / self.config.timesteps, mask), x0, e0, mask)
        opt.step(loss, "main")
        return {"loss": float(loss.detach()), **parts}

    # ---- sampling --------------------------------------------------------------------------------
    def steps(self, options: SamplingOptions | None) -> int:
        if options is not None and options.steps is not None:
            return options.steps
        return min(self.config.sampling_steps, self.config.timesteps)

    def describe_sampling(self, options: SamplingOptions) -> dict[str, Any]:
        return {"sampling_steps": self.steps(options), "sampler": "ancestral"}  # exact posteriors on any grid

    @torch.no_grad()
    def denoise(self, mask: Tensor, steps: int, generator: torch.Generator | None = None,
                callback: Callback | None = None) -> tuple[Tensor, Tensor]:
        """Node and edge classes of graphs with the given node_mask [B, N] bool, from the prior in `steps` network
        calls on the strided grid T = t_0 > ... > t_steps = 0."""
        T, grid = self.config.timesteps, time_grid(self.config.timesteps, steps)
        b, n = mask.shape
        x, e, _ = self._masked(discrete.sample_prior(self.marg_x, (b, n), generator),
                               discrete.sample_prior(self.marg_e, (b, n, n), generator, pairs=True), mask)
        if callback is not None:
            callback(-1, x, e, 1.0)
        for k, (t, s) in enumerate(zip(grid[:-1], grid[1:])):
            logits_x, logits_e = self.network(x, e, torch.full((b,), t / T, device=mask.device), mask)
            a_t, a_s = self.abar[t].float(), self.abar[s].float()
            x = discrete.sample_reverse(x, torch.softmax(logits_x, -1), a_t, a_s, self.marg_x, generator)
            e = discrete.sample_reverse(e, torch.softmax(logits_e, -1), a_t, a_s, self.marg_e, generator, pairs=True)
            x, e, _ = self._masked(x, e, mask)
            if callback is not None:
                callback(k, x, e, s / T)
        return x, e

    @torch.no_grad()
    def sample_batch(self, n: int, condition, generator: torch.Generator | None,
                     options: SamplingOptions) -> dict[str, Tensor]:
        """n graphs, sizes drawn from the training histogram, options.steps network calls."""
        if condition is not None:
            raise UserError("this DiGress model is unconditional; sample it without a condition")
        mask = mask_from_sizes(sample_categorical(self.n_atoms_prob.float(), n, generator)).bool()
        return self.decode(*self.denoise(mask, self.steps(options), generator), mask)

    @torch.no_grad()
    def chain(self, n_frames: int = 100, generator: torch.Generator | None = None,
              options: SamplingOptions | None = None, n_atoms: int | None = None) -> dict[str, Tensor]:
        """One graph from the prior to the sample: n_frames states evenly spaced over the steps (first: the prior
        draw, last: the sample), each key [n_frames, N, ...], plus "t" [n_frames], the noise level (1 -> 0)."""
        n_atoms = int(self.n_atoms_prob.argmax()) if n_atoms is None else int(n_atoms)
        mask = mask_from_sizes(torch.tensor([n_atoms], device=self.device)).bool()
        states: list[tuple[Tensor, Tensor, float]] = []
        self.denoise(mask, self.steps(options), generator, lambda k, x, e, level: states.append((x, e, level)))
        keep = frame_indices(len(states), n_frames)
        frames = [self.decode(states[i][0], states[i][1], mask) for i in keep]
        out = {k: torch.cat([f[k] for f in frames]) for k in frames[0]}
        out["t"] = torch.tensor([states[i][2] for i in keep])
        return out
