"""Bonds and formal charges of QM9 molecules from their 3D structure and SMILES."""

import numpy as np
import pytest

from gensci.chem.perception import FAILURES, perceive_bonds
from gensci.chem.rdmol import normalise_smiles, smiles_from_graph
from gensci.chem.valences import molecule_stability
from gensci.data import qm9

SYMBOL = dict(zip(qm9.ATOMIC_NUMBERS, qm9.ELEMENTS))


@pytest.fixture(scope="module")
def arrays():
    return qm9.load_arrays()


def _molecule(arrays, row):
    n = int(arrays["n_atoms"][row])
    return arrays["charges"][row, :n], arrays["positions"][row, :n], str(arrays["smiles"][row])


def test_benzene_gets_a_kekule_structure(arrays):
    z, pos, smiles = _molecule(arrays, 208)
    assert smiles == "C1=CC=CC=C1"
    p = perceive_bonds(z, pos, smiles)
    assert p.ok and p.route == "connectivity"
    carbons = np.flatnonzero(z == 6)
    ring = p.bonds[np.ix_(carbons, carbons)]
    assert sorted(ring[ring > 0].tolist()) == [1] * 6 + [2] * 6  # 3 single + 3 double, each counted twice
    assert ((ring == 2).sum(1) == 1).all()  # every carbon has exactly one double bond: alternating
    assert (p.bonds == p.bonds.T).all() and not p.bonds.diagonal().any()
    assert molecule_stability([SYMBOL[a] for a in z], p.formal_charges, p.bonds)[0]


def test_zwitterion_keeps_its_charges(arrays):
    z, pos, smiles = _molecule(arrays, 263)  # QM9 index 266: beta-alanine zwitterion
    assert smiles == "[NH3+]CCC([O-])=O"
    p = perceive_bonds(z, pos, smiles)
    assert p.ok
    n, = np.flatnonzero(z == 7)
    assert p.formal_charges[n] == 1 and p.bonds[n].sum() == 4
    o_minus = [i for i in np.flatnonzero(z == 8) if p.formal_charges[i] == -1]
    assert len(o_minus) == 1 and p.bonds[o_minus[0]].sum() == 1
    assert p.formal_charges.sum() == 0
    symbols = [SYMBOL[a] for a in z]
    assert smiles_from_graph(symbols, p.bonds, p.formal_charges) == normalise_smiles(smiles)
    assert molecule_stability(symbols, p.formal_charges, p.bonds)[0]


def test_strained_cage_uses_closest_pairs(arrays):
    # bicyclo[1.1.1]pentane-like cages: DetermineConnectivity also bonds the bridgeheads (~1.9 A apart)
    z, pos, smiles = _molecule(arrays, 101)
    assert smiles == "C1C2CC1C2"
    p = perceive_bonds(z, pos, smiles)
    assert p.ok and p.route == "closest-pairs"
    assert (p.bonds > 0).sum() // 2 == 6 + 8  # 6 C-C + 8 C-H


def test_failures_are_reported(arrays):
    z, pos, smiles = _molecule(arrays, 0)  # methane
    assert perceive_bonds(z, pos, "CC").failure == FAILURES[1]
    assert perceive_bonds(z, pos, "not a smiles").failure == FAILURES[0]
    # methanol's geometry with a SMILES of the same atoms but another graph (two H on O)
    z2, pos2, smiles2 = _molecule(arrays, 7)
    assert smiles2 == "CO"
    assert perceive_bonds(z2, pos2, "[CH2-][OH2+]").failure == FAILURES[2]
    assert perceive_bonds(z2, pos2, smiles2).ok
