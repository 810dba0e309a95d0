"""QM9's training split as the reference of molecule evaluations, computed once and cached.

Next to the parsed QM9 arrays (`GENSCI_CACHE`/qm9/), written atomically:
- `v2_train_edm_smiles_{h,noh}.txt`: per molecule of EDM's training split, EDM's whole-molecule SMILES and
  its largest fragment's (tab-separated, empty = invalid), bonds from distances (novelty; ~3 min once);
- `v1_train_graph_smiles.txt`: the SMILES of the perceived bonds and charges of the qm9-bonds training
  split (novelty_graph; the same with and without H, since hydrogens are folded in; ~1 min once);
- `v2_train_stats_{h,noh}_{inferred,own}.npz`: element, size, bond-length and bond-angle distributions
  with EDM's inferred bonds or with the perceived ones, at most STATS_PER_KIND values per kind.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gensci.chem.molecule import Molecule
from gensci.data import qm9
from gensci.data.base import default_cache_dir
from gensci.data.qm9_bonds import load_perception
from gensci.files import atomic_write
from gensci.metrics.distributions import MoleculeStats, molecule_stats
from gensci.metrics.bond_protocol import graph_smiles
from gensci.metrics.molecule_protocols import Carried, MoleculeReference
from gensci.metrics.molecules import SmilesReference, smiles_of

STATS_PER_KIND = 20_000  # W1 from 20k values per kind: sampling error well below the differences that matter
QM9_ELEMENTS = frozenset(qm9.ELEMENTS)
_SYMBOL = dict(zip(qm9.ATOMIC_NUMBERS, qm9.ELEMENTS))


def qm9_molecules(split: str = "train", limit: int | None = None, remove_h: bool = False,
                  bonds: bool = False) -> list[Molecule]:
    """QM9 molecules of an EDM split (the first `limit`), positions in Angstrom (float64) as in the data set.
    bonds=True: with the perceived bonds and formal charges of qm9-bonds, leaving out the molecules whose
    perception failed (gensci.data.qm9_bonds: 2 of 130,831)."""
    arrays = qm9.load_arrays()
    rows = qm9.split_rows(split)[:limit]
    perception = load_perception(rows, arrays) if bonds else None
    out = []
    for k, row in enumerate(rows):
        n = int(arrays["n_atoms"][row])
        z, pos = arrays["charges"][row, :n], arrays["positions"][row, :n].astype(np.float64)
        keep = z > 1 if remove_h else np.ones(n, dtype=bool)
        name = f"qm9 {arrays['index'][row]}"
        types = [_SYMBOL[int(v)] for v in z[keep]]
        if perception is None:
            out.append(Molecule(pos[keep], types, name))
        elif perception["status"][k] < 2:
            b = perception["bonds"][k, :n, :n][np.ix_(keep, keep)]
            out.append(Molecule(pos[keep], types, name, b, perception["formal_charges"][k, :n][keep]))
    return out


def perceived(rows) -> np.ndarray:
    """[len(rows)] bool: the bond perception of these rows of the QM9 arrays succeeded (qm9-bonds keeps them)."""
    return load_perception(np.asarray(rows))["status"] < 2


def edm_smiles_cached(remove_h: bool = False) -> bool:
    return _edm_smiles_path(remove_h).exists()


def _edm_smiles_path(remove_h: bool) -> Path:
    return _cache_path(f"v2_train_edm_smiles_{_tag(remove_h)}.txt")


def qm9_edm_smiles(remove_h: bool = False) -> list[tuple]:
    """EDM's (whole, largest fragment) SMILES of every molecule of the training split (cached)."""
    path = _edm_smiles_path(remove_h)
    if path.exists():
        return [tuple(part or None for part in line.split("\t")) for line in path.read_text().split("\n")[:-1]]
    pairs = smiles_of(qm9_molecules("train", None, remove_h))
    atomic_write(path, "".join(f"{w or ''}\t{f or ''}\n" for w, f in pairs))
    return pairs


def qm9_graph_smiles() -> frozenset[str]:
    """Distinct valid SMILES of the perceived training molecules (qm9-bonds; cached): novelty_graph's reference."""
    path = _cache_path("v1_train_graph_smiles.txt")
    if path.exists():
        return frozenset(s for s in path.read_text().split("\n") if s)
    from rdkit import rdBase

    with rdBase.BlockLogs():
        smiles = [graph_smiles(m)[0] for m in qm9_molecules("train", None, bonds=True)]
    atomic_write(path, "".join(f"{s or ''}\n" for s in smiles))
    return frozenset(s for s in smiles if s)


def qm9_stats(remove_h: bool = False, own_bonds: bool = False) -> MoleculeStats:
    """Distributions of the training split with EDM's inferred bonds, or with the perceived ones (cached)."""
    path = _cache_path(f"v2_train_stats_{_tag(remove_h)}_{'own' if own_bonds else 'inferred'}.npz")
    if path.exists():
        with np.load(path, allow_pickle=False) as f:
            return MoleculeStats.from_arrays({k: f[k] for k in f.files})
    molecules = qm9_molecules("train", None, remove_h, bonds=own_bonds)
    stats = molecule_stats(molecules).subsampled(STATS_PER_KIND)  # own bonds, or inferred when there are none
    atomic_write(path, lambda tmp: np.savez_compressed(tmp, **stats.to_arrays()))
    return stats


def qm9_reference(remove_h: bool, carried: Carried, distributions: bool = True) -> MoleculeReference:
    """The parts of QM9's training split that the protocols for `carried` molecules compare with
    (SMILES for novelty; with `distributions` the distributions too)."""
    reference = MoleculeReference(f"qm9 train ({'without' if remove_h else 'with'} H)")
    if carried.positions:
        reference.smiles = SmilesReference.from_smiles(qm9_edm_smiles(remove_h))
    if carried.bonds:
        reference.graph_smiles = qm9_graph_smiles()
    if distributions:
        reference.stats_inferred = qm9_stats(remove_h)
        if carried.bonds and carried.positions:
            reference.stats_own = qm9_stats(remove_h, own_bonds=True)
    return reference


def file_reference(molecules: list[Molecule], name: str) -> MoleculeReference:
    """A reference made of the molecules of a user's file (its own bonds where it lists them)."""
    from rdkit import rdBase

    reference = MoleculeReference(name, SmilesReference.from_molecules(molecules),
                                  stats_inferred=molecule_stats([_without_bonds(m) for m in molecules]))
    if all(m.bonds is not None for m in molecules):
        with rdBase.BlockLogs():
            reference.graph_smiles = frozenset(s for s in (graph_smiles(m)[0] for m in molecules) if s)
        reference.stats_own = molecule_stats(molecules)
    return reference


def _without_bonds(m: Molecule) -> Molecule:
    return Molecule(m.positions, m.atom_types, m.name, None, m.formal_charges)


def _tag(remove_h: bool) -> str:
    return "noh" if remove_h else "h"


def _cache_path(name: str) -> Path:
    return default_cache_dir() / "qm9" / name
