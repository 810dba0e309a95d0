"""RDKit molecules from atoms, bonds and formal charges; canonical SMILES."""

import numpy as np
import pytest
from rdkit import Chem

from gensci.chem.rdmol import build_mol, canonical_smiles, graph_from_mol, normalise_smiles, smiles_from_graph


@pytest.mark.parametrize("smiles", ["CC(=O)O", "[NH3+]CC([O-])=O", "C1=CC=CC=C1", "C#CC1=COC=N1", "[C-]#[N+]C"])
def test_smiles_round_trip_through_the_graph(smiles):
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    Chem.Kekulize(mol, clearAromaticFlags=True)
    symbols, bonds, charges = graph_from_mol(mol)
    assert set(np.unique(bonds)) <= {0, 1, 2, 3} and (bonds == bonds.T).all() and not bonds.diagonal().any()
    assert smiles_from_graph(symbols, bonds, charges) == normalise_smiles(smiles)
    heavy = [i for i, s in enumerate(symbols) if s != "H"]  # implicit hydrogens give the same molecule
    assert smiles_from_graph([symbols[i] for i in heavy], bonds[np.ix_(heavy, heavy)], charges[heavy]) \
        == normalise_smiles(smiles)


def test_invalid_molecules_give_none():
    assert smiles_from_graph(["C", "C"], [[0, 3], [3, 0]], [0, 0]) == "C#C"
    assert smiles_from_graph(["O", "O", "O"], [[0, 2, 2], [2, 0, 0], [2, 0, 0]]) is None  # O with valence 4
    assert smiles_from_graph(["N"] + ["H"] * 4, _star(5)) is None  # neutral NH4
    assert smiles_from_graph(["N"] + ["H"] * 4, _star(5), [1, 0, 0, 0, 0]) == "[NH4+]"


def _star(n):
    bonds = np.zeros((n, n), int)
    bonds[0, 1:] = bonds[1:, 0] = 1
    return bonds


def test_conformer_and_atomic_numbers():
    pos = np.array([[0.0, 0.0, 0.0], [1.2, 0.0, 0.0]])
    mol = build_mol([6, 8], [[0, 2], [2, 0]], positions=pos)
    assert mol.GetNumConformers() == 1
    assert np.allclose(mol.GetConformer().GetPositions(), pos)
    assert canonical_smiles(mol) == "C=O"
    with pytest.raises(ValueError, match="code 7"):
        build_mol(["C", "C"], [[0, 7], [7, 0]])
