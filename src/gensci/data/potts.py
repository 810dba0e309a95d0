"""A protein family with known ground truth: a random Potts model sampled by MCMC into an alignment; or your own
aligned FASTA/A2M file (`data.path=FILE.a2m`, no ground truth).

No alignment can be downloaded here, so the family is simulated, with a stated construction (all draws from
one torch generator seeded by `seed`):
- L = `length` positions, q = 21 states (ALPHABET: 20 amino acids + gap);
- fields h_i(a) ~ N(0, field_scale^2) for the amino acids, h_i(gap) = gap_field (gaps are rare);
- a sparse contact map: the chain neighbours (i, i+1) plus round(contacts_per_site * L / 2) distinct random
  pairs with |i - j| >= 3 (long-range contacts, as in a folded chain);
- couplings J_ij(a, b) ~ N(0, coupling_scale^2) for the amino-acid pairs of each contact, zero elsewhere:
  every contact makes the effect of a mutation at i depend on the state at j (epistasis);
- sequences drawn from p_T(x) ∝ exp(-E(x) / T) at the stated effective temperature T by heat-bath Gibbs
  sampling (gensci.ops.potts.gibbs_sample): `chains` chains from random sequences, `burn_in` sweeps, then
  one sequence per chain every `thin` sweeps;
- the wild type is the lowest-energy training sequence; every single and double mutant of it has an exact
  energy change (gensci.ops.potts.single_mutant_effects / double_mutant_effects).

Items: {"seq": [L] int64 states, "weight": [] float32, DeepSequence's sequence weight (theta = `theta`)}.
Train: the family; valid and test: further sequences (held-out MCMC draws, or a seeded `holdout` fraction of
a user's file). Info: alphabet, length, n_states, neff, wild_type (list of ints), n_excluded, source.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import Field

from gensci.config import DataConfig
from gensci.data.base import DataSplits, TensorDictDataset, config_digest, default_cache_dir
from gensci.data.images import load_cached
from gensci.progress import Progress
from gensci.ops.potts import double_mutant_effects, energy, gibbs_sample, single_mutant_effects
from gensci.ops.sequences import (ALPHABET, GAP, N_AMINO_ACIDS, random_double_mutants, sequence_weights,
                                  single_mutants)
from gensci.spec import DataSpec, TensorSpec

DOMAIN = "sequence_family"
_SIM_VERSION = 1  # bump when the construction or the sampler changes: it is part of the cache key


class PottsDataConfig(DataConfig):
    name: Literal["potts"] = "potts"
    path: str | None = Field(None, description="your own aligned FASTA/A2M file (first sequence = wild type)")
    length: int = Field(40, ge=2, description="L positions of the simulated family")
    n_sequences: int = Field(6000, ge=1, description="training sequences (simulated)")
    n_heldout: int = Field(600, ge=2, description="held-out simulated sequences (valid + test)")
    holdout: float = Field(0.05, ge=0, lt=1, description="user file: fraction held out (valid + test)")
    temperature: float = Field(1.0, gt=0, description="effective temperature T of p_T ∝ exp(-E / T)")
    field_scale: float = Field(1.5, ge=0)
    coupling_scale: float = Field(1.0, ge=0)
    contacts_per_site: float = Field(2.0, ge=0, description="long-range contacts per position (plus chain neighbours)")
    gap_field: float = Field(-3.0, description="h_i(gap)")
    chains: int = Field(600, ge=1)
    burn_in: int = Field(200, ge=0, description="Gibbs sweeps before the first kept sequence")
    thin: int = Field(10, ge=1, description="Gibbs sweeps between kept sequences of a chain")
    theta: float = Field(0.2, gt=0, lt=1, description="sequence weights: neighbours above 1 - theta identity")
    n_doubles: int = Field(5000, ge=1, description="double mutants of the wild type scored (drawn uniformly, seeded)")
    cache: bool = Field(True, description="keep the simulated alignment in GENSCI_CACHE/potts/")


@dataclass
class PottsModel:
    h: torch.Tensor  # [L, q]
    J: torch.Tensor  # [L, L, q, q]
    contacts: torch.Tensor  # [K, 2] pairs i < j


def random_potts(config: PottsDataConfig) -> PottsModel:
    """The seeded random construction of the module docstring."""
    g = torch.Generator().manual_seed(config.seed)
    L, q = config.length, len(ALPHABET)
    h = config.field_scale * torch.randn(L, q, generator=g)
    h[:, GAP] = config.gap_field
    far = [(i, j) for i in range(L) for j in range(i + 3, L)]
    n_far = min(len(far), round(config.contacts_per_site * L / 2))
    picked = [far[k] for k in torch.randperm(len(far), generator=g)[:n_far].tolist()]
    contacts = torch.tensor(sorted([(i, i + 1) for i in range(L - 1)] + picked), dtype=torch.long)
    J = torch.zeros(L, L, q, q)
    aa = slice(0, N_AMINO_ACIDS)
    for i, j in contacts.tolist():
        J[i, j, aa, aa] = config.coupling_scale * torch.randn(N_AMINO_ACIDS, N_AMINO_ACIDS, generator=g)
    J = J + J.permute(1, 0, 3, 2)  # one draw per contact, mirrored: J_ji(b, a) = J_ij(a, b)
    return PottsModel(h, J, contacts)


def simulate_family(config: PottsDataConfig) -> tuple[PottsModel, torch.Tensor]:
    """(the Potts model, sequences [n_sequences + n_heldout, L]); chain-major order is shuffled away."""
    model = random_potts(config)
    n = config.n_sequences + config.n_heldout
    per_chain = -(-n // config.chains)
    g = torch.Generator().manual_seed(config.seed + 1)
    seqs = gibbs_sample(model.h, model.J, config.chains, per_chain, config.burn_in, config.thin,
                        config.temperature, g)
    return model, seqs[torch.randperm(len(seqs), generator=g)[:n]]


@dataclass
class MutantSet:
    """Every single amino-acid substitution of the wild type and `n_doubles` random double ones, with their exact
    effects as fitness = -(E(mutant) - E(wild type)) (higher = fitter, the sign of a log-likelihood ratio)."""

    wild_type: torch.Tensor  # [L]
    single: tuple[torch.Tensor, torch.Tensor]  # positions, states [S]
    double: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]  # i, b, j, c [D]
    true: dict[str, torch.Tensor]  # "single" [S], "double" [D], "epistasis" [D]
    coupled: torch.Tensor  # [D] bool: the double's two positions are in contact (J_ij != 0)


def mutant_set(config: PottsDataConfig, wild_type: list[int]) -> MutantSet | None:
    """The mutants of the simulated family's wild type with their true effects (None for a user's alignment)."""
    if config.path is not None:
        return None
    model = random_potts(config)
    wt = torch.tensor(wild_type, dtype=torch.long)
    pos, new = single_mutants(wt)
    i, b, j, c = random_double_mutants(wt, config.n_doubles, torch.Generator().manual_seed(config.seed + 2))
    double, epistasis = double_mutant_effects(model.h, model.J, wt, i, b, j, c)
    true = {"single": -single_mutant_effects(model.h, model.J, wt)[pos, new], "double": -double,
            "epistasis": -epistasis}
    coupled = model.J[i, j].abs().flatten(1).sum(1) > 0
    return MutantSet(wt, (pos, new), (i, b, j, c), true, coupled)


def simulated_arrays(config: PottsDataConfig) -> dict[str, np.ndarray]:
    """The simulated alignment (seqs [n_sequences + n_heldout, L]) and its wild type (the lowest-energy training
    sequence) as arrays for the cache."""
    # Gibbs sampling in gensci.ops (which reports nothing): a line every 10 s while it runs (15 s on a busy 2-core
    # machine for the potts-vae preset's family)
    with Progress("simulating the Potts family (Gibbs sampling; once, then cached):", stages=True):
        model, seqs = simulate_family(config)
    train = seqs[: config.n_sequences]
    return {"seqs": seqs.numpy(), "wild_type": train[energy(model.h, model.J, train).argmin()].numpy()}


def cache_path(config: PottsDataConfig) -> Path:
    fields = config.model_dump(exclude={"name", "path", "holdout", "theta", "n_doubles", "cache"})
    key = config_digest([_SIM_VERSION, fields])
    return default_cache_dir() / "potts" / f"family_{key}.npz"


class PottsData:
    """A simulated protein family (Potts model + MCMC), or a user's alignment; see the module docstring."""

    Config = PottsDataConfig

    @classmethod
    def spec(cls, config: PottsDataConfig) -> DataSpec:
        items = {"seq": TensorSpec(("L",), "int", "states in info['alphabet'] order"),
                 "weight": TensorSpec((), "float", "sequence weight (1 / neighbours within identity 1 - theta)")}
        info = frozenset({"alphabet", "length", "n_states", "neff", "wild_type", "n_excluded", "source"})
        return DataSpec(DOMAIN, items, info)

    @classmethod
    def load(cls, config: PottsDataConfig) -> DataSplits:
        if config.path is not None:
            from gensci.data.sequence_alignment import read_alignment

            aln = read_alignment(config.path)
            seqs, wild_type, excluded, source = torch.from_numpy(aln.seqs), aln.seqs[0], aln.n_excluded, config.path
            g = torch.Generator().manual_seed(config.seed)
            n_out = int(round(config.holdout * len(seqs)))
            order = torch.cat([torch.zeros(1, dtype=torch.long), 1 + torch.randperm(len(seqs) - 1, generator=g)])
            train, held = seqs[order[: len(seqs) - n_out]], seqs[order[len(seqs) - n_out:]]
        else:
            arrays = load_cached(cache_path(config), lambda: simulated_arrays(config), config.cache)
            seqs = torch.from_numpy(arrays["seqs"])
            train, held = seqs[: config.n_sequences], seqs[config.n_sequences:]
            wild_type, excluded, source = arrays["wild_type"], 0, "simulated Potts model"
        weights = sequence_weights(train, config.theta)
        half = len(held) // 2

        def split(s: torch.Tensor) -> TensorDictDataset:
            return TensorDictDataset({"seq": s.long(), "weight": sequence_weights(s, config.theta) if len(s) else
                                      torch.zeros(0)})

        info = {"alphabet": ALPHABET, "length": int(train.shape[1]), "n_states": len(ALPHABET),
                "neff": float(weights.sum()), "wild_type": [int(v) for v in np.asarray(wild_type)],
                "n_excluded": int(excluded), "source": source}
        return DataSplits(TensorDictDataset({"seq": train.long(), "weight": weights}), split(held[:half]),
                          split(held[half:]), info)
