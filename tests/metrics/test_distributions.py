"""Element, size, bond-length and bond-angle distributions (gensci.metrics.distributions) on known geometries."""

import math

import numpy as np
import pytest

from gensci.chem.molecule import Molecule
from gensci.metrics import distributions as G


def _water(oh=0.958, angle=104.5):  # experimental geometry, NIST CCCBDB
    a = math.radians(angle / 2)
    x, y = oh * math.sin(a), oh * math.cos(a)
    return Molecule(np.array([[0, 0, 0], [x, y, 0], [-x, y, 0]]), ["O", "H", "H"])


def _methane(ch=1.087):
    d = ch / math.sqrt(3)
    return Molecule(np.array([[0, 0, 0], [d, d, d], [d, -d, -d], [-d, d, -d], [-d, -d, d]]), ["C"] + ["H"] * 4)


def _ethene():  # C=C 1.339, C-H 1.086, H-C=C 121.1 deg (NIST CCCBDB)
    c, h, a = 1.339 / 2, 1.086 * math.cos(math.radians(58.9)), 1.086 * math.sin(math.radians(58.9))
    return Molecule(np.array([[-c, 0, 0], [c, 0, 0], [c + h, a, 0], [c + h, -a, 0], [-c - h, a, 0], [-c - h, -a, 0]]),
                    ["C", "C", "H", "H", "H", "H"])


def test_kinds_lengths_and_angles():
    stats = G.molecule_stats([_water(), _methane(), _ethene()])
    assert stats.bond_counts == {"C-H": 8, "C=C": 1, "H-O": 2}
    assert stats.angle_counts == {"H-C-H": 6 + 2, "C=C-H": 4, "H-O-H": 1}
    np.testing.assert_allclose(stats.bond_lengths["C=C"], [1.339], atol=1e-6)
    np.testing.assert_allclose(stats.bond_angles["H-O-H"], [104.5], atol=1e-4)
    hch = np.sort(stats.bond_angles["H-C-H"])
    np.testing.assert_allclose(hch[:6], 109.4712, atol=1e-3)  # the six of methane: tetrahedral
    np.testing.assert_allclose(hch[6:], 360 - 2 * 121.1, atol=1e-3)  # ethene's (planar): 360 - 2 x 121.1
    np.testing.assert_allclose(stats.bond_angles["C=C-H"], 121.1, atol=1e-3)
    assert stats.atom_counts == {"O": 1, "H": 10, "C": 3} and stats.size_counts == {3: 1, 5: 1, 6: 1}


def test_own_bonds_are_used_when_the_molecule_has_them():
    water = _water()
    one_bond = Molecule(water.positions, water.atom_types, bonds=[[0, 1, 0], [1, 0, 0], [0, 0, 0]])
    stats = G.molecule_stats([one_bond])
    assert stats.bond_counts == {"H-O": 1} and stats.angle_counts == {}
    graph = Molecule(None, ["C", "O"], bonds=[[0, 2], [2, 0]])  # no positions: elements and sizes only
    assert G.molecule_stats([graph]).bond_counts == {} and G.molecule_stats([graph]).atom_counts == {"C": 1, "O": 1}


def test_distances_zero_against_itself_and_known_shifts():
    reference = G.molecule_stats([_water(), _methane()])
    same = G.distribution_distances(reference, reference)
    assert same["atom_type_tv"] == 0 and same["n_atoms_tv"] == 0
    assert same["bond_length_w1"] == 0 and same["bond_angle_w1"] == 0 and same["bond_length_kinds_missing"] == []
    stretched = G.molecule_stats([_water(oh=0.958 * 1.02, angle=110.5), _methane(ch=1.087 + 0.01)])
    res = G.distribution_distances(stretched, reference)
    assert res["bond_length_w1_H-O"] == pytest.approx(0.02 * 0.958, rel=1e-4)  # lengths kept as float32
    assert res["bond_length_w1_C-H"] == pytest.approx(0.01, rel=1e-3)
    # overall: weighted by the reference's frequencies (4 C-H, 2 H-O)
    assert res["bond_length_w1"] == pytest.approx((4 * 0.01 + 2 * 0.02 * 0.958) / 6, rel=1e-3)
    assert res["bond_angle_w1_H-O-H"] == pytest.approx(6.0, abs=1e-3)
    assert res["bond_angle_w1_H-C-H"] == pytest.approx(0.0, abs=1e-3)
    assert res["bond_angle_w1"] == pytest.approx(6.0 * 1 / 7, abs=1e-3)  # 6 H-C-H angles, 1 H-O-H in the reference


def test_missing_and_rare_kinds():
    reference = G.molecule_stats([_methane()] * 300 + [_water()])  # H-O: 2 of 1,202 bonds, below MIN_KIND_FRACTION
    assert reference.bond_counts["H-O"] / sum(reference.bond_counts.values()) < G.MIN_KIND_FRACTION
    res = G.distribution_distances(G.molecule_stats([_water()]), reference)
    assert res["bond_length_w1"] is None and res["bond_length_kinds_missing"] == ["C-H"]
    assert "bond_length_w1_H-O" not in res  # too rare in the reference to be compared
    assert set(G.distribution_distances(reference, reference, geometry=False)) == {"atom_type_tv", "n_atoms_tv"}


def test_round_trip_and_subsample():
    stats = G.molecule_stats([_water(), _methane(), _ethene()] * 5)
    back = G.MoleculeStats.from_arrays(stats.to_arrays())
    assert back.bond_counts == stats.bond_counts and back.size_counts == stats.size_counts
    np.testing.assert_array_equal(back.bond_angles["H-C-H"], stats.bond_angles["H-C-H"])
    small = stats.subsampled(3)
    assert all(len(v) <= 3 for v in small.bond_lengths.values()) and small.bond_counts == stats.bond_counts
    assert G.hill_order(["O", "H", "N", "C", "F"]) == ["C", "H", "F", "N", "O"]


def test_total_variation_is_the_same_in_every_process():
    """A set's order changes with Python's string hashing between processes; the sum over it must not (the last
    bit of atom_type_tv differed between two evaluations of the same molecules)."""
    import os
    import subprocess
    import sys

    code = ("from gensci.metrics.distributions import _total_variation as tv; "
            "p = {e: i * 7 + 3 for i, e in enumerate('H C N O F S Cl Br'.split())}; "
            "q = {e: i * 5 + 11 for i, e in enumerate('H C N O F S Cl Br P'.split())}; print(repr(tv(p, q)))")
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env=os.environ | {"PYTHONHASHSEED": str(seed)}).stdout for seed in range(5)}
    assert len(outputs) == 1, outputs
