"""Stability, validity, uniqueness, novelty of 3D molecules, measured as EDM measures them (bonds from distances).

EDM = Hoogeboom, Satorras, Vignac, Welling, "Equivariant Diffusion for Molecule Generation in 3D",
ICML 2022; code github.com/ehoogeboom/e3_diffusion_for_molecules (commit d28fd52), cited by file:
- bonds and stability: qm9/bond_analyze.py `get_bond_order`, qm9/analyze.py `check_stability`
  (gensci.chem.distance_bonds). Atom stability is pooled over all atoms of all molecules. A molecule's
  own bonds, if it has any, are ignored here: this protocol scores the geometry.
- validity / uniqueness / novelty: qm9/rdkit_functions.py `BasicMolecularMetrics`: build an RDKit
  molecule with those bonds (no charges), `Chem.SanitizeMol`; if it sanitizes, the SMILES of its
  largest fragment counts as valid (explicit H atoms kept, `Chem.MolToSmiles` defaults).
  Uniqueness = distinct valid SMILES / valid. Papers report validity x uniqueness (EDM Table 1).
- novelty (`compute_novelty`): a unique valid SMILES is novel when it is absent from the training set's
  SMILES (`retrieve_qm9_smiles`), which `compute_qm9_smiles` builds with the same pipeline on *whole*
  molecules (`mol2smiles` of the molecule, not of its largest fragment; invalid ones left out). `novelty_largest_fragment` is
  gensci's earlier variant: the training set's largest-fragment SMILES instead. The two differ only
  for training molecules whose inferred bonds fall apart into fragments (0.02 % of QM9's training split):
  their whole SMILES ("A.B") never equals a sample's largest fragment, their largest fragment may.
Everything here is numpy + RDKit and works on any molecules with positions (gensci.chem.molecule.as_molecule).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gensci.chem.distance_bonds import ELEMENTS, bond_orders_batch, distance_stable_batch, infer_bonds, type_indices
from gensci.chem.molecule import Molecule, as_molecule
from gensci.chem.rdmol import fragment_smiles, molecule_to_rdkit

# EDM Table 1, row "Data" (QM9 with H): what the measures give on the data set itself; the paper prints
# percentages (99.0, 95.2, 97.7, 97.7), kept here as fractions like every measure in gensci.
EDM_QM9_DATA = {"atom_stability": 0.990, "molecule_stability": 0.952, "validity": 0.977, "validity_x_uniqueness": 0.977}

EdmSmiles = tuple  # (whole molecule's SMILES or None if invalid, largest fragment's SMILES or None)


def edm_smiles(molecule: Molecule, bonds=None) -> EdmSmiles:
    """EDM's validity pipeline (build_molecule + mol2smiles) on one molecule: (SMILES of the whole molecule,
    SMILES of its largest fragment), both None when the molecule does not sanitise. bonds: [N, N] codes
    (default: inferred from the distances)."""
    m = as_molecule(molecule)
    bonds = infer_bonds(m.positions, m.atom_types) if bonds is None else bonds
    whole, largest, _ = fragment_smiles(molecule_to_rdkit(m, bonds, charges=False), isomeric=True, remove_hs=False)
    return (whole, largest) if whole is not None else (None, None)


@dataclass(frozen=True)
class SmilesReference:
    """A reference set's SMILES from EDM's pipeline (e.g. the training split's): `whole` molecules (what
    EDM's novelty compares with) and their `largest_fragment` (gensci's earlier variant)."""

    whole: frozenset[str]
    largest_fragment: frozenset[str]

    @classmethod
    def from_smiles(cls, pairs) -> "SmilesReference":
        """From edm_smiles pairs; invalid molecules (None) are left out, as in compute_qm9_smiles."""
        pairs = [p for p in pairs if p[0]]
        return cls(frozenset(w for w, _ in pairs), frozenset(f for _, f in pairs))

    @classmethod
    def from_molecules(cls, molecules) -> "SmilesReference":
        return cls.from_smiles(smiles_of(molecules))


def smiles_of(molecules, bonds=None) -> list[EdmSmiles]:
    """edm_smiles of each molecule (bonds: per molecule, default inferred), RDKit's warnings silenced."""
    from rdkit import rdBase

    molecules = list(molecules)
    bonds = [None] * len(molecules) if bonds is None else bonds
    with rdBase.BlockLogs():  # RDKit would print one line per molecule that fails to sanitize
        return [edm_smiles(m, b) for m, b in zip(molecules, bonds)]


@dataclass
class DistanceAnalysis:
    """Per-molecule results of the vectorised distance-bond analysis: stable and total atom counts [M],
    whether the inferred bond graph is connected [M], and the inferred bonds ([n, n] int8 each)."""

    n_stable: np.ndarray
    n_atoms: np.ndarray
    connected: np.ndarray
    bonds: list[np.ndarray]


def analyse(molecules, chunk: int = 1024) -> DistanceAnalysis:
    """EDM's bonds, stability and connectivity of many molecules, `chunk` molecules at a time."""
    mols = [as_molecule(m, k) for k, m in enumerate(molecules)]
    for k, m in enumerate(mols):
        if m.positions is None or m.n_atoms == 0:
            raise ValueError(f"molecule {k}: EDM's protocol needs atoms with positions")
    n_stable, n_atoms, connected, bonds = [], [], [], []
    for start in range(0, len(mols), chunk):
        part = mols[start : start + chunk]
        width = max(m.n_atoms for m in part)
        pos = np.zeros((len(part), width, 3))
        types = np.full((len(part), width), len(ELEMENTS))
        for b, m in enumerate(part):
            pos[b, : m.n_atoms], types[b, : m.n_atoms] = m.positions, type_indices(m.atom_types)
        orders, _ = bond_orders_batch(pos, types)
        sizes = np.array([m.n_atoms for m in part])
        n_stable.append(distance_stable_batch(orders, types).sum(1))
        n_atoms.append(sizes)
        connected.append(connected_batch(orders > 0, sizes))
        bonds.extend(orders[b, :n, :n] for b, n in enumerate(sizes))
    cat = lambda xs: np.concatenate(xs) if xs else np.zeros(0, dtype=int)  # noqa: E731
    return DistanceAnalysis(cat(n_stable), cat(n_atoms), cat(connected).astype(bool), bonds)


def evaluate_molecules(molecules, reference: SmilesReference | None = None, smiles: list[EdmSmiles] | None = None,
                       analysis: DistanceAnalysis | None = None) -> dict:
    """EDM's measures on a list of molecules with positions.

    molecules: Molecules, (positions [N, 3] Angstrom, atom_types) pairs or objects with .positions/.atom_types.
    reference: the training set's SMILES (SmilesReference) for novelty; else novelty is None.
    smiles / analysis: edm_smiles per molecule and analyse(molecules), if already computed.

    Returns fractions in [0, 1]: atom_stability (pooled over atoms), molecule_stability, validity,
    uniqueness (distinct among valid), novelty (EDM's: not among the reference's whole-molecule SMILES,
    among unique valid), novelty_largest_fragment (not among the reference's largest fragments),
    validity_x_uniqueness (= validity * uniqueness, EDM Table 1), connected (inferred bond graph in one
    piece); counts n_molecules, n_atoms, n_valid, n_unique.
    Stability needs explicit hydrogens (EDM reports it for QM9 with H only); validity works either way,
    since RDKit fills in implicit hydrogens when sanitizing.
    """
    molecules = list(molecules)
    if not molecules:
        raise ValueError("no molecules to evaluate")
    a = analyse(molecules) if analysis is None else analysis
    n = len(a.n_atoms)
    smiles = smiles_of(molecules, a.bonds) if smiles is None else smiles
    if len(smiles) != n:
        raise ValueError(f"got {len(smiles)} SMILES for {n} molecules")
    valid = [largest for whole, largest in smiles if whole]
    unique = set(valid)
    out = {
        "n_molecules": n,
        "n_atoms": int(a.n_atoms.sum()),
        "atom_stability": float(a.n_stable.sum() / a.n_atoms.sum()),
        "molecule_stability": float(np.mean(a.n_stable == a.n_atoms)),
        "validity": len(valid) / n,
        "uniqueness": len(unique) / len(valid) if valid else 0.0,
        "novelty": None,
        "novelty_largest_fragment": None,
        "connected": float(a.connected.mean()),
        "n_valid": len(valid),
        "n_unique": len(unique),
    }
    out["validity_x_uniqueness"] = out["validity"] * out["uniqueness"]
    if reference is not None and unique:
        out["novelty"] = len(unique - reference.whole) / len(unique)
        out["novelty_largest_fragment"] = len(unique - reference.largest_fragment) / len(unique)
    return out


def connected_batch(adjacency: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """[B] whether the real atoms of each padded graph [B, N, N] form one component (transitive closure)."""
    reach = np.zeros(adjacency.shape[:2], dtype=bool)
    reach[:, 0] = True
    for _ in range(adjacency.shape[1]):  # grow the set reachable from atom 0 until it stops changing
        grown = reach | (adjacency & reach[:, None, :]).any(2)
        if (grown == reach).all():
            break
        reach = grown
    real = np.arange(adjacency.shape[1])[None, :] < sizes[:, None]
    return (reach | ~real).all(1)
