"""`gensci evaluate FILE` and `--dataset`: both protocols where they apply; bad records scored or skipped and
counted, never a traceback."""

import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import AllChem

import gensci.workflows.molecule_files as F
from gensci.chem.molecule import Molecule
from gensci.chem.rdmol import graph_from_mol
from gensci.data.molecule_io import MoleculeFileError, write_molecules
from gensci.errors import UserError
from gensci.metrics.distributions import molecule_stats
from gensci.metrics.molecule_protocols import MoleculeReference
from gensci.metrics.molecules import SmilesReference
from gensci.workflows.molecule_references import file_reference, qm9_molecules


def _embedded(smiles, kekulize=True, name=None):
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    AllChem.EmbedMolecule(mol, randomSeed=0)
    if kekulize:
        Chem.Kekulize(mol, clearAromaticFlags=True)
    symbols, bonds, charges = graph_from_mol(mol)
    return Molecule(mol.GetConformer().GetPositions(), symbols, name or smiles, bonds, charges)


@pytest.fixture(autouse=True)
def _small_qm9_reference(monkeypatch):
    """QM9's first 50 training molecules stand in for the training split (its caches take minutes to build)."""
    def reference(remove_h, carried, distributions=True):
        plain = qm9_molecules("train", 50, remove_h)
        ref = MoleculeReference("qm9 (first 50)", SmilesReference.from_molecules(plain),
                                stats_inferred=molecule_stats(plain))
        if carried.bonds:
            ref.graph_smiles = file_reference(qm9_molecules("train", 50, remove_h, bonds=True), "").graph_smiles
            ref.stats_own = molecule_stats(qm9_molecules("train", 50, remove_h, bonds=True))
        return ref
    monkeypatch.setattr(F, "qm9_reference", reference)
    monkeypatch.setattr(F, "edm_smiles_cached", lambda remove_h: False)


def test_sdf_is_scored_under_both_protocols_and_xyz_under_edms(tmp_path):
    mols = [_embedded("CCO"), _embedded("[NH3+]CC([O-])=O"), _embedded("C#N")]
    sdf = F.evaluate_file(write_molecules(tmp_path / "m.sdf", mols))
    assert sdf["protocols"] == ["edm", "graph", "distributions"] and sdf["n_molecules"] == 3
    assert sdf["molecule_stability_graph"] == 1.0 and sdf["n_charged_graph"] == 1  # the zwitterion by its charges
    assert sdf["distributions_bonds"] == "own" and sdf["n_outside_reference_elements"] == 0
    assert sdf["novelty_graph"] == pytest.approx(2 / 3) and sdf["reference"] == "qm9 (first 50)"  # HCN is in it
    xyz = F.evaluate_file(write_molecules(tmp_path / "m.xyz", mols))
    assert xyz["protocols"] == ["edm", "distributions"] and not any(k.endswith("_graph") for k in xyz)
    assert xyz["molecule_stability"] == sdf["molecule_stability"]  # the same geometry, the same EDM figure
    # the chemistry, on the file's own bonds (SDF) or EDM's inferred ones (XYZ): ethanol, glycine, HCN
    assert sdf["chemistry_n"] == 3 and sdf["chemistry_bonds"] == "own" and sdf["molecule_stability_strict"] == 1.0
    assert sdf["triple_bond_fraction"] == sdf["charged_fraction"] == sdf["group_alcohol_fraction"] == pytest.approx(1 / 3)
    assert sdf["stable_and_connected"] == 1.0 and sdf["heavy_atoms_counts"] == {"2": 1, "3": 1, "5": 1}
    assert xyz["chemistry_bonds"] == "inferred from distances (EDM)" and "molecule_stability_strict" not in xyz


def test_bad_sdf_input_is_scored_and_counted(tmp_path):
    aromatic = _embedded("c1ccccc1", kekulize=False, name="benzene, aromatic bonds")
    charged = _embedded("C[NH3+]", name="methylammonium")
    outside = _embedded("CCl", name="chloromethane")
    lone = Molecule(np.zeros((1, 3)), ["C"], "a lone carbon", np.zeros((1, 1), int))
    unbonded = Molecule(np.array([[0.0, 0, 0], [0, 0, 1.1]]), ["C", "O"], "no bonds listed", np.zeros((2, 2), int))
    path = write_molecules(tmp_path / "bad.sdf", [aromatic, charged, outside, lone, unbonded])
    res = F.evaluate_file(path)
    assert res["n_molecules"] == 5 and res["n_skipped"] == 0
    assert res["n_aromatic_graph"] == 1 and res["n_charged_graph"] == 1 and res["n_without_bonds_graph"] == 2
    assert res["n_outside_reference_elements"] == 1
    # aromatic C: 1.5 + 1.5 + 1 = 4 (MiDi); Cl: 1 bond (MiDi's table); N+ with 4 bonds: stable
    assert res["n_stable_molecules"] == 3
    # RDKit kekulises benzene; lone atoms get implicit H (C: methane), so MiDi's validity passes all five
    assert res["validity_graph"] == 1.0 and res["connected_graph"] == pytest.approx(4 / 5)
    res_edm = F.evaluate_file(write_molecules(tmp_path / "bad.xyz", [aromatic, charged, outside, lone, unbonded]))
    assert res_edm["n_molecules"] == 5  # EDM's tables know Cl; the lone C has no bonds: unstable, still scored


def test_an_sdf_without_any_bond_is_scored_by_edms_protocol_only(tmp_path):
    water = Molecule(np.array([[0.0, 0, 0], [0.7575, 0.5865, 0], [-0.7575, 0.5865, 0]]), ["O", "H", "H"], "water",
                     np.zeros((3, 3), int))
    res = F.evaluate_file(write_molecules(tmp_path / "flat.sdf", [water]))
    assert res["protocols"] == ["edm", "distributions"] and res["molecule_stability"] == 1.0
    assert "lists no bonds" in res["notes"][0]


def test_unreadable_records_are_skipped_and_counted(tmp_path):
    mols = [_embedded("CCO"), _embedded("CC=O")]
    samples = tmp_path / "samples.xyz"
    samples.write_text(write_molecules(tmp_path / "tmp.xyz", mols).read_text() + "2\nbroken\nH 0 0 0\nH 0.74 zero 0\n")
    reference = write_molecules(tmp_path / "ref.sdf", mols[:1])
    res = F.evaluate_file(samples, reference=reference)
    assert res["n_molecules"] == 2 and res["n_skipped"] == 1 and "record 3" in res["skipped"]
    assert res["novelty"] == pytest.approx(1 / 2)  # ethanol is in the reference
    assert res["reference"] == str(reference) and "atom_type_tv" in res
    assert res["heavy_atoms_tv"] == 0.0 and "fcd_qm9" not in res  # 3 heavy atoms each, as the reference's ethanol
    sdf = tmp_path / "samples.sdf"
    text = write_molecules(tmp_path / "tmp.sdf", mols).read_text()
    first, second = text.split("$$$$\n")[:2]
    sdf.write_text(first + "$$$$\n" + second.replace("M  END", "M  CHG  1  99   1\nM  END") + "$$$$\njunk\n")
    res = F.evaluate_file(sdf)  # record 2 charges an atom it does not have, record 3 is no record
    assert res["n_molecules"] == 1 and res["n_skipped"] == 2, res["skipped"]
    (tmp_path / "junk.xyz").write_text("two\n")
    with pytest.raises(MoleculeFileError, match="no readable molecules"):
        F.evaluate_file(tmp_path / "junk.xyz")


@pytest.mark.parametrize("dataset, protocols", [
    ("qm9", ["edm", "distributions"]),
    ("qm9-bonds", ["edm", "graph", "distributions"]),
    ("qm9-graph", ["graph", "distributions"]),
])
def test_datasets_under_the_protocols_that_apply(dataset, protocols):
    res = F.evaluate_dataset(dataset, "valid", limit=30)
    assert res["protocols"] == protocols and res["dataset"] == dataset and res["n_molecules"] == 30
    if "graph" in protocols:
        assert res["validity_graph"] == 1.0  # bonds from the SMILES: every molecule sanitises
    if dataset == "qm9-bonds":
        assert res["molecule_stability_graph"] == 1.0 and res["distributions_bonds"] == "own"
    if dataset == "qm9-graph":
        assert "molecule_stability_graph" not in res and "atom_stability" not in res  # heavy atoms only, 2D


def test_limit_draws_a_seeded_random_subset_not_the_first_molecules():
    from gensci.workflows.molecule_references import random_subset

    first, again, other = random_subset("valid", 30, 0), random_subset("valid", 30, 0), random_subset("valid", 30, 1)
    assert np.array_equal(first, again) and not np.array_equal(first, other)  # seeded
    assert len(set(first.tolist())) == 30 and (np.diff(first) > 0).all() and first.max() > 1000  # not the first 30
    assert np.array_equal(random_subset("valid", None), np.arange(17_748))
    assert np.array_equal(random_subset("valid", 10**6), np.arange(17_748))
    res = F.evaluate_dataset("qm9", "valid", limit=30, seed=1)
    picked = qm9_molecules("valid", positions=random_subset("valid", 30, 1))
    assert res["n_atoms"] == sum(m.n_atoms for m in picked) != sum(m.n_atoms for m in qm9_molecules("valid", 30))
    assert res["subset"] == "30 random molecules of 17,748 (seed 1)" and res["n_molecules"] == 30


def test_limit_on_the_training_split_pairs_the_shipped_smiles_with_the_same_molecules(monkeypatch):
    """With the training split's EDM SMILES at hand the evaluation reads those of the drawn molecules: the same
    figures as computing them (novelty against the first 50 tells the first molecules from random ones)."""
    computed = F.evaluate_dataset("qm9-bonds", "train", limit=40, seed=2)
    monkeypatch.setattr(F, "edm_smiles_cached", lambda remove_h: True)
    shipped = F.evaluate_dataset("qm9-bonds", "train", limit=40, seed=2)
    computed.pop("seconds"), shipped.pop("seconds")
    assert shipped == computed and computed["novelty"] > 0.5


def test_cli_limit_takes_the_seed():
    import json

    from typer.testing import CliRunner

    from gensci.cli import app

    result = CliRunner().invoke(app, ["evaluate", "--dataset", "qm9", "--split", "valid", "--limit", "5", "--seed",
                                      "3", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["subset"] == "5 random molecules of 17,748 (seed 3)"
    bad = CliRunner().invoke(app, ["evaluate", "--dataset", "qm9", "--limit", "0"])
    assert bad.exit_code == 2 and "--limit 0" in bad.output


def test_dataset_options_are_checked():
    with pytest.raises(UserError, match="remove-h applies to --dataset qm9 only"):
        F.evaluate_dataset("qm9-bonds", "valid", limit=3, remove_h=True)
    with pytest.raises(UserError, match="choices are qm9, qm9-bonds, qm9-graph"):
        F.evaluate_dataset("qm10")
    without_h = F.evaluate_dataset("qm9", "valid", limit=5, remove_h=True)
    assert without_h["remove_h"] and without_h["protocols"] == ["edm", "distributions"]


def test_cli_prints_one_json_object_for_an_sdf(tmp_path):
    import json

    from typer.testing import CliRunner

    from gensci.cli import app

    path = write_molecules(tmp_path / "m.sdf", [_embedded("CC=O"), _embedded("c1ccccc1", kekulize=False)])
    result = CliRunner().invoke(app, ["evaluate", str(path), "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert metrics["protocols"] == ["edm", "graph", "distributions"] and metrics["n_aromatic_graph"] == 1
    bad = CliRunner().invoke(app, ["evaluate", "--dataset", "qm10"])
    assert bad.exit_code == 2 and "choices are qm9, qm9-bonds, qm9-graph" in bad.output
