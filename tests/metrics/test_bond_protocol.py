"""Measures of molecules with their own bonds and charges (MiDi's protocol) on hand-made molecules."""

import numpy as np
import pytest
from rdkit import Chem

from gensci.chem.molecule import Molecule, molecules_from_padded
from gensci.chem.rdmol import graph_from_mol, normalise_smiles
from gensci.metrics.bond_protocol import evaluate_graphs, graph_stability


def _graph(smiles, kekulize=True):
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    if kekulize:
        Chem.Kekulize(mol, clearAromaticFlags=True)
    symbols, bonds, charges = graph_from_mol(mol)
    return Molecule(None, symbols, smiles, bonds, charges)


def _broken_valence():
    m = _graph("CCO")
    symbols, bonds = m.atom_types, m.bonds
    o, = [i for i, s in enumerate(symbols) if s == "O"]
    h = [i for i, s in enumerate(symbols) if s == "H" and bonds[i].sum() == 1 and bonds[i, 1] == 1][0]
    bonds[o, h] = bonds[h, o] = 1  # an H of the second C also bonded to O: O 3, that H 2
    return m


def test_stable_molecules():
    mols = [_graph("CC(=O)O"), _graph("C1=CC=CC=C1"), _graph("[NH3+]CC([O-])=O")]
    out = graph_stability(mols)
    assert out["atom_stability_graph"] == 1.0 and out["molecule_stability_graph"] == 1.0
    assert out["n_atoms"] == sum(m.n_atoms for m in mols)


def test_one_broken_valence():
    mols = [_graph("CC(=O)O"), _broken_valence()]
    out = graph_stability(mols)
    assert out["molecule_stability_graph"] == 0.5
    assert out["n_stable_atoms"] == out["n_atoms"] - 2  # the O (3 bonds) and the H (2 bonds)
    assert out["atom_stability_graph"] == pytest.approx((out["n_atoms"] - 2) / out["n_atoms"])


def test_charged_nitrogen_with_four_bonds():
    m = _graph("C[NH3+]")
    assert graph_stability([m])["molecule_stability_graph"] == 1.0
    neutral = graph_stability([Molecule(None, m.atom_types, bonds=m.bonds)])  # no charges: all neutral
    assert neutral["molecule_stability_graph"] == 0.0 and neutral["n_stable_atoms"] == m.n_atoms - 1


def test_aromatic_bonds_count_one_and_a_half():
    benzene = _graph("c1ccccc1", kekulize=False)
    assert (benzene.bonds == 4).sum() == 12
    assert graph_stability([benzene])["molecule_stability_graph"] == 1.0  # C: 1.5 + 1.5 + 1 (H) = 4
    furan = _graph("c1ccoc1", kekulize=False)  # O: 1.5 + 1.5 = 3, not allowed for neutral O
    assert graph_stability([furan])["n_stable_atoms"] == furan.n_atoms - 1


def test_validity_uniqueness_connectedness_novelty():
    acid, benzene = _graph("CC(=O)O"), _graph("C1=CC=CC=C1")
    zwitterion = _graph("[NH3+]CC([O-])=O")
    uncharged = Molecule(None, zwitterion.atom_types, bonds=zwitterion.bonds)  # N with 4 bonds: RDKit rejects it
    # two fragments (acetic acid + methane): valid by its largest fragment, not connected
    methane = _graph("C")
    n, m = acid.n_atoms, methane.n_atoms
    joined = np.zeros((n + m, n + m), int)
    joined[:n, :n], joined[n:, n:] = acid.bonds, methane.bonds
    two = Molecule(None, acid.atom_types + methane.atom_types, bonds=joined,
                   formal_charges=np.concatenate([acid.formal_charges, methane.formal_charges]))
    out = evaluate_graphs([acid, acid, benzene, uncharged, two], reference_smiles={normalise_smiles("CC(=O)O")})
    assert out["validity_graph"] == 0.8 and out["n_valid_graph"] == 4
    assert out["n_unique_graph"] == 2 and out["uniqueness_graph"] == 0.5  # acid x3 (one from the fragments), benzene
    assert out["connected_graph"] == 0.8
    assert out["novelty_graph"] == 0.5  # benzene is new, acetic acid is in the reference
    assert out["validity_x_uniqueness_graph"] == pytest.approx(0.4)
    assert out["molecule_stability_graph"] == 0.8  # the uncharged zwitterion: N 4 bonds, O- 1 bond
    assert out["n_charged_graph"] == 0 and out["n_aromatic_graph"] == 0 and out["n_without_bonds_graph"] == 0


def test_inputs_are_counted_and_stability_can_be_left_out():
    benzene = _graph("c1ccccc1", kekulize=False)
    lone = Molecule(None, ["C"], bonds=np.zeros((1, 1), int))
    out = evaluate_graphs([benzene, _graph("C[NH3+]"), lone])
    assert (out["n_aromatic_graph"], out["n_charged_graph"], out["n_without_bonds_graph"]) == (1, 1, 1)
    assert out["validity_graph"] == 1.0  # RDKit fills the lone carbon's hydrogens: methane
    heavy = evaluate_graphs([Molecule(None, ["C", "O"], bonds=[[0, 2], [2, 0]])], stability=False)
    assert "molecule_stability_graph" not in heavy and heavy["validity_graph"] == 1.0  # C=O: formaldehyde
    with pytest.raises(ValueError, match="no bonds of its own"):
        evaluate_graphs([Molecule(np.zeros((1, 3)), ["C"])])


def test_padded_batch_gives_the_same_molecules():
    mols = [_graph("CC(=O)O"), _graph("C[NH3+]"), _broken_valence()]
    elements = ["H", "C", "N", "O"]
    width = max(m.n_atoms for m in mols) + 2
    b = len(mols)
    types, charges = np.full((b, width), -1), np.zeros((b, width), int)
    bonds, mask = np.zeros((b, width, width), int), np.zeros((b, width), bool)
    for k, m in enumerate(mols):
        n = m.n_atoms
        types[k, :n], charges[k, :n] = [elements.index(x) for x in m.atom_types], m.formal_charges
        bonds[k, :n, :n], mask[k, :n] = m.bonds, True
    back = molecules_from_padded({"atom_types": types, "formal_charges": charges, "bonds": bonds, "node_mask": mask},
                                 elements)
    assert [m.atom_types for m in back] == [m.atom_types for m in mols]
    assert graph_stability(back) == graph_stability(mols)
