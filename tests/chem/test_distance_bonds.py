"""EDM's bond rules and valence check (gensci.chem.distance_bonds) on molecules whose answers are known."""

import math

import numpy as np
import pytest

from gensci.chem import distance_bonds as D


def _tetrahedral(centre_type, bond, h="H"):
    d = bond / math.sqrt(3)
    pos = np.array([[0, 0, 0], [d, d, d], [d, -d, -d], [-d, d, -d], [-d, -d, d]], dtype=float)
    return pos, [centre_type, h, h, h, h]


def _planar_pair(x_bond, h_bond, angle_deg):
    """X=X along x with two H on each end at angle_deg from the X=X axis (ethene-like)."""
    half, a = x_bond / 2, math.radians(180 - angle_deg)
    hx, hy = half + h_bond * math.cos(a), h_bond * math.sin(a)
    return np.array([[-half, 0, 0], [half, 0, 0], [hx, hy, 0], [hx, -hy, 0], [-hx, hy, 0], [-hx, -hy, 0]])


def _ethane(cc, ch=1.094):
    """Staggered ethane with the C-C bond along x (tetrahedral angles)."""
    t = math.radians(109.47)
    pos = [[0, 0, 0], [cc, 0, 0]]
    for k in range(3):
        phi = math.radians(120 * k)
        pos.append([ch * math.cos(t), ch * math.sin(t) * math.cos(phi), ch * math.sin(t) * math.sin(phi)])
        pos.append([cc - ch * math.cos(t), ch * math.sin(t) * math.cos(phi + math.pi / 3),
                    ch * math.sin(t) * math.sin(phi + math.pi / 3)])
    return np.array(pos)


# Experimental geometries (Angstrom), e.g. NIST CCCBDB: H2 0.741; H2O 0.958 / 104.5 deg; CH4 1.087;
# C2H4 C=C 1.339, C-H 1.086, HCC 121.1 deg; C2H2 C#C 1.203, C-H 1.063; HCN C-H 1.066, C#N 1.153.
def _water():
    a = math.radians(104.5 / 2)
    return np.array([[0, 0, 0], [0.958 * math.sin(a), 0.958 * math.cos(a), 0],
                     [-0.958 * math.sin(a), 0.958 * math.cos(a), 0]]), ["O", "H", "H"]


KNOWN = {
    "H2": ((np.array([[0, 0, 0], [0.741, 0, 0]]), ["H", "H"]), {(0, 1): 1}),
    "water": (_water(), {(0, 1): 1, (0, 2): 1}),
    "methane": (_tetrahedral("C", 1.087), {(0, k): 1 for k in range(1, 5)}),
    "ethene": ((_planar_pair(1.339, 1.086, 121.1), ["C", "C", "H", "H", "H", "H"]),
               {(0, 1): 2, (1, 2): 1, (1, 3): 1, (0, 4): 1, (0, 5): 1}),
    "ethyne": ((np.array([[-0.6015, 0, 0], [0.6015, 0, 0], [1.6645, 0, 0], [-1.6645, 0, 0]]), ["C", "C", "H", "H"]),
               {(0, 1): 3, (1, 2): 1, (0, 3): 1}),
    "HCN": ((np.array([[0, 0, 0], [1.066, 0, 0], [1.066 + 1.153, 0, 0]]), ["H", "C", "N"]), {(0, 1): 1, (1, 2): 3}),
}


@pytest.mark.parametrize("name", list(KNOWN))
def test_known_bond_orders_and_stability(name):
    (pos, types), expected = KNOWN[name]
    bonds = D.infer_bonds(pos, types)
    want = np.zeros_like(bonds)
    for (i, j), order in expected.items():
        want[i, j] = want[j, i] = order
    assert np.array_equal(bonds, want)
    assert D.check_stability(pos, types) == (True, len(types), len(types))


def test_rotation_and_translation_do_not_change_bonds():
    pos, types = KNOWN["ethene"][0]
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))
    assert np.array_equal(D.infer_bonds(pos @ q.T + 5.0, types), D.infer_bonds(pos, types))


def test_distorted_and_unbonded_geometries_are_unstable():
    pos, types = _tetrahedral("C", 1.087)
    stretched = pos.copy()
    stretched[1] *= 1.5 / 1.087  # one C-H at 1.5 A: beyond 109 + 10 pm, so no bond
    assert D.check_stability(stretched, types) == (False, 3, 5)
    ethane_types = ["C", "C", "H", "H", "H", "H", "H", "H"]
    assert D.check_stability(_ethane(1.536), ethane_types) == (True, 8, 8)
    squeezed = _ethane(1.30)  # C-C under 134 + 5 pm reads as a double bond: both carbons get valence 5
    assert D.infer_bonds(squeezed, ethane_types)[0, 1] == 2
    assert D.check_stability(squeezed, ethane_types) == (False, 6, 8)
    assert D.check_stability(np.array([[0, 0, 0], [3.0, 0, 0]]), ["C", "O"]) == (False, 0, 2)


def _edm_get_bond_order(a, b, d_angstrom):
    """Slow, literal transcription of get_bond_order (qm9/bond_analyze.py in the EDM code), symmetric lookups."""
    d = 100 * d_angstrom
    look = lambda table: table.get(a, {}).get(b) or table.get(b, {}).get(a)  # noqa: E731
    if d < look(D.BONDS1) + 10:
        if look(D.BONDS2) and d < look(D.BONDS2) + 5:
            if look(D.BONDS3) and d < look(D.BONDS3) + 3:
                return 3
            return 2
        return 1
    return 0


def test_vectorised_bonds_match_the_literal_rule_on_qm9():
    from gensci.workflows.molecule_references import qm9_molecules

    for m in qm9_molecules("valid", 150):
        pos, types = m.positions, m.atom_types
        fast = D.infer_bonds(pos, types)
        for i in range(len(types)):
            for j in range(len(types)):
                want = 0 if i == j else _edm_get_bond_order(types[i], types[j], np.linalg.norm(pos[i] - pos[j]))
                assert fast[i, j] == want, (m.name, i, j)


def test_bad_input_raises():
    with pytest.raises(ValueError, match="NaN"):
        D.infer_bonds(np.array([[0, 0, 0], [np.nan, 0, 0]]), ["C", "H"])
    with pytest.raises(ValueError, match="shape"):
        D.check_stability(np.zeros((3, 3)), ["C", "H"])


def test_tables_are_symmetric_and_valences_as_edm():
    assert D.MARGINS_PM == (10, 5, 3)
    assert np.array_equal(D.THRESHOLDS_PM, D.THRESHOLDS_PM.transpose(0, 2, 1))
    # qm9/bond_analyze.py allowed_bonds: one valence per element (P: 3 or 5), no charges
    assert {k: D.EDM_ALLOWED_VALENCES[k] for k in "HCNOF"} == {"H": 1, "C": 4, "N": 3, "O": 2, "F": 1}
    table = D.EDM_TABLE
    c, p = table.element_indices(["C", "P"])
    assert [bool(table.is_allowed(c, 0, v)) for v in range(6)] == [False] * 4 + [True, False]
    assert [bool(table.is_allowed(p, 0, v)) for v in range(7)] == [False] * 3 + [True, False, True, False]
    assert not table.is_allowed(c, 1, 3)  # EDM's table ignores charges: C+ with 3 bonds is not allowed
    assert not table.is_allowed(table.element_indices(["Xe"])[0], 0, 0)  # unknown element
