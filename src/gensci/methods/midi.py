"""MiDi-style joint generation of 3D molecules with bonds: coordinates, atom types, formal charges and bond orders.

Vignac, Osman, Toni & Frossard, "MiDi: Mixed Graph and 3D Denoising Diffusion for Molecule Generation" (2023):
an E(3)-equivariant network with edge features denoises all four modalities together and predicts the clean
molecule. Two objectives train the same network (gensci.methods.midi_objectives):
- `flow` (default): flow matching as SemlaFlow (Irwin, Tibo, Janet & Bjerrum, "SemlaFlow", 2024): equivariant-OT
  prior, t ~ Beta(2, 1), discrete flow matching for the categoricals, ~100 Euler steps;
- `diffusion`: MiDi's: Gaussian coordinates and marginal-transition categoricals, a cosine schedule with an exponent
  per modality, ancestral sampling (MiDi uses 500 steps; gensci samples a strided subset exactly).
Both use cross-entropy on the categoricals and MSE on the coordinates, weighted per modality (the objective's
`loss_weights`). Network: gensci.nets.bond_egnn.BondEGNN. Optional self-conditioning (Chen et al. 2023; semla-flow
`--self_condition`): half of the training steps first predict without it, then feed that prediction back.
Property conditions (`conditions`, gensci.methods.molecule_conditions): EDM's normalised properties and their mask
channels appended to every atom's input features, dropped at random in training; classifier-free guidance and atom
counts from p(M | c) in sampling.
Composition prior (`composition_prior`, off by default; data with explicit hydrogens): the heavy-atom count M_heavy
is drawn together with the atom count M from the training split's joint histogram p(M, M_heavy) (info
n_nodes_heavy_hist; with property conditions from the same nearest training molecules as p(M | c)) and given to the
network on every atom. This deviates from EDM and MiDi, which draw M only (EDM's DistributionNodes; MiDi's
node_dist) and leave the composition to the network; like their p(M) it is a prior taken from the data. Training
feeds each molecule's true M_heavy. Why: counting atoms of each kind is a global property that the message-passing
network learns slowly (the qm9-midi run at 42k steps: heavy-atom counts 0.22 in total variation from QM9's, too many
hydrogens for a given M; neither 3k more steps, uniform flow times nor 4x the sampling steps moved it).

Batches: positions [B, N, 3] (Angstrom), node_mask [B, N], atom_types [B, N] (index into info["atom_types"], -1 on
padding), formal_charges [B, N] (values in info["charge_values"]), bonds [B, N, N] (index into info["bond_types"]:
0 none, 1 single, 2 double, 3 triple; symmetric). Samples: the same keys, padded to info["max_n_atoms"].
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

from gensci.config import Section
from gensci.errors import ConfigError, ContractError, UserError
from gensci.methods.base import Method, SamplingOptions, StepsConfig
from gensci.methods.edm import n_atoms_distribution
from gensci.methods.diffusion.samplers import frame_indices
from gensci.methods.midi_objectives import Diffusion, FlowMatching, Molecules, Prediction
from gensci.methods.molecule_conditions import (ConditionalSampling, ConditionFields, MoleculeConditions,
                                                condition_items, conditions_spec, guidance_of, guided)
from gensci.nets.bond_egnn import BondEGNN
from gensci.ops.masks import edge_mask, mask_from_sizes, remove_mean
from gensci.ops.random import sample_categorical
from gensci.spec import Requirements, TensorSpec

# info keys holding the training split's class frequencies (MiDi's marginal transitions and prior)
MARGINALS = {"types": "atom_type_marginal", "charges": "charge_marginal", "bonds": "bond_type_marginal"}
QM9_COORDS_STD = 1.723299503326416  # semla-flow scriptutil.py QM9_COORDS_STD_DEV (Angstrom)
# The composition prior's node features: M_heavy / max M_heavy (the count itself, in [0, 1] as the one-hots) and the
# heavy fraction M_heavy / M (each atom's prior probability of being heavy, the decision the network gets wrong at a
# given M); together they also fix the hydrogen count.
COMPOSITION_FEATURES = 2


class LossWeights(Section):
    positions: float = Field(ge=0)
    types: float = Field(ge=0)
    charges: float = Field(ge=0)
    bonds: float = Field(ge=0)


class FlowConfig(Section):
    """SemlaFlow's defaults (semla-flow train.py at 2f41e57 and its README for QM9)."""

    time_alpha: float = Field(2.0, gt=0, description="t ~ Beta(time_alpha, time_beta); DEFAULT_TIME_ALPHA")
    time_beta: float = Field(1.0, gt=0, description="DEFAULT_TIME_BETA")
    coord_noise: float = Field(0.2, ge=0, description="noise std added to the interpolant (DEFAULT_COORD_NOISE_STD_DEV)")
    equivariant_ot: bool = Field(True, description="permute + rotate the prior onto each molecule (DEFAULT_OPTIMAL_TRANSPORT)")
    categorical_noise: float = Field(1.0, ge=0, description="eta of the discrete sampler (DEFAULT_CAT_SAMPLING_NOISE_LEVEL)")
    # coordinates 1 (fixed in fm.py _loss), types 0.2 (DEFAULT_TYPE_LOSS_WEIGHT), charges 1 (DEFAULT_CHARGE_LOSS_WEIGHT),
    # bonds 0.5 ("To train on QM9 we use a bond_loss_weight of 0.5", README)
    loss_weights: LossWeights = LossWeights(positions=1.0, types=0.2, charges=1.0, bonds=0.5)


class NuConfig(Section):
    """MiDi's adaptive schedule exponents (paper sec. 4.2; configs/model/discrete.yaml nu: p 2.5, x 1, c 1, e 1.5)."""

    positions: float = Field(2.5, gt=0)
    types: float = Field(1.0, gt=0)
    charges: float = Field(1.0, gt=0)
    bonds: float = Field(1.5, gt=0)


class DiffusionConfig(Section):
    timesteps: int = Field(500, ge=1, description="MiDi configs/model/discrete.yaml diffusion_steps: 500")
    nu: NuConfig = NuConfig()
    # MiDi sec. 4.4 (lambda_train [3, 0.4, 1, 2] in configs/experiment/qm9_with_h_adaptive.yaml): "cross-validated"
    loss_weights: LossWeights = LossWeights(positions=3.0, types=0.4, charges=1.0, bonds=2.0)


class MiDiConfig(StepsConfig, ConditionFields):
    name: Literal["midi"] = "midi"
    objective: Literal["flow", "diffusion"] = "flow"
    hidden_nf: int = Field(128, ge=1, description="BondEGNN node width")
    # 32: the cheapest width measured that learns (benchmarks/molecules/README.md: at equal training time it beat 64)
    message_nf: int = Field(32, ge=1, description="pair message width")
    edge_nf: int = Field(32, ge=1, description="edge (bond) state width")
    n_layers: int = Field(6, ge=1)
    n_rbf: int = Field(16, ge=2, description="radial basis functions of pair distances")
    normalization_factor: float = Field(10.0, gt=0, description="message sums divided by this")
    coord_scale: float = Field(QM9_COORDS_STD, gt=0, description="positions are divided by this (Angstrom)")
    self_condition: bool = False
    sampling_steps: int = Field(100, ge=1, description="network calls per sample unless --steps or eval.sampling_steps "
                                "say otherwise")
    compile: bool = Field(False, description="torch.compile the network (needs a C++ compiler)")
    composition_prior: bool = Field(False, description="draw the heavy-atom count with the atom count from the "
                                    "training split's p(M, M_heavy) and give it to the network (needs explicit H)")
    flow: FlowConfig = FlowConfig()
    diffusion: DiffusionConfig = DiffusionConfig()


def composition_distribution(info: dict[str, Any], max_n_atoms: int) -> tuple[int, Tensor]:
    """(index of hydrogen in info atom_types, p(M, M_heavy) [max_n_atoms + 1, largest M_heavy + 1] float64) from
    info["n_nodes_heavy_hist"] {"M,M_heavy": count}; ConfigError for data without explicit hydrogens."""
    if info.get("remove_h") or "H" not in info["atom_types"]:
        raise ConfigError("method.composition_prior needs explicit hydrogens (a data set with H atoms, e.g. qm9-bonds; "
                          "not remove_h / qm9-graph): it draws the heavy-atom count beside the atom count")
    hist = info.get("n_nodes_heavy_hist")
    if not hist:
        raise ConfigError("method.composition_prior needs the training split's joint histogram of atom and heavy-atom "
                          "counts in the data's info (n_nodes_heavy_hist)")
    pairs = {tuple(int(v) for v in key.split(",")): int(c) for key, c in hist.items()}
    if any(not 0 <= h <= m <= max_n_atoms for m, h in pairs):
        raise ContractError(f"info n_nodes_heavy_hist: pairs (M, M_heavy) must have 0 <= M_heavy <= M <= {max_n_atoms}")
    joint = torch.zeros(max_n_atoms + 1, max(h for _, h in pairs) + 1, dtype=torch.float64)
    for (m, h), c in pairs.items():
        joint[m, h] = c
    return list(info["atom_types"]).index("H"), joint / joint.sum()


def self_condition_at(step: int) -> bool:
    """Whether training step `step` conditions on a first prediction (probability 1/2, as semla-flow): a function
    of the step, so every DDP process decides alike (each forward of a DDP module broadcasts its buffers, a
    collective call: one process making an extra forward would hang or abort the others)."""
    return bool(torch.rand((), generator=torch.Generator().manual_seed(1_000_003 * step + 7)) < 0.5)


class MiDi(ConditionalSampling, Method):
    """Joint equivariant generation of coordinates, atom types, formal charges and bonds (see the module docstring)."""

    Config = MiDiConfig
    capabilities = frozenset({"sample", "chain"})
    sampling_options = frozenset({"steps"})
    default_sample_batch = 100

    @classmethod
    def requires(cls, config: MiDiConfig) -> Requirements:
        items = {"positions": TensorSpec(("N", 3)), "node_mask": TensorSpec(("N",)),
                 "atom_types": TensorSpec(("N",), "int"), "formal_charges": TensorSpec(("N",), "int"),
                 "bonds": TensorSpec(("N", "N"), "int")} | condition_items(config)
        info = {"atom_types", "charge_values", "bond_types", "n_nodes_hist", "max_n_atoms"}
        if config.objective == "diffusion":
            info |= set(MARGINALS.values())
        if config.conditions:
            info.add("property_stats")
        return Requirements(items, frozenset(info), frozenset({"molecules"}))

    @classmethod
    def sample_spec(cls, config: MiDiConfig, info: dict[str, Any]) -> dict[str, TensorSpec]:
        n = int(info["max_n_atoms"])
        return {"positions": TensorSpec((n, 3), "float", "Angstrom"),
                "atom_types": TensorSpec((n,), "int", "index into info atom_types, -1 pad"),
                "formal_charges": TensorSpec((n,), "int", "formal charge, 0 pad"),
                "bonds": TensorSpec((n, n), "int", "index into info bond_types, 0 none/pad"),
                "node_mask": TensorSpec((n,))} | conditions_spec(config)

    def __init__(self, config: MiDiConfig, info: dict[str, Any]):
        super().__init__(config, info)
        self.atom_types, self.max_n_atoms = list(info["atom_types"]), int(info["max_n_atoms"])
        self.sizes = {"types": len(self.atom_types), "charges": len(info["charge_values"]),
                      "bonds": len(info["bond_types"])}
        kt, kc, kb = self.sizes["types"], self.sizes["charges"], self.sizes["bonds"]
        cond = 2 if config.self_condition else 1
        self.conditions = MoleculeConditions(config, info, self.max_n_atoms, config.composition_prior)
        if config.conditions:
            self.capabilities = self.capabilities | {"conditional"}
            self.sampling_options = self.sampling_options | {"guidance"}
        # + time, the property features and (last, so that train.init_from can zero-extend a model without them)
        # the composition features
        node_in = cond * (kt + kc) + 1 + self.conditions.width + COMPOSITION_FEATURES * config.composition_prior
        self.net = BondEGNN(node_in, cond * kb, kt + kc, kb, config.hidden_nf, config.message_nf, config.edge_nf,
                            config.n_layers, config.n_rbf, normalization_factor=config.normalization_factor,
                            cond_coords=config.self_condition, compile=config.compile)
        self.register_buffer("charge_values", torch.tensor([int(v) for v in info["charge_values"]]), persistent=False)
        self.register_buffer("n_atoms_prob", n_atoms_distribution(info["n_nodes_hist"], self.max_n_atoms), False)
        if config.composition_prior:
            self.hydrogen, joint = composition_distribution(info, self.max_n_atoms)
            self.max_heavy = joint.shape[1] - 1
            self.register_buffer("composition_prob", joint, persistent=False)
        if config.objective == "flow":
            self.objective = FlowMatching(config.flow, self.sizes)
        else:
            marginals = {k: torch.as_tensor(info[key], dtype=torch.float64) for k, key in MARGINALS.items()}
            for k, m in marginals.items():
                if m.shape != (self.sizes[k],) or (m < 0).any() or m.sum() <= 0:
                    raise ContractError(f"info {MARGINALS[k]!r} must hold {self.sizes[k]} non-negative frequencies")
            self.objective = Diffusion(config.diffusion, self.sizes, marginals)

    # ---- data <-> model units ----------------------------------------------------------------
    def encode(self, batch: dict[str, Tensor]) -> Molecules:
        mask = batch["node_mask"].float()
        n, real = mask.shape[1], mask.bool()
        charges = batch["formal_charges"].long().unsqueeze(-1) == self.charge_values
        if not charges.any(-1)[real].all():
            raise ContractError(f"formal_charges holds a value outside info charge_values {self.charge_values.tolist()}")
        x = remove_mean(batch["positions"].float(), mask) / self.config.coord_scale
        bonds = batch["bonds"][:, :n, :n].long()  # trimmed batches may keep the padded pair dimension
        return Molecules(x, batch["atom_types"].long().clamp(min=0), charges.float().argmax(-1), bonds, mask).masked()

    def decode(self, mol: Molecules) -> dict[str, Tensor]:
        """Model units -> Angstrom, charge values, -1 type on padding; padded to max_n_atoms."""
        real = mol.mask.bool()
        pad = self.max_n_atoms - mol.mask.shape[1]
        pad_nodes = lambda v, value: F.pad(v, (0, 0) * (v.dim() - 2) + (0, pad), value=value)  # noqa: E731
        return {"positions": pad_nodes(mol.x * self.config.coord_scale * mol.mask.unsqueeze(-1), 0.0),
                "atom_types": pad_nodes(torch.where(real, mol.types, -1), -1),
                "formal_charges": pad_nodes(self.charge_values[mol.charges] * real, 0),
                "bonds": F.pad(mol.bonds * edge_mask(real), (0, pad, 0, pad)),
                "node_mask": pad_nodes(mol.mask, 0.0)}

    # ---- the network -----------------------------------------------------------------------------
    def network(self, mol: Molecules, t: Tensor, cond: Prediction | None = None,
                context: Tensor | None = None, heavy: Tensor | None = None) -> Prediction:
        """Predicted clean molecule from a noisy one at time t [B] (the objective's convention); context [B, 2K]:
        the property features (MoleculeConditions.features; None: all absent); heavy [B]: the heavy-atom counts
        (composition prior only, where it is required)."""
        b, n = mol.mask.shape
        kt, kc, kb = self.sizes["types"], self.sizes["charges"], self.sizes["bonds"]
        nodes = [F.one_hot(mol.types, kt), F.one_hot(mol.charges, kc), t.view(-1, 1, 1).expand(b, n, 1)]
        if self.conditions.width:
            context = self.conditions.features(None, b, mol.x.device, mol.x.dtype) if context is None else context
            nodes.append(self.conditions.nodes(context, mol.mask))
        edges, x_cond = [F.one_hot(mol.bonds, kb)], None
        if self.config.self_condition:
            if cond is None:  # no previous prediction: zeros, as semla-flow
                cond = Prediction(torch.zeros_like(mol.x), mol.x.new_zeros(b, n, kt), mol.x.new_zeros(b, n, kc),
                                  mol.x.new_zeros(b, n, n, kb))
                probs = [cond.types, cond.charges, cond.bonds]
            else:
                probs = [torch.softmax(v, -1) for v in (cond.types, cond.charges, cond.bonds)]
            nodes, edges, x_cond = nodes + probs[:2], edges + probs[2:], cond.x
        if self.config.composition_prior:  # last: see node_in
            if heavy is None:
                raise ContractError("midi with composition_prior: the network needs the heavy-atom counts")
            heavy = heavy.to(mol.x.dtype)
            per_molecule = torch.stack([heavy / self.max_heavy, heavy / mol.mask.sum(1).clamp(min=1)], -1)
            nodes.append(per_molecule.unsqueeze(1).expand(b, n, COMPOSITION_FEATURES))
        h = torch.cat([v.to(mol.x.dtype) for v in nodes], -1) * mol.mask.unsqueeze(-1)
        x, h, e = self.net(h, mol.x, torch.cat([v.to(mol.x.dtype) for v in edges], -1), mol.mask, x_cond)
        return Prediction(remove_mean(x, mol.mask), h[..., :kt], h[..., kt:], e)

    def loss(self, pred: Prediction, clean: Molecules) -> tuple[Tensor, dict[str, float]]:
        """Weighted MSE (coordinates, per real atom and axis) + cross-entropies (per real atom / real pair i != j)."""
        w = self.objective.config.loss_weights
        node = clean.mask.bool()
        pair = edge_mask(node)
        parts = {"positions": (pred.x - clean.x).square()[node].mean(),
                 "types": F.cross_entropy(pred.types[node], clean.types[node]),
                 "charges": F.cross_entropy(pred.charges[node], clean.charges[node]),
                 "bonds": F.cross_entropy(pred.bonds[pair], clean.bonds[pair]) if pair.any() else pred.x.new_zeros(())}
        total = sum(getattr(w, k) * v for k, v in parts.items())
        return total, {f"loss_{k}": float(v.detach()) for k, v in parts.items()}

    def heavy_atoms(self, mol: Molecules) -> Tensor:
        """[B] the molecules' heavy-atom counts (real atoms whose type is not hydrogen)."""
        return ((mol.types != self.hydrogen) & mol.mask.bool()).sum(1)

    def train_step(self, batch: dict[str, Tensor], step: int, opt) -> dict[str, float]:
        clean = self.encode(batch)
        noisy, t = self.objective.corrupt(clean)
        context = None
        if self.conditions.width:
            values = self.conditions.training_values(batch)
            context = self.conditions.features(values, len(t), clean.x.device, clean.x.dtype)
        heavy = self.heavy_atoms(clean) if self.config.composition_prior else None  # the true composition
        cond = None
        if self.config.self_condition and self_condition_at(step):
            with torch.no_grad():
                cond = self.network(noisy, t, context=context, heavy=heavy)
        loss, parts = self.loss(self.network(noisy, t, cond, context, heavy), clean)
        opt.step(loss, "main")
        return {"loss": float(loss.detach()), **parts}

    # ---- sampling --------------------------------------------------------------------------------
    def steps(self, options: SamplingOptions | None) -> int:
        """options.steps, else the config's sampling_steps (at most the diffusion's trained timesteps)."""
        if options is not None and options.steps is not None:
            return options.steps
        limit = self.objective.max_steps
        return self.config.sampling_steps if limit is None else min(self.config.sampling_steps, limit)

    def describe_sampling(self, options: SamplingOptions) -> dict[str, Any]:
        sampler = "euler (flow matching)" if self.config.objective == "flow" else "ancestral (MiDi posteriors)"
        guidance = {"guidance": guidance_of(self.config, options)} if self.config.conditions else {}
        return {"sampling_steps": self.steps(options), "sampler": sampler, **guidance}

    def _model(self, values: Tensor | None = None, guidance: float = 1.0, heavy: Tensor | None = None):
        """The objective's model: the network (self-conditioned on its previous prediction where configured), guided
        towards the property values [B, K] (NaN = absent; None: unconditional), with heavy-atom counts heavy [B]
        (composition prior)."""
        previous: list[Prediction | None] = [None]

        def model(mol: Molecules, t: Tensor) -> Prediction:
            context = None if values is None else self.conditions.features(values, len(t), mol.x.device, mol.x.dtype)
            pred = guided(lambda c: self.network(mol, t, previous[0], c, heavy), context, guidance)
            if self.config.self_condition:
                previous[0] = pred
            return pred

        return model

    def draw_sizes(self, n: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor | None]:
        """n atom counts [n] from the training split's p(M), and None; with the composition prior (M, M_heavy) from
        its joint p(M, M_heavy) (each pair one category M * width + M_heavy)."""
        if not self.config.composition_prior:
            return sample_categorical(self.n_atoms_prob.float(), n, generator), None
        width = self.composition_prob.shape[1]
        pair = sample_categorical(self.composition_prob.flatten().float(), n, generator)
        return pair // width, pair % width

    @torch.no_grad()
    def sample_batch(self, n: int, condition, generator: torch.Generator | None,
                     options: SamplingOptions) -> dict[str, Tensor]:
        """n molecules, sizes drawn from the training histogram (or the resolved condition's), options.steps network
        calls (twice as many with guidance other than 0 and 1)."""
        values, sizes = self.conditions.split(condition, self.device)
        heavy = self.conditions.heavy_counts(condition, self.device)
        if sizes is None:
            sizes, heavy = self.draw_sizes(n, generator)
        model = self._model(values, guidance_of(self.config, options), heavy)
        mol = self.objective.sample(model, mask_from_sizes(sizes), self.steps(options), generator)
        if not torch.isfinite(mol.x).all():
            raise FloatingPointError("sampling produced non-finite coordinates (diverged); check the checkpoint")
        return self.decode(mol) | self.conditions.carried(values, n)

    @torch.no_grad()
    def chain(self, n_frames: int = 100, generator: torch.Generator | None = None,
              options: SamplingOptions | None = None, n_atoms: int | None = None) -> dict[str, Tensor]:
        """One molecule from noise to the sample: n_frames states evenly spaced over the steps (first: the prior
        draw, last: the sample), each key [n_frames, N, ...], plus "t" [n_frames], the noise level (1 -> 0)."""
        steps = self.steps(options)
        n_atoms = int(self.n_atoms_prob.argmax()) if n_atoms is None else int(n_atoms)
        heavy = None
        if self.config.composition_prior:  # the most frequent heavy-atom count of that size, as the size itself
            if self.composition_prob[n_atoms].sum() <= 0:
                raise UserError(f"no training molecule has {n_atoms} atoms: the composition prior has no heavy-atom "
                                "count for it")
            heavy = self.composition_prob[n_atoms].argmax().view(1)
        states: list[tuple[Molecules, float]] = []
        mask = mask_from_sizes(torch.tensor([n_atoms], device=self.device))
        self.objective.sample(self._model(heavy=heavy), mask, steps, generator,
                              lambda k, mol, level: states.append((mol, level)))
        keep = frame_indices(len(states), n_frames)
        frames = [self.decode(states[i][0]) for i in keep]
        out = {k: torch.cat([f[k] for f in frames]) for k in frames[0]}
        out["t"] = torch.tensor([states[i][1] for i in keep])
        return out
