"""Property conditions of the molecule generators (`edm`, `midi`): training, sampling, guidance and p(c, M).

EDM's conditional QM9 protocol (Hoogeboom et al., ICML 2022, sec. 5.2; ehoogeboom/e3_diffusion_for_molecules):
- a property c (alpha, gap, homo, lumo, mu, Cv) is normalised with the training split's mean and mean absolute
  deviation, (c - mean) / MAD (qm9/utils.py compute_mean_mad; note that the reference computes them on the
  *validation* loader for "qm9_second_half": we use the training split, which the model actually sees) and
  appended to every atom's features (qm9/utils.py prepare_context; egnn/models.py EGNN_dynamics_QM9);
- samples are drawn for (c, M) pairs from the training split's joint p(c, M) (qm9/models.py DistributionProperty:
  p(M) times a 1000-bin histogram of c per atom count M, c uniform within its bin).

What gensci adds (the config fields of `ConditionFields`):
- several properties at once, any subset given at sampling time: each property enters as two node features,
  (c - mean) / MAD and a mask channel (1 given, 0 absent; the value is 0 when absent), so the network learns its
  own "absent" representation. Training drops each property independently with probability `condition_dropout`
  and all of them with probability `condition_dropout_all`;
- classifier-free guidance (Ho & Salimans 2022, eq. 6, gensci.methods.diffusion.guidance.guided_eps) between the
  given properties and none: s = 0 unconditional, 1 conditional (the default `guidance`), > 1 sharper. The
  mixing is linear in the network's outputs (EDM's eps; MiDi's clean coordinates, whose velocity / eps are affine in
  them with the same state; and its logits, i.e. log-probabilities up to a constant);
- the atom count M of a sample given c from p(M | c): the atom counts of the K_NEAREST training molecules nearest
  to the given values in normalised property space (Euclidean over the given properties). For one property this
  is a column of EDM's 2-D histogram p(c, M) widened to K_NEAREST molecules (50,000 training molecules in 1000
  bins: 50 per bin on average); for several it keeps their correlations (gap = lumo - homo), which a product of
  per-property histograms would count twice;
- `draw` samples (c, M) jointly from the training split: a random training molecule's properties and atom count,
  each property spread uniformly over its 1000-bin cell (EDM's histogram cells, on one grid per property instead of
  one per M). For one property that is EDM's DistributionProperty; for several, their true joint (EDM draws them
  independently given M).

Statistics come from the data set's info (plain data, kept in checkpoints): info["property_stats"]
{name: {mean, mad, min, max, unit}} and info["property_table"] {"bins": 1000, "n_atoms": [M ints], name: [M bin
indices]} (gensci.data.qm9, `data.property_table: true`), with hydrogens also "n_heavy": [M ints].

With midi's composition prior (`composition=True`) every atom count comes with a heavy-atom count: p(M | c) becomes
p(M, M_heavy | c) over the same neighbours, p(M) the training split's joint p(M, M_heavy), and `draw` returns
"n_heavy" too.

Sampling takes `condition` as a dict: property name -> a value, or one per sample ([n]); missing names are
marginalised (dropped); "n_atoms" (int or [n]) fixes the atom count instead of drawing it, and with the composition
prior "n_heavy" fixes the heavy-atom count (the other one of the two is then drawn from the training split's
p(M_heavy | M) or p(M | M_heavy), whatever properties are asked for). `resolve` turns it into a tensor [n, K + 1]
(values in physical units, NaN = absent; the atom count last; with the composition prior [n, K + 2], the heavy-atom
count after it), which Method.sample slices per batch.
"""

from __future__ import annotations

import warnings
from dataclasses import fields, is_dataclass, replace
from typing import Any, Callable, Mapping, TypeVar

import torch
from pydantic import Field, field_validator
from torch import Tensor, nn

from gensci.config import Section
from gensci.errors import ConfigError, UserError
from gensci.methods.diffusion.guidance import guided_eps
from gensci.ops.random import sample_categorical, sample_integers, sample_uniform
from gensci.spec import TensorSpec

K_NEAREST = 50  # training molecules behind p(M | c): EDM's 1000-bin histogram holds 50 per bin on average (50k / 1000)
N_ATOMS = "n_atoms"  # the condition key that fixes the atom count
N_HEAVY = "n_heavy"  # the condition key that fixes the heavy-atom count (composition prior)


class ConditionRangeWarning(UserWarning):
    """A requested property value lies outside the training split's range (sampled anyway)."""


class ConditionFields(Section):
    """Config fields of a property-conditional molecule method (mixed into EDMConfig and MiDiConfig)."""

    conditions: list[str] = Field(default_factory=list, description="properties the model is conditioned on (a "
                                  "subset of the data set's: alpha, gap, homo, lumo, mu, Cv for QM9); [] unconditional")
    # Ho & Salimans 2022 (sec. 4) found p_uncond 0.1-0.2 best; with one property 0.1 + 0.1 gives 0.19
    condition_dropout: float = Field(0.1, ge=0, le=1, description="probability that each property is dropped "
                                     "(marginalised) during training, independently")
    condition_dropout_all: float = Field(0.1, ge=0, le=1, description="probability that all properties are dropped "
                                         "together (the unconditional model guidance needs)")
    guidance: float = Field(1.0, description="default classifier-free guidance: 0 unconditional, 1 conditional, "
                            "> 1 sharper; --guidance overrides it")

    @field_validator("conditions")
    @classmethod
    def _distinct(cls, names: list[str]) -> list[str]:
        if len(set(names)) != len(names):
            raise ValueError(f"conditions lists a property twice: {names}")
        return names


def condition_items(config: ConditionFields) -> dict[str, TensorSpec]:
    """The batch keys a conditional model trains on: one float per molecule and property."""
    return {name: TensorSpec((), "float") for name in config.conditions}


def conditions_spec(config: ConditionFields) -> dict[str, TensorSpec]:
    """What a conditional model's samples add: the requested values (NaN where marginalised)."""
    if not config.conditions:
        return {}
    return {"conditions": TensorSpec((len(config.conditions),), "float", f"requested {', '.join(config.conditions)} "
                                     "(units of info property_stats), NaN where marginalised")}


def guidance_of(config: ConditionFields, options) -> float:
    """The guidance a call samples with: options.guidance (SamplingOptions), else the config's default."""
    return float(config.guidance if options is None or options.guidance is None else options.guidance)


T = TypeVar("T")


def guided(run: Callable[[Tensor | None], T], context: Tensor | None, guidance: float) -> T:
    """Classifier-free guidance of run(context) -> output (a tensor, or a dataclass of tensors mixed field by field):
    uncond + guidance (cond - uncond) with uncond = run(None), the network with every property absent. One network
    call at guidance 0 (the unconditional model) and 1 (the conditional one), or without a context; two otherwise."""
    if context is None or guidance == 1:
        return run(context)
    uncond = run(None)
    if guidance == 0:
        return uncond
    return _mix(run(context), uncond, guidance)


def _mix(cond, uncond, guidance: float):
    if isinstance(cond, Tensor):
        return guided_eps(cond, uncond, guidance)
    if is_dataclass(cond):
        return replace(cond, **{f.name: _mix(getattr(cond, f.name), getattr(uncond, f.name), guidance)
                                for f in fields(cond)})
    raise TypeError(f"cannot guide an output of type {type(cond).__name__}")


class ConditionalSampling:
    """`sample` of a molecule method with property conditions (EDM, MiDi; put before Method in the bases): the
    request is resolved here (missing properties marginalised, atom counts from p(M | c) unless given), then
    Method.sample draws it in batches. The method holds `self.conditions` (MoleculeConditions) and
    `self.n_atoms_prob` (p(M) of the training split; with a composition prior, `self.composition_prob`, the joint
    p(M, M_heavy), instead)."""

    @torch.no_grad()
    def sample(self, n: int, condition=None, generator: torch.Generator | None = None, options=None):
        """n molecules; condition: {property: value or [n] values, "n_atoms": int or [n]} (composition prior: and
        "n_heavy")."""
        counts = self.composition_prob if self.conditions.composition else self.n_atoms_prob
        resolved = self.conditions.resolve(condition, n, generator, counts)
        return super().sample(n, resolved, generator, options)


class MoleculeConditions(nn.Module):
    """The conditions of one model: names, normalisation, training dropout, node features, p(M | c), p(c, M).

    config: a ConditionFields; info: the data set's info (property_stats, property_table when conditioned);
    max_n_atoms: the largest atom count a sample may have. With no conditions it only checks sampling requests
    (a fixed atom count is still allowed). composition: atom counts come with heavy-atom counts (midi's
    composition prior; the property table must hold "n_heavy")."""

    def __init__(self, config: ConditionFields, info: dict[str, Any], max_n_atoms: int, composition: bool = False):
        super().__init__()
        self.names, self.max_n_atoms, self.composition = list(config.conditions), int(max_n_atoms), composition
        self.dropout, self.dropout_all = config.condition_dropout, config.condition_dropout_all
        self.stats: dict[str, dict] = dict(info.get("property_stats") or {})
        unknown = [p for p in self.names if p not in self.stats]
        if unknown:
            raise ConfigError(f"method.conditions: unknown property {unknown[0]!r} (the data set has: "
                              f"{', '.join(self.stats) or 'no property statistics'})")
        k = len(self.names)
        stat = lambda key: torch.tensor([float(self.stats[p][key]) for p in self.names], dtype=torch.float64)  # noqa: E731
        for key in ("mean", "mad", "min", "max"):
            self.register_buffer(key, stat(key), persistent=False)
        if k and (self.mad <= 0).any():
            raise ConfigError(f"property MAD must be positive: {dict(zip(self.names, self.mad.tolist()))}")
        table = info.get("property_table")
        if k and not table:
            raise ConfigError("method.conditions needs the training split's property table in the data's info: set "
                              "data.property_table=true")
        self.bins = int(table["bins"]) if k else 1
        rows = torch.tensor([table[p] for p in self.names], dtype=torch.long).T if k else torch.zeros(0, 0)
        self.register_buffer("table_bins", rows.long().contiguous(), persistent=False)
        self.register_buffer("table_n", torch.tensor(table[N_ATOMS] if k else [], dtype=torch.long), persistent=False)
        if k and composition and N_HEAVY not in table:
            raise ConfigError("method.composition_prior with method.conditions needs each training molecule's "
                              "heavy-atom count in info property_table (data with hydrogens, data.property_table=true)")
        heavy = table[N_HEAVY] if k and composition else [0] * len(self.table_n)
        self.register_buffer("table_heavy", torch.tensor(heavy, dtype=torch.long), persistent=False)

    @property
    def width(self) -> int:
        """Node features added per atom: (value, mask) per property."""
        return 2 * len(self.names)

    # ---- network inputs ------------------------------------------------------------------------------------
    def features(self, values: Tensor | None, b: int, device, dtype) -> Tensor:
        """[b, 2K] network features of values [b, K] (physical units, NaN = absent); None: all absent."""
        if values is None:
            return torch.zeros(b, self.width, device=device, dtype=dtype)
        values = values.to(device, torch.float64)
        given = ~torch.isnan(values)
        z = torch.where(given, (values - self.mean) / self.mad, 0.0)
        return torch.stack([z, given.double()], -1).flatten(1).to(dtype)

    def training_values(self, batch: Mapping[str, Tensor]) -> Tensor | None:
        """The batch's properties [B, K] with the dropped ones set to NaN (each with probability condition_dropout,
        all with condition_dropout_all); None for an unconditional model."""
        if not self.names:
            return None
        values = torch.stack([batch[p].to(torch.float64) for p in self.names], -1)
        b, k = values.shape
        drop = torch.rand(b, k, device=values.device) < self.dropout
        drop = drop | (torch.rand(b, 1, device=values.device) < self.dropout_all)
        return values.masked_fill(drop, float("nan"))

    def full_values(self, batch: Mapping[str, Tensor]) -> Tensor | None:
        """The batch's properties [B, K], none dropped (the conditional likelihood); None when unconditional."""
        if not self.names:
            return None
        return torch.stack([batch[p].to(torch.float64) for p in self.names], -1)

    @staticmethod
    def nodes(features: Tensor, node_mask: Tensor) -> Tensor:
        """[B, 2K] -> [B, N, 2K] on the real atoms (zero on padding), as EDM's prepare_context."""
        return features.unsqueeze(1) * node_mask.unsqueeze(-1).to(features.dtype)

    # ---- sampling requests ---------------------------------------------------------------------------------
    def resolve(self, condition, n: int, generator: torch.Generator | None, n_atoms_prob: Tensor) -> Tensor | None:
        """A sampling request -> [n, K + 1] (float64, CPU): property values (NaN = marginalised) and the atom count,
        drawn from p(M | c) unless given (p(M) = n_atoms_prob when no property is given). None without a request.
        With the composition prior n_atoms_prob is the joint p(M, M_heavy) [N + 1, H + 1] and the result [n, K + 2]
        (the heavy-atom count last). Bad requests are UserErrors; values outside the training range warn
        (ConditionRangeWarning) and are kept."""
        if condition is None:
            return None
        k = len(self.names)
        if isinstance(condition, Tensor):
            if not k:
                raise UserError("this model was trained without property conditions (method.conditions is empty)")
            values = condition.detach().to("cpu", torch.float64).reshape(-1, k)
            values, atoms, heavy = values.expand(n, k) if len(values) == 1 else values, None, None
        elif isinstance(condition, Mapping):
            values, atoms, heavy = self._from_dict(condition, n)
        else:
            raise UserError(f"a molecule condition is a dict of property -> value (and {N_ATOMS!r}), got "
                            f"{type(condition).__name__}")
        if len(values) != n:
            raise UserError(f"got {len(values)} conditions for {n} samples")
        self._warn_out_of_range(values)
        if atoms is None and heavy is None:
            counts = self.atom_counts(values, generator, n_atoms_prob)
        elif self.composition:
            counts = self._complete_counts(atoms, heavy, generator, n_atoms_prob.detach().double().cpu())
        else:
            counts = atoms
        return torch.cat([values, counts.to(torch.float64).view(n, -1)], 1)

    def _from_dict(self, condition: Mapping, n: int) -> tuple[Tensor, Tensor | None, Tensor | None]:
        values = torch.full((n, len(self.names)), float("nan"), dtype=torch.float64)
        atoms = heavy = None
        for name, value in condition.items():
            if name == N_ATOMS:
                atoms = _per_sample(value, n, name).round().long()
                if (atoms < 1).any() or (atoms > self.max_n_atoms).any():
                    raise UserError(f"the atom count must be in 1..{self.max_n_atoms}, got "
                                    f"{sorted(set(atoms.tolist()))[:5]}")
                continue
            if name == N_HEAVY:
                if not self.composition:
                    raise UserError(f"{N_HEAVY!r}: this model draws no heavy-atom count (method.composition_prior is "
                                    "off); give n_atoms only")
                heavy = _per_sample(value, n, name).round().long()
                continue
            if self.stats and name not in self.stats:
                raise UserError(f"unknown property {name!r}; the data's properties are: {', '.join(self.stats)}")
            if not self.names:
                raise UserError(f"this model was trained without property conditions (method.conditions is empty); "
                                f"sample it without --condition {name}")
            if name not in self.names:
                raise UserError(f"this model was not trained on {name!r}; its conditions are: {', '.join(self.names)}")
            v = _per_sample(value, n, name)
            if not torch.isfinite(v).all():
                raise UserError(f"condition {name} must be finite, got {v[~torch.isfinite(v)][:3].tolist()}")
            values[:, self.names.index(name)] = v
        if heavy is not None and atoms is not None and (heavy > atoms).any():
            raise UserError(f"the heavy-atom count cannot exceed the atom count (got {N_HEAVY} "
                            f"{heavy[heavy > atoms][0].item()} for {atoms[heavy > atoms][0].item()} atoms)")
        return values, atoms, heavy

    def _warn_out_of_range(self, values: Tensor) -> None:
        for j, name in enumerate(self.names):
            v = values[:, j][~torch.isnan(values[:, j])]
            lo, hi = float(self.min[j]), float(self.max[j])
            if len(v) and ((v < lo).any() or (v > hi).any()):
                bad = float(v[(v < lo) | (v > hi)][0])
                unit = self.stats[name].get("unit", "")
                warnings.warn(f"{name} = {bad:g} lies outside the training range [{lo:.4g}, {hi:.4g}] {unit}; "
                              "sampling anyway (the model extrapolates)", ConditionRangeWarning, stacklevel=3)

    def atom_counts(self, values: Tensor, generator: torch.Generator | None, n_atoms_prob: Tensor) -> Tensor:
        """Atom counts [n] drawn from p(M | c) for values [n, K] (NaN = absent): the counts of the K_NEAREST training
        molecules nearest in normalised property space over the given properties; p(M) where none is given.
        Composition prior (n_atoms_prob: the joint p(M, M_heavy) [N + 1, H + 1]): pairs (M, M_heavy) [n, 2], drawn
        together from the same neighbours' counts (p(M, M_heavy) where no property is given)."""
        n = len(values)
        joint = n_atoms_prob.detach().double().cpu()
        width = joint.shape[1] if self.composition else 1  # pair (M, M_heavy) -> one category M * width + M_heavy
        keys = self.table_n.cpu() * width + self.table_heavy.cpu()
        out = torch.zeros(n, dtype=torch.long)
        keyed = torch.nan_to_num(values, nan=float("inf"))  # NaN != NaN: a sentinel so that unique groups rows
        unique, inverse = torch.unique(keyed, dim=0, return_inverse=True)
        table = self._table_values() if len(self.names) else None
        for u in range(len(unique)):
            rows = (inverse == u).nonzero().flatten()
            given = torch.isfinite(unique[u])
            if not given.any():
                probs = joint.flatten()
            else:
                z = (unique[u][given] - self.mean.cpu()[given]) / self.mad.cpu()[given]
                d = (table[:, given] - z).square().sum(1)
                nearest = torch.topk(d, min(K_NEAREST, len(d)), largest=False).indices
                probs = torch.bincount(keys[nearest], minlength=(self.max_n_atoms + 1) * width).double()
            out[rows] = sample_categorical(probs, len(rows), generator).cpu()
        return torch.stack([out // width, out % width], 1) if self.composition else out

    def _complete_counts(self, atoms: Tensor | None, heavy: Tensor | None, generator: torch.Generator | None,
                         joint: Tensor) -> Tensor:
        """(M, M_heavy) [n, 2] when one of them is given: the other from the training split's p(M_heavy | M) (a row
        of the joint [N + 1, H + 1]) or p(M | M_heavy) (a column)."""
        if heavy is not None and ((heavy < 1).any() or (heavy >= joint.shape[1]).any()):
            raise UserError(f"the heavy-atom count must be in 1..{joint.shape[1] - 1} (the training split's range), "
                            f"got {sorted(set(heavy.tolist()))[:5]}")
        given, table = (atoms, joint) if heavy is None else (heavy, joint.T)
        if atoms is not None and heavy is not None:
            return torch.stack([atoms, heavy], 1)
        drawn = torch.zeros_like(given)
        for value in torch.unique(given).tolist():
            probs = table[value] if value < len(table) else table.new_zeros(1)
            if probs.sum() <= 0:
                what = f"{value} atoms" if heavy is None else f"{value} heavy atoms"
                raise UserError(f"no training molecule has {what}: give both {N_ATOMS} and {N_HEAVY}")
            rows = given == value
            drawn[rows] = sample_categorical(probs, int(rows.sum()), generator).cpu()
        return torch.stack([given, drawn] if heavy is None else [drawn, given], 1)

    def _table_values(self) -> Tensor:
        """The table's normalised values [M, K] (bin centres)."""
        values = self.min.cpu() + (self.table_bins.cpu().double() + 0.5) * (self.max - self.min).cpu() / self.bins
        return (values - self.mean.cpu()) / self.mad.cpu()

    def draw(self, n: int, generator: torch.Generator | None = None, names: list[str] | None = None) -> dict[str, Tensor]:
        """n (c, M) pairs from the training split's joint p(c, M) (see the module docstring): {name: [n] float64,
        "n_atoms": [n] int64} (composition prior: and "n_heavy" [n] int64, the same molecules'), ready for
        sample(n, condition=...). names: the properties to draw (default all)."""
        names = list(self.names if names is None else names)
        missing = [p for p in names if p not in self.names]
        if missing or not self.names:
            raise UserError(f"cannot draw {missing[0] if missing else 'properties'!r}: the model's conditions are "
                            f"{', '.join(self.names) or 'none'}")
        idx = sample_integers(0, len(self.table_n), (n,), generator, torch.device("cpu"))
        u = sample_uniform((n, len(self.names)), generator, torch.device("cpu"), torch.float64)
        values = self.min.cpu() + (self.table_bins.cpu()[idx].double() + u) * (self.max - self.min).cpu() / self.bins
        out = {p: values[:, self.names.index(p)] for p in names}
        heavy = {N_HEAVY: self.table_heavy.cpu()[idx]} if self.composition else {}
        return out | {N_ATOMS: self.table_n.cpu()[idx]} | heavy

    def carried(self, values: Tensor | None, n: int) -> dict[str, Tensor]:
        """The samples' "conditions" [n, K] (values asked for, NaN = marginalised), or {} when unconditional."""
        if not self.names:
            return {}
        if values is None:
            return {"conditions": torch.full((n, len(self.names)), float("nan"), dtype=torch.float64, device=self.mean.device)}
        return {"conditions": values.to(torch.float64)}

    def split(self, condition: Tensor | None, device) -> tuple[Tensor | None, Tensor | None]:
        """A resolved batch [b, K + 1] -> (values [b, K] on device, atom counts [b] long on device), or (None, None)
        (composition prior: [b, K + 2], see heavy_counts)."""
        if condition is None:
            return None, None
        condition = condition.to(device)
        counts = 2 if self.composition else 1
        return condition[:, :-counts], condition[:, -counts].round().long()

    def heavy_counts(self, condition: Tensor | None, device) -> Tensor | None:
        """A resolved batch's heavy-atom counts [b] long on device (composition prior), else None."""
        if condition is None or not self.composition:
            return None
        return condition[:, -1].to(device).round().long()


def _per_sample(value, n: int, name: str) -> Tensor:
    try:
        v = torch.as_tensor(value, dtype=torch.float64).detach().cpu().flatten()
    except (TypeError, ValueError):
        raise UserError(f"condition {name}: expected a number or one per sample, got {value!r}") from None
    if len(v) == 1:
        return v.expand(n).clone()
    if len(v) != n:
        raise UserError(f"condition {name}: {len(v)} values for {n} samples")
    return v
