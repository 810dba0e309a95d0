"""The predicted-bond stability protocol (MiDi's allowed valences by element and formal charge)."""

import numpy as np
import pytest
from rdkit import Chem

from gensci.chem.rdmol import graph_from_mol
from gensci.chem.valences import MIDI_ALLOWED_VALENCES, atom_stable_batch, molecule_stability, valences


def _graph(smiles, kekulize=True):
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    if kekulize:
        Chem.Kekulize(mol, clearAromaticFlags=True)
    return graph_from_mol(mol)


def test_table_is_midis():
    # cvignac/MiDi@775b731 midi/analysis/rdkit_functions.py allowed_bonds, a few entries
    assert MIDI_ALLOWED_VALENCES["N"] == {0: [2, 3], 1: [2, 3, 4], -1: 2}
    assert MIDI_ALLOWED_VALENCES["O"] == {0: 2, 1: 3, -1: 1}
    assert MIDI_ALLOWED_VALENCES["Cl"] == 1


@pytest.mark.parametrize("smiles, expected", [
    ("CC(=O)O", {"C": 4, "O": 2, "H": 1}),  # acetic acid
    ("C#N", {"C": 4, "N": 3, "H": 1}),
    ("FC=C", {"F": 1, "C": 4, "H": 1}),
])
def test_valence_sums_of_known_molecules(smiles, expected):
    symbols, bonds, _ = _graph(smiles)
    assert valences(bonds).tolist() == [expected[s] for s in symbols]
    assert molecule_stability(symbols, None, bonds) == (True, len(symbols), len(symbols))


def test_charged_atoms_use_their_charge_entry():
    symbols, bonds, charges = _graph("[NH3+]CC([O-])=O")  # glycine zwitterion
    assert molecule_stability(symbols, charges, bonds)[0]
    n = symbols.index("N")
    assert valences(bonds)[n] == 4 and charges[n] == 1
    # the same graph without charges: N with 4 bonds and O with 1 are not allowed for neutral atoms
    stable, n_stable, n_atoms = molecule_stability(symbols, np.zeros(len(symbols), int), bonds)
    assert not stable and n_atoms - n_stable == 2


def test_charge_absent_from_an_entry_falls_back_to_neutral():
    # MiDi: possible_bonds[charge] if charge in possible_bonds else possible_bonds[0]; F has no +1 entry
    assert molecule_stability(["F", "H"], [1, 0], [[0, 1], [1, 0]])[1] == 2
    assert molecule_stability(["Cl", "H"], [-1, 0], [[0, 1], [1, 0]])[1] == 2  # int entry: charge ignored


def test_aromatic_bonds_count_one_and_a_half_and_sums_are_truncated():
    symbols, bonds, _ = _graph("c1ccc2ccccc2c1", kekulize=False)  # naphthalene, aromatic codes 4
    assert (bonds == 4).sum() == 2 * 11
    v = valences(bonds)
    fusion = [i for i, s in enumerate(symbols) if s == "C" and (bonds[i] == 4).sum() == 3]
    assert len(fusion) == 2 and all(v[i] == 4 for i in fusion)  # 3 x 1.5 = 4.5 -> 4 (MiDi's .long())
    assert molecule_stability(symbols, None, bonds)[0]
    furan = _graph("c1ccoc1", kekulize=False)
    o = furan[0].index("O")
    assert valences(furan[1])[o] == 3 and molecule_stability(furan[0], None, furan[1])[1] == len(furan[0]) - 1
    # MiDi's code stores 1.5 in an integer tensor, i.e. 1: then furan's O counts 2 and is stable
    assert molecule_stability(furan[0], None, furan[1], aromatic_order=1.0)[0]


def test_batch_masks_padding_and_matches_per_molecule():
    a, b = _graph("CC(=O)O"), _graph("[NH4+]")
    elements = ["H", "C", "N", "O"]
    width = 8
    types, charges = np.full((2, width), -1), np.zeros((2, width), int)
    bonds, mask = np.full((2, width, width), 3), np.zeros((2, width), bool)  # junk on padding
    for k, (symbols, bo, fc) in enumerate((a, b)):
        n = len(symbols)
        types[k, :n] = [elements.index(s) for s in symbols]
        charges[k, :n], bonds[k, :n, :n], mask[k, :n] = fc, bo, True
        bonds[k, :n, n:] = bonds[k, n:, :n] = 0
    atom, molecule = atom_stable_batch(types, charges, bonds, mask, elements)
    assert molecule.tolist() == [True, True]
    assert atom.sum() == mask.sum() and not atom[~mask].any()
    charges[1, 0] = 0  # NH4 without its charge: N has 4 bonds, not allowed for neutral N
    atom, molecule = atom_stable_batch(types, charges, bonds, mask, elements)
    assert molecule.tolist() == [True, False] and atom.sum() == mask.sum() - 1


def test_unknown_elements_are_unstable_and_bad_codes_raise():
    assert molecule_stability(["Xe"], None, [[0]]) == (False, 0, 1)
    with pytest.raises(ValueError, match="bond codes"):
        valences(np.array([[0, 5], [5, 0]]))
