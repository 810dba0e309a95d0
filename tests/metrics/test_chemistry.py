"""QM9's chemistry (gensci.metrics.chemistry) on molecules with known answers: rings, aromaticity, triple bonds,
charges, functional groups, heavy-atom distances, strict valences, stable and connected, and the compact ChemNet
statistics that ship."""

import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import AllChem

from gensci.chem.molecule import Molecule
from gensci.chem.rdmol import graph_from_mol
from gensci.chem.valences import STRICT_TABLE
from gensci.metrics.bond_protocol import evaluate_graphs
from gensci.metrics.chemistry import (FRACTIONS, FUNCTIONAL_GROUPS, ChemistryReference, evaluate_chemistry,
                                      fcd_against, heavy_atoms_tv)


def _graph(smiles, kekulize=True, name=None):
    """Explicit hydrogens, kekulé bonds (as models write them), formal charges; no positions."""
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    if kekulize:
        Chem.Kekulize(mol, clearAromaticFlags=True)
    symbols, bonds, charges = graph_from_mol(mol)
    return Molecule(None, symbols, name or smiles, bonds, charges)


def _geometry(smiles):
    """3D positions only (an XYZ file, EDM's samples): bonds are inferred from distances."""
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    AllChem.EmbedMolecule(mol, randomSeed=0)
    return Molecule(mol.GetConformer().GetPositions(), [a.GetSymbol() for a in mol.GetAtoms()], smiles)


def _hits(result):
    return {k for k in FRACTIONS if result[k] == 1.0}


def test_benzene_is_aromatic_with_one_six_ring_from_kekule_bonds():
    res = evaluate_chemistry([_graph("c1ccccc1")])
    assert _hits(res) == {"ring6_fraction", "aromatic_fraction"}
    assert res["chemistry_n"] == 1 and res["heavy_atoms_counts"] == {"6": 1} and res["chemistry_bonds"] == "own"


@pytest.mark.parametrize("smiles, expected", [
    ("C1CC1", {"ring3_fraction"}),  # cyclopropane
    ("C1CCC1", {"ring4_fraction"}),
    ("C1CCCC1", {"ring5_fraction"}),
    ("C1CCCCCC1", {"ring7plus_fraction"}),
    ("C1CC12CC2", {"ring3_fraction"}),  # spiropentane: two 3-rings, one molecule
    ("CC#N", {"triple_bond_fraction", "group_nitrile_fraction"}),  # acetonitrile
    ("[NH3+]CC([O-])=O", {"charged_fraction", "group_carbonyl_fraction", "group_carboxylic_acid_fraction"}),
    ("CCC", set()),
])
def test_rings_triple_bonds_and_charges(smiles, expected):
    assert _hits(evaluate_chemistry([_graph(smiles)])) == expected


@pytest.mark.parametrize("group, smiles, also", [
    ("alcohol", "CCO", set()),
    ("ether", "CCOC", set()),
    ("carbonyl", "CC(C)=O", {"ketone"}),
    ("aldehyde", "CC=O", {"carbonyl"}),
    ("ketone", "CCC(C)=O", {"carbonyl"}),
    ("amine", "CCN", set()),
    ("amide", "CC(N)=O", {"carbonyl"}),
    ("nitrile", "N#CC", set()),
    ("carboxylic_acid", "CC(=O)O", {"carbonyl"}),
    ("ester", "CC(=O)OC", {"carbonyl", "ether"}),
    ("epoxide", "CC1CO1", {"ether"}),
])
def test_each_functional_group_on_a_molecule_that_has_it(group, smiles, also):
    res = evaluate_chemistry([_graph(smiles)])
    found = {g for g in FUNCTIONAL_GROUPS if res[f"group_{g}_fraction"] == 1.0}
    assert found == {group} | also
    assert res["group_amine_fraction"] == 0.0 or group == "amine"  # an amide's N is no amine (Daylight's pattern)


PENTAVALENT = Molecule(None, ["C", "H", "H", "H", "H", "H"], "CH5", np.array([[0, 1, 1, 1, 1, 1]] + [[1, 0, 0, 0, 0, 0]] * 5))


def test_fractions_are_shares_of_the_valid_largest_fragments():
    pentavalent = PENTAVALENT
    two = _graph("CC#N.O", name="acetonitrile and water")  # the largest fragment counts
    res = evaluate_chemistry([_graph("C1CC1"), two, pentavalent, _graph("CCO")])
    assert res["chemistry_n"] == 3  # CH5 does not sanitise: left out of every fraction
    assert res["ring3_fraction"] == pytest.approx(1 / 3) and res["triple_bond_fraction"] == pytest.approx(1 / 3)
    assert res["heavy_atoms_counts"] == {"3": 3}
    assert evaluate_chemistry([pentavalent])["aromatic_fraction"] is None  # no valid molecule: no share


def test_geometry_only_molecules_use_edms_inferred_bonds():
    res = evaluate_chemistry([_geometry("CCO"), _geometry("CC#N")])
    assert res["chemistry_bonds"] == "inferred from distances (EDM)" and res["chemistry_n"] == 2
    assert res["group_alcohol_fraction"] == 0.5 and res["triple_bond_fraction"] == 0.5
    assert "molecule_stability_strict" not in res  # strict valences score own bonds only


def test_heavy_atoms_tv_of_identical_sets_is_zero_and_of_disjoint_sizes_one():
    assert heavy_atoms_tv({"9": 5, "8": 3}, {9: 10, 8: 6}) == pytest.approx(0.0)
    assert heavy_atoms_tv({"9": 5}, {8: 6, 7: 1}) == pytest.approx(1.0)
    assert heavy_atoms_tv({9: 1, 8: 1}, {9: 1}) == pytest.approx(0.5)
    reference = ChemistryReference("two molecules", {3: 1, 6: 1})
    res = evaluate_chemistry([_graph("C1CC1"), _graph("c1ccccc1")], reference)
    assert res["heavy_atoms_tv"] == pytest.approx(0.0) and "fcd_qm9" not in res  # no ChemNet statistics


def test_strict_valences_fail_a_missing_hydrogen_that_midis_table_accepts():
    methyl = _graph("[CH2]C", name="ethyl radical")  # a carbon with 3 bonds: MiDi's table allows it
    imidogen = _graph("[NH]C", name="a nitrogen with 2 bonds")
    fine = [_graph("CC"), _graph("[NH3+]CC([O-])=O"), _graph("c1ccccc1")]
    graph = evaluate_graphs([methyl, imidogen] + fine)
    assert graph["molecule_stability_graph"] == 1.0  # MiDi's table: every molecule stable
    res = evaluate_chemistry([methyl, imidogen] + fine, stability=True)
    assert res["molecule_stability_strict"] == pytest.approx(3 / 5) and res["n_stable_molecules_strict"] == 3
    assert res["atom_stability_strict"] == pytest.approx(1 - 2 / sum(m.n_atoms for m in [methyl, imidogen] + fine))
    # no fallback to the neutral entry: a carbon with charge +2 is allowed nothing
    c = STRICT_TABLE.element_indices(["C"])
    assert not STRICT_TABLE.is_allowed(c, np.array([2]), np.array([4])).any()
    assert STRICT_TABLE.is_allowed(c, np.array([-1]), np.array([3])).all()  # C- like N


def test_stable_and_connected_needs_both():
    apart = _graph("C.O", name="methane and water")  # every atom stable, two pieces
    res = evaluate_chemistry([apart, _graph("CO"), PENTAVALENT], stability=True)  # CH5: one piece, not stable
    assert res["stable_and_connected"] == pytest.approx(1 / 3) and res["n_stable_and_connected"] == 1
    with pytest.raises(ValueError, match="own bonds"):
        evaluate_chemistry([_geometry("CO")], stability=True)


def test_chemnet_statistics_ship_compactly_and_give_the_same_fcd():
    smiles = ["CCO", "CC#N", "c1ccccc1", "CC(=O)O", "C1CC1", "CCN", "OC1CC1", "CC=O", "N#CC#N", "COC"]
    from gensci.metrics.smiles import fcd_statistics

    mu, sigma = fcd_statistics(smiles)
    reference = ChemistryReference("ten", {3: 10}, mu, sigma)
    arrays = reference.to_arrays()
    assert arrays["fcd_mu"].dtype == np.float32 and arrays["fcd_sigma_triu"].shape == (512 * 513 // 2,)
    back = ChemistryReference.from_arrays("ten", arrays)
    assert np.array_equal(back.fcd_sigma, back.fcd_sigma.T) and back.heavy_atom_counts == {3: 10}
    assert np.allclose(back.fcd_sigma, sigma, atol=1e-6) and np.allclose(back.fcd_mu, mu, atol=1e-6)
    generated = ["CCCO", "CC#C", "C1CO1", "CC(C)=O", "NCC=O"]
    assert fcd_against(generated, back) == pytest.approx(fcd_against(generated, reference), rel=1e-4)
    assert fcd_against(smiles, reference) < fcd_against(generated, reference)  # the set itself is closest
