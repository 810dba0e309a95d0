"""GFN2-xTB through tblite (gensci.chem.xtb), its QM9 calibration, the requested-vs-computed score
(gensci.metrics.xtb) and `gensci evaluate FILE --xtb`: values on known molecules, invariances, the failure paths."""

import json
import sys

import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import AllChem
from typer.testing import CliRunner

import gensci.chem.xtb as X
from gensci.chem.molecule import Molecule
from gensci.cli import app
from gensci.data import qm9
from gensci.data.molecule_io import write_molecules
from gensci.errors import UserError
from gensci.metrics.xtb import score_requested, xtb_check

# ASE's g2 "H2O" geometry (ase.build.molecule("H2O"), Angstrom). tblite's docs (doc/users/ase.rst) give, with
# GFN2-xTB: energy -137.96777594361677 eV and dipole [0, 0, -0.476020974] e*Angstrom (ASE's units).
ASE_WATER = (np.array([8, 1, 1]), np.array([[0, 0, 0.119262], [0, 0.763239, -0.477047], [0, -0.763239, -0.477047]]))
ASE_HARTREE_EV = 27.211386024367243  # ase.units.Hartree (CODATA 2014), to compare with the docs' eV
# Methane, tetrahedral: C at the origin, H at (+-a, +-a, +-a) with an even number of minus signs; C-H 1.087 A.
_A = 1.087 / np.sqrt(3)
METHANE = (np.array([6, 1, 1, 1, 1]), np.array([[0, 0, 0], [_A, _A, _A], [-_A, -_A, _A], [-_A, _A, -_A],
                                                [_A, -_A, -_A]]))
# HCN, linear along z: C-H 1.066 A, C-N 1.153 A (NIST CCCBDB experimental geometry).
HCN = (np.array([1, 6, 7]), np.array([[0, 0, -1.066], [0, 0, 0], [0, 0, 1.153]]))


def _rotation(seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    return q * np.sign(np.diag(r))  # a uniformly random orthogonal matrix (reflections included)


def test_water_reproduces_tblites_documented_energy_and_dipole():
    r = X.single_point(*ASE_WATER)
    assert r.energy * ASE_HARTREE_EV == pytest.approx(-137.96777594361677, abs=1e-5)
    # e*Bohr -> Debye and Angstrom <-> Bohr: the documented 0.476020974 e*A is 2.2864 D
    assert r.mu == pytest.approx(0.476020974 / X.BOHR_IN_ANGSTROM * X.EBOHR_IN_DEBYE, abs=1e-4)
    assert 2.2 < r.mu < 2.4  # GFN2-xTB overestimates water's dipole (experiment 1.85 D, QM9-level DFT ~2.0 D)
    assert r.dipole[2] < 0 and np.allclose(r.dipole[:2], 0, atol=1e-8)  # along the C2 axis, towards the H(+) side
    assert r.gap > 0 and r.n_electrons == 8  # O: 6 valence electrons, 2 H


def test_methane_has_no_dipole_and_hcn_points_along_its_axis():
    methane = X.single_point(*METHANE)
    assert methane.mu < 1e-6 and methane.gap > 0  # Td symmetry
    hcn = X.single_point(*HCN)
    assert np.allclose(hcn.dipole[:2], 0, atol=1e-8) and 2.0 < hcn.mu < 4.0  # experiment 2.98 D
    assert hcn.dipole[2] < 0  # mu = sum q r: from the N(-) end at +z towards the H(+) end at -z
    assert 0 < hcn.gap < methane.gap  # a triple bond's pi system narrows the gap against a saturated molecule


def test_gap_and_dipole_magnitude_are_invariant_and_the_dipole_rotates_with_the_molecule():
    numbers, pos = HCN[0], np.array([[0.1, 0.2, -1.0], [0.0, 0.0, 0.05], [0.05, -0.1, 1.2]])  # bent, no symmetry
    ref = X.single_point(numbers, pos)
    for seed in range(3):
        q, t = _rotation(seed), np.random.default_rng(seed).normal(size=3) * 5
        moved = X.single_point(numbers, pos @ q.T + t)
        assert moved.gap == pytest.approx(ref.gap, abs=1e-6) and moved.mu == pytest.approx(ref.mu, abs=1e-6)
        assert np.allclose(moved.dipole, q @ ref.dipole, atol=1e-5)
    ion = X.single_point(METHANE[0][:4], METHANE[1][:4], charge=1)  # CH3+: an ion's dipole depends on the origin
    assert X.single_point(METHANE[0][:4], METHANE[1][:4] + 7.0, charge=1).mu == pytest.approx(ion.mu, abs=1e-6)
    again = X.single_point(numbers, pos)
    assert again.gap == ref.gap and again.mu == ref.mu and again.energy == ref.energy  # deterministic


def test_each_failure_is_a_reason_and_the_others_are_still_scored():
    uranium = Molecule(np.array([[0.0, 0, 0], [0, 0, 2.0]]), ["U", "O"])
    methyl = Molecule(METHANE[1][:4], ["C", "H", "H", "H"])  # a radical: odd electron count
    on_top = Molecule(np.array([[0.0, 0, 0], [0, 0, 0.01]]), ["H", "H"])
    flat = Molecule(None, ["C"], bonds=np.zeros((1, 1), int))
    water = (ASE_WATER[1], ["O", "H", "H"])
    out = X.xtb_properties([uranium, water, methyl, on_top, flat], progress=False)
    assert out["n_scored"] == 1 and np.isfinite(out["gap"][1]) and np.isnan(out["gap"][[0, 2, 3, 4]]).all()
    assert "atomic number(s) [92]" in out["failures"][0] and "odd electron count" in out["failures"][2]
    assert "apart" in out["failures"][3] and "no 3D positions" in out["failures"][4]
    ion = Molecule(METHANE[1][:4], ["C", "H", "H", "H"], formal_charges=np.array([1, 0, 0, 0]))
    assert X.xtb_properties([ion], progress=False)["n_scored"] == 1  # CH3+: the formal charge makes it closed shell
    with pytest.raises(X.XTBFailure, match="no closed-shell HOMO"):
        X.single_point([1], [[0.0, 0, 0]], charge=1)  # a bare proton has no electrons


def test_an_scf_that_does_not_converge_is_a_failure_not_a_crash(monkeypatch):
    from tblite import interface
    from tblite.exceptions import TBLiteRuntimeError

    def refuse(self, *args, **kwargs):
        raise TBLiteRuntimeError("SCF not converged in 250 cycles")

    monkeypatch.setattr(interface.Calculator, "singlepoint", refuse)
    out = X.xtb_properties([(ASE_WATER[1], ["O", "H", "H"])], progress=False)
    assert out["failures"] == {0: "tblite: SCF not converged in 250 cycles"}


def test_tblite_prints_nothing(capfd):
    X.single_point(*ASE_WATER)
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""


def test_a_missing_tblite_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "tblite", None)  # import tblite raises ImportError
    with pytest.raises(UserError, match=r"pip install 'gensci\[xtb\]'"):
        X.require_tblite()


def test_the_calibration_fit_recovers_a_known_line():
    rng = np.random.default_rng(0)
    x = rng.uniform(2, 12, 2000)
    fit = X.fit_calibration(x, 0.5 * x + 4.3, folds=5)
    assert fit["slope"] == pytest.approx(0.5) and fit["offset"] == pytest.approx(4.3)
    assert fit["residual_sd"] < 1e-9 and fit["mae_calibrated_cv"] < 1e-9 and fit["pearson_r"] == pytest.approx(1)
    noisy = 0.5 * x + 4.3 + rng.normal(0, 0.3, len(x))
    fit = X.fit_calibration(np.append(x, np.nan), np.append(noisy, 1.0))
    assert fit["slope"] == pytest.approx(0.5, abs=0.01) and fit["offset"] == pytest.approx(4.3, abs=0.06)
    assert fit["residual_sd"] == pytest.approx(0.3, rel=0.05) and fit["n"] == 2000 and fit["n_dropped"] == 1
    assert fit["mae_calibrated"] == pytest.approx(0.3 * np.sqrt(2 / np.pi), rel=0.05)  # E|N(0, s)| = s sqrt(2/pi)
    assert fit["mae_calibrated"] <= fit["mae_calibrated_cv"] < fit["mae_raw"]
    assert X.Calibration(fit["slope"], fit["offset"]).apply([10.0])[0] == pytest.approx(9.3, abs=0.1)
    clipped = X.Calibration(0.9, -0.07).apply([0.0, 1.0, np.nan])  # a magnitude stays >= 0; a failure stays NaN
    assert clipped[:2] == pytest.approx([0.0, 0.83]) and np.isnan(clipped[2])


def test_score_requested_gives_r_one_for_a_perfect_match_and_about_zero_for_a_random_pairing():
    rng = np.random.default_rng(1)
    requested = rng.uniform(4, 10, 200)
    perfect = score_requested(requested + 0.1, requested)
    assert perfect["pearson_r"] == pytest.approx(1) and perfect["mae"] == pytest.approx(0.1)
    computed = rng.permutation(requested)  # the unconditional baseline: values unrelated to the request
    computed[:5] = np.nan  # failed molecules
    baseline = score_requested(computed, requested)
    low, high = baseline["pearson_r_interval"]
    assert low < 0 < high and abs(baseline["pearson_r"]) < 0.2
    assert baseline["n_scored"] == 195 and baseline["n_failed"] == 5


def test_xtb_check_scores_calibrated_values_against_the_request():
    molecules = [(ASE_WATER[1], ["O", "H", "H"]), (METHANE[1], ["C", "H", "H", "H", "H"]), (HCN[1], ["H", "C", "N"]),
                 Molecule(METHANE[1][:4], ["C", "H", "H", "H"])]
    cal = {"gap": X.Calibration(0.5, 4.0), "mu": X.Calibration(1.0, 0.0)}
    raw = X.xtb_properties(molecules, progress=False)
    requested = {"gap": [0.5 * g + 4.0 for g in raw["gap"][:3]] + [7.0], "mu": [2.0, 0.0, 3.0, 1.0]}
    out = xtb_check(molecules, requested, calibration=cal, progress=False)
    assert out["gap"]["computed"][:3] == pytest.approx(requested["gap"][:3]) and out["gap"]["computed"][3] is None
    assert out["gap"]["mae"] == pytest.approx(0) and out["gap"]["pearson_r"] == pytest.approx(1)
    assert out["gap"]["n_scored"] == 3 and out["gap"]["n_failed"] == 1 and 3 in out["failures"]
    assert out["mu"]["computed_raw"][:3] == pytest.approx(raw["mu"][:3]) and out["calibration"] == "given"
    shipped = xtb_check(molecules[:3], {"mu": [2.0, 0.0, 3.0]}, progress=False)
    assert set(shipped) == {"mu", "failures", "calibration"} and shipped["mu"]["mae_floor"] > 0
    with pytest.raises(ValueError, match="one per molecule"):
        xtb_check(molecules, {"gap": [1.0]}, progress=False)
    with pytest.raises(ValueError, match="must be among"):
        xtb_check(molecules, {"alpha": [1.0] * 4}, progress=False)


def test_the_shipped_calibration_is_reproduced_on_its_own_molecules():
    record = X.shipped_calibration_record()
    assert record["n"] == len(record["molecules"]["qm9_index"]) == 500 and record["split"] == "test"
    for name, fit in record["fits"].items():
        assert fit["slope"] > 0 and fit["mae_calibrated_cv"] < fit["mae_raw"]
    arrays = qm9.load_arrays()
    for k in (0, 250, 499):  # three of the 500: the shipped raw values are what this code computes
        row = int(np.searchsorted(arrays["index"], record["molecules"]["qm9_index"][k]))
        n = int(arrays["n_atoms"][row])
        r = X.single_point(arrays["charges"][row, :n], arrays["positions"][row, :n])
        assert r.gap == pytest.approx(record["molecules"]["xtb_gap"][k], abs=1e-4)
        assert r.mu == pytest.approx(record["molecules"]["xtb_mu"][k], abs=1e-4)


def _embedded(smiles: str) -> Molecule:
    from gensci.chem.rdmol import graph_from_mol

    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    AllChem.EmbedMolecule(mol, randomSeed=0)
    symbols, bonds, charges = graph_from_mol(mol)
    return Molecule(mol.GetConformer().GetPositions(), symbols, smiles, bonds, charges)


def test_evaluate_file_with_xtb_lists_each_molecule_and_the_means(tmp_path):
    path = write_molecules(tmp_path / "m.sdf", [_embedded("O"), _embedded("C"), _embedded("[NH3+]CC([O-])=O")])
    result = CliRunner().invoke(app, ["evaluate", str(path), "--xtb", "--json", "--reference", str(path)])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    rows = metrics["xtb_molecules"]
    assert [r["name"] for r in rows] == ["O", "C", "[NH3+]CC([O-])=O"] and [r["charge"] for r in rows] == [0, 0, 0]
    assert metrics["xtb_n_scored"] == 3 and rows[1]["mu_D_xtb"] < 0.1 < rows[0]["mu_D_xtb"]
    cal = X.shipped_calibration()
    assert rows[0]["gap_eV"] == pytest.approx(cal["gap"].apply(rows[0]["gap_eV_xtb"]))
    assert metrics["xtb_mu_D_mean_raw"] == pytest.approx(np.mean([r["mu_D_xtb"] for r in rows]))
    assert "molecule_stability" in metrics  # the file's usual evaluation is still there


def test_evaluate_xtb_refuses_2d_files_and_missing_tblite_in_one_line(tmp_path, monkeypatch):
    mol = Chem.AddHs(Chem.MolFromSmiles("CO"))
    AllChem.Compute2DCoords(mol)
    flat = tmp_path / "flat.sdf"
    flat.write_text(Chem.MolToMolBlock(mol) + "$$$$\n")
    runner = CliRunner()
    result = runner.invoke(app, ["evaluate", str(flat), "--xtb", "--json"])
    assert result.exit_code == 2 and "no 3D coordinates" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["evaluate", "--dataset", "qm9", "--xtb"])
    assert result.exit_code == 2 and "XYZ/SDF file" in result.output
    monkeypatch.setitem(sys.modules, "tblite", None)
    good = write_molecules(tmp_path / "w.xyz", [Molecule(ASE_WATER[1], ["O", "H", "H"])])
    result = runner.invoke(app, ["evaluate", str(good), "--xtb", "--json"])
    assert result.exit_code == 2 and "pip install 'gensci[xtb]'" in result.output


def test_the_openmp_thread_count_is_the_callers_inside_and_restored_after():
    from threadpoolctl import threadpool_info, threadpool_limits

    import tblite.interface  # noqa: F401  (loads the OpenMP runtime it links to)

    def counts():
        return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "openmp"]

    assert counts()  # an OpenMP runtime is loaded (tblite's, shared with torch's when torch came first)
    with threadpool_limits(limits=2, user_api="openmp"):  # the caller's own setting, whatever OMP_NUM_THREADS says
        with X.omp_threads(1):
            assert set(counts()) == {1}
        assert set(counts()) == {2}
    with pytest.raises(ValueError, match="at least 1"):
        X.single_point(*ASE_WATER, threads=0)
