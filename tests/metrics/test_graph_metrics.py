"""Measures of molecules with their own bonds and charges (MiDi's protocol) on hand-made molecules."""

import numpy as np
import pytest
from rdkit import Chem

from gensci.chem.rdmol import graph_from_mol, normalise_smiles
from gensci.metrics.graph import evaluate_graphs, graph_stability, graphs_from_padded


def _graph(smiles, kekulize=True):
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    if kekulize:
        Chem.Kekulize(mol, clearAromaticFlags=True)
    symbols, bonds, charges = graph_from_mol(mol)
    return symbols, charges, bonds


def _broken_valence():
    symbols, charges, bonds = _graph("CCO")
    o, = [i for i, s in enumerate(symbols) if s == "O"]
    h = [i for i, s in enumerate(symbols) if s == "H" and bonds[i].sum() == 1 and bonds[i, 1] == 1][0]
    bonds[o, h] = bonds[h, o] = 1  # an H of the second C also bonded to O: O 3, that H 2
    return symbols, charges, bonds


def test_stable_molecules():
    mols = [_graph("CC(=O)O"), _graph("C1=CC=CC=C1"), _graph("[NH3+]CC([O-])=O")]
    out = graph_stability(mols)
    assert out["atom_stability_graph"] == 1.0 and out["molecule_stability_graph"] == 1.0
    assert out["n_atoms"] == sum(len(m[0]) for m in mols)


def test_one_broken_valence():
    mols = [_graph("CC(=O)O"), _broken_valence()]
    out = graph_stability(mols)
    assert out["molecule_stability_graph"] == 0.5
    assert out["n_stable_atoms"] == out["n_atoms"] - 2  # the O (3 bonds) and the H (2 bonds)
    assert out["atom_stability_graph"] == pytest.approx((out["n_atoms"] - 2) / out["n_atoms"])


def test_charged_nitrogen_with_four_bonds():
    symbols, charges, bonds = _graph("C[NH3+]")
    assert graph_stability([(symbols, charges, bonds)])["molecule_stability_graph"] == 1.0
    neutral = graph_stability([(symbols, np.zeros_like(charges), bonds)])
    assert neutral["molecule_stability_graph"] == 0.0 and neutral["n_stable_atoms"] == len(symbols) - 1


def test_aromatic_bonds_count_one_and_a_half():
    benzene = _graph("c1ccccc1", kekulize=False)
    assert (benzene[2] == 4).sum() == 12
    assert graph_stability([benzene])["molecule_stability_graph"] == 1.0  # C: 1.5 + 1.5 + 1 (H) = 4
    furan = _graph("c1ccoc1", kekulize=False)  # O: 1.5 + 1.5 = 3, not allowed for neutral O
    assert graph_stability([furan])["n_stable_atoms"] == len(furan[0]) - 1


def test_validity_uniqueness_connectedness_novelty():
    acid, benzene = _graph("CC(=O)O"), _graph("C1=CC=CC=C1")
    symbols, charges, bonds = _graph("[NH3+]CC([O-])=O")
    uncharged = (symbols, np.zeros_like(charges), bonds)  # N with 4 bonds, no charge: RDKit rejects it
    # two fragments (acetic acid + methane): valid by its largest fragment, not connected
    sa, ca, ba = acid
    sm, cm, bm = _graph("C")
    n, m = len(sa), len(sm)
    joined = np.zeros((n + m, n + m), int)
    joined[:n, :n], joined[n:, n:] = ba, bm
    two = (sa + sm, np.concatenate([ca, cm]), joined)
    out = evaluate_graphs([acid, acid, benzene, uncharged, two], reference_smiles={normalise_smiles("CC(=O)O")})
    assert out["validity_graph"] == 0.8 and out["n_valid_graph"] == 4
    assert out["n_unique_graph"] == 2 and out["uniqueness_graph"] == 0.5  # acid x3 (one from the fragments), benzene
    assert out["connected_graph"] == 0.8
    assert out["novelty_graph"] == 0.5  # benzene is new, acetic acid is in the reference
    assert out["validity_x_uniqueness_graph"] == pytest.approx(0.4)
    assert out["molecule_stability_graph"] == 0.8  # the uncharged zwitterion: N 4 bonds, O- 1 bond


def test_padded_batch_gives_the_same_molecules():
    mols = [_graph("CC(=O)O"), _graph("C[NH3+]"), _broken_valence()]
    elements = ["H", "C", "N", "O"]
    width = max(len(m[0]) for m in mols) + 2
    b = len(mols)
    types, charges = np.full((b, width), -1), np.zeros((b, width), int)
    bonds, mask = np.zeros((b, width, width), int), np.zeros((b, width), bool)
    for k, (s, c, bo) in enumerate(mols):
        n = len(s)
        types[k, :n], charges[k, :n], bonds[k, :n, :n], mask[k, :n] = [elements.index(x) for x in s], c, bo, True
    back = graphs_from_padded(types, charges, bonds, mask, elements)
    assert [m[0] for m in back] == [m[0] for m in mols]
    assert graph_stability(back) == graph_stability(mols)
