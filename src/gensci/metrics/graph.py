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

from typing import Sequence

import numpy as np

from gensci.chem.valences import atom_stable_batch

GraphMolecule = tuple  # (symbols: N element symbols, formal_charges: [N] int, bonds: [N, N] int codes 0-4)


def graphs_from_padded(atom_types, formal_charges, bonds, node_mask, elements: Sequence[str]) -> list[GraphMolecule]:
    """Padded arrays -> list of (symbols, formal_charges [n], bonds [n, n]).

    atom_types [B, N] int (index into `elements`), formal_charges [B, N] int, bonds [B, N, N] int codes,
    node_mask [B, N]; real atoms may sit anywhere in a row (they are gathered in order).
    """
    types, charges, bonds = (np.asarray(a) for a in (atom_types, formal_charges, bonds))
    mask = np.asarray(node_mask).astype(bool)
    out = []
    for b in range(len(mask)):
        idx = np.flatnonzero(mask[b])
        out.append(([str(elements[t]) for t in types[b, idx]], charges[b, idx], bonds[b][np.ix_(idx, idx)]))
    return out


def graph_stability(molecules: Sequence[GraphMolecule], aromatic_order: float = 1.5) -> dict[str, float | int]:
    """atom_stability_graph, molecule_stability_graph (fractions), n_molecules, n_atoms, n_stable_atoms,
    n_stable_molecules of (symbols, formal_charges, bonds) molecules (MiDi's check_stability)."""
    if not molecules:
        raise ValueError("no molecules to evaluate")
    width = max(len(m[0]) for m in molecules)
    elements = sorted({str(s) for m in molecules for s in m[0]})
    lookup = {e: i for i, e in enumerate(elements)}
    b = len(molecules)
    types, charges = np.zeros((b, width), np.int64), np.zeros((b, width), np.int64)
    bonds, mask = np.zeros((b, width, width), np.int64), np.zeros((b, width), bool)
    for k, (symbols, fc, bo) in enumerate(molecules):
        n = len(symbols)
        bo = np.asarray(bo)
        if bo.shape != (n, n) or np.shape(fc) != (n,):
            raise ValueError(f"molecule {k}: expected bonds [{n}, {n}] and formal charges [{n}]; got "
                             f"{list(bo.shape)} and {list(np.shape(fc))}")
        types[k, :n] = [lookup[str(s)] for s in symbols]
        charges[k, :n], bonds[k, :n, :n], mask[k, :n] = fc, bo, True
    atom, molecule = atom_stable_batch(types, charges, bonds, mask, elements, aromatic_order)
    n_atoms = int(mask.sum())
    return {"atom_stability_graph": float(atom.sum() / max(n_atoms, 1)),
            "molecule_stability_graph": float(molecule.mean()), "n_molecules": b, "n_atoms": n_atoms,
            "n_stable_atoms": int(atom.sum()), "n_stable_molecules": int(molecule.sum())}


def largest_fragment_smiles(symbols, formal_charges, bonds) -> tuple[str | None, int]:
    """(SMILES of the largest fragment or None if it does not sanitise, number of fragments), as MiDi's
    compute_validity."""
    from rdkit import Chem

    from gensci.chem.rdmol import build_mol, canonical_smiles

    mol = build_mol(symbols, bonds, formal_charges)
    fragments = Chem.GetMolFrags(mol, asMols=True, sanitizeFrags=False)
    largest = max(fragments, key=lambda m: m.GetNumAtoms(), default=mol)
    return canonical_smiles(largest), len(fragments)


def evaluate_graphs(molecules: Sequence[GraphMolecule], reference_smiles=None, aromatic_order: float = 1.5) -> dict:
    """Stability, validity, uniqueness, novelty and connectedness of molecules with their own bonds.

    molecules: (symbols, formal_charges [N], bonds [N, N] codes 0-4) triples (graphs_from_padded makes
    them from a padded batch). reference_smiles: SMILES made as here (e.g. the training set's via
    gensci.chem.rdmol.smiles_from_graph) for novelty, else novelty_graph is None.
    Returns fractions in [0, 1]: atom_stability_graph, molecule_stability_graph, validity_graph,
    uniqueness_graph, novelty_graph, validity_x_uniqueness_graph, connected_graph; counts n_molecules,
    n_atoms, n_valid_graph, n_unique_graph.
    """
    from rdkit import rdBase

    molecules = list(molecules)
    out = graph_stability(molecules, aromatic_order)
    with rdBase.BlockLogs():
        results = [largest_fragment_smiles(*m) for m in molecules]
    valid = [s for s, _ in results if s is not None]
    unique = set(valid)
    out |= {
        "validity_graph": len(valid) / len(molecules),
        "uniqueness_graph": len(unique) / len(valid) if valid else 0.0,
        "novelty_graph": None,
        "connected_graph": float(np.mean([n == 1 for _, n in results])),
        "n_valid_graph": len(valid),
        "n_unique_graph": len(unique),
    }
    out["validity_x_uniqueness_graph"] = out["validity_graph"] * out["uniqueness_graph"]
    if reference_smiles is not None and unique:
        out["novelty_graph"] = len(unique - set(reference_smiles)) / len(unique)
    return out
