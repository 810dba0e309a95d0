"""Measures of molecules that carry their own bonds and formal charges (models that predict bonds).

The protocol of MiDi (Vignac et al., ECML 2023; github.com/cvignac/MiDi commit 775b731), which its
successors (EQGAT-diff, SemlaFlow, FlowMol) reuse:
- stability (midi/analysis/rdkit_functions.py `check_stability`): an atom is stable when the orders of
  its bonds add up to a valence allowed for its element and formal charge (gensci.chem.valences);
  `atom_stability_graph` is pooled over all atoms, `molecule_stability_graph` the fraction of molecules
  whose atoms are all stable. It needs explicit hydrogens (MiDi reports it for QM9 with H only).
- validity (midi/metrics/molecular_metrics.py `compute_validity`): the molecule is built with its bonds
  and charges, split into fragments, and its largest fragment must sanitise in RDKit; its SMILES counts.
  A disconnected molecule can thus be valid; `connected_graph` is the fraction in one piece.
- uniqueness: distinct valid SMILES / valid; novelty: unique SMILES absent from a reference set / unique.
SMILES are canonical, without stereo, hydrogens folded in (gensci.chem.rdmol.canonical_smiles), so
they compare with the reference's SMILES made the same way.

Keys end in `_graph`: they score the molecules' own bonds, unlike gensci.metrics.molecules (EDM's
protocol: bonds from distances), and both sets can live in one report.
"""

from __future__ import annotations

import numpy as np

from gensci.chem.molecule import Molecule, as_molecule
from gensci.chem.rdmol import fragment_smiles, molecule_to_rdkit
from gensci.chem.valences import MIDI_TABLE, ValenceTable, atom_stable_batch

# MiDi paper (Vignac et al., ECML 2023) Table 2, QM9 with explicit H, row "Data" (gdb9.sdf's bonds); the paper
# prints percentages (99.8, 98.7, 98.9, 99.9), kept here as fractions like every measure in gensci.
MIDI_QM9_DATA = {"atom_stability_graph": 0.998, "molecule_stability_graph": 0.987, "validity_graph": 0.989,
                 "uniqueness_graph": 0.999}


def _with_bonds(molecules) -> list[Molecule]:
    mols = [as_molecule(m, k) for k, m in enumerate(molecules)]
    if not mols:
        raise ValueError("no molecules to evaluate")
    for k, m in enumerate(mols):
        if m.bonds is None:
            raise ValueError(f"molecule {k} ({m.name}) has no bonds of its own: the predicted-bond protocol needs them")
    return mols


def graph_stability(molecules, aromatic_order: float = 1.5) -> dict[str, float | int]:
    """atom_stability_graph, molecule_stability_graph (fractions), n_molecules, n_atoms, n_stable_atoms,
    n_stable_molecules of Molecules with bonds (and formal charges; none = neutral) (MiDi's check_stability)."""
    mols = _with_bonds(molecules)
    atom, molecule, mask = stable_atoms(mols, aromatic_order)
    n_atoms = int(mask.sum())
    return {"atom_stability_graph": float(atom.sum() / max(n_atoms, 1)),
            "molecule_stability_graph": float(molecule.mean()), "n_molecules": len(mols), "n_atoms": n_atoms,
            "n_stable_atoms": int(atom.sum()), "n_stable_molecules": int(molecule.sum())}


def stable_atoms(molecules: list[Molecule], aromatic_order: float = 1.5, table: ValenceTable = MIDI_TABLE,
                 chunk: int = 4096) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(atom stable [B, N], molecule stable [B], real atoms [B, N]) of Molecules with bonds, padded to the largest:
    gensci.chem.valences.atom_stable_batch under `table` (MiDi's, or STRICT_TABLE), `chunk` molecules at a time
    (QM9's 100,000 padded bond matrices would take 0.7 GB at once)."""
    width = max(m.n_atoms for m in molecules)
    elements = sorted({s for m in molecules for s in m.atom_types})
    lookup = {e: i for i, e in enumerate(elements)}
    atom, molecule, mask = [], [], []
    for start in range(0, len(molecules), chunk):
        part = molecules[start : start + chunk]
        b = len(part)
        types, charges = np.zeros((b, width), np.int64), np.zeros((b, width), np.int64)
        bonds, real = np.zeros((b, width, width), np.int64), np.zeros((b, width), bool)
        for k, m in enumerate(part):
            n = m.n_atoms
            types[k, :n] = [lookup[s] for s in m.atom_types]
            charges[k, :n], bonds[k, :n, :n], real[k, :n] = m.charges_or_neutral, m.bonds, True
        stable, whole = atom_stable_batch(types, charges, bonds, real, elements, aromatic_order, table)
        atom.append(stable)
        molecule.append(whole)
        mask.append(real)
    return np.concatenate(atom), np.concatenate(molecule), np.concatenate(mask)


def graph_smiles(molecule: Molecule) -> tuple[str | None, int]:
    """(SMILES of the largest fragment or None if it does not sanitise, number of fragments) of a molecule
    built with its own bonds and charges, as MiDi's compute_validity."""
    _, largest, n_fragments = fragment_smiles(molecule_to_rdkit(molecule))
    return largest, n_fragments


def evaluate_graphs(molecules, reference_smiles=None, aromatic_order: float = 1.5, stability: bool = True) -> dict:
    """Stability, validity, uniqueness, novelty and connectedness of molecules with their own bonds.

    molecules: Molecules with bonds (formal charges optional; gensci.chem.molecule.molecules_from_padded
    makes them from a padded batch). reference_smiles: SMILES made as here (e.g. the training set's via
    gensci.chem.rdmol.smiles_from_graph) for novelty, else novelty_graph is None. stability=False leaves
    the stability keys out (graphs without explicit hydrogens: MiDi reports stability only with H).
    Returns fractions in [0, 1]: atom_stability_graph, molecule_stability_graph, validity_graph,
    uniqueness_graph, novelty_graph, validity_x_uniqueness_graph, connected_graph; counts n_molecules,
    n_atoms, n_valid_graph, n_unique_graph, and what the input held: n_aromatic_graph (molecules with an
    aromatic bond), n_charged_graph (with a charged atom), n_without_bonds_graph.
    """
    from rdkit import rdBase

    mols = _with_bonds(molecules)
    out = graph_stability(mols, aromatic_order) if stability else {
        "n_molecules": len(mols), "n_atoms": sum(m.n_atoms for m in mols)}
    with rdBase.BlockLogs():
        results = [graph_smiles(m) for m in mols]
    valid = [s for s, _ in results if s is not None]
    unique = set(valid)
    out |= {
        "validity_graph": len(valid) / len(mols),
        "uniqueness_graph": len(unique) / len(valid) if valid else 0.0,
        "novelty_graph": None,
        "connected_graph": float(np.mean([n == 1 for _, n in results])),
        "n_valid_graph": len(valid),
        "n_unique_graph": len(unique),
        "n_aromatic_graph": sum(bool((m.bonds == 4).any()) for m in mols),
        "n_charged_graph": sum(bool(m.charges_or_neutral.any()) for m in mols),
        "n_without_bonds_graph": sum(not m.bonds.any() for m in mols),
    }
    out["validity_x_uniqueness_graph"] = out["validity_graph"] * out["uniqueness_graph"]
    if reference_smiles is not None and unique:
        out["novelty_graph"] = len(unique - set(reference_smiles)) / len(unique)
    return out
