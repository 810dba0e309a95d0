"""QM9's references shipped in the package (gensci.workflows.molecule_references): read without computing anything,
equal to what the code computes, and the reports' "data (gensci)" figures come from them."""

import json

import numpy as np
import pytest

import gensci.workflows.molecule_references as R
from gensci.workflows import reference_build
from gensci.data import qm9
from gensci.metrics.bond_protocol import graph_smiles
from gensci.metrics.chemistry import FRACTIONS, ChemistryReference, evaluate_chemistry
from gensci.metrics.distributions import MoleculeStats, pack_values, unpack_values
from gensci.metrics.molecule_protocols import Carried, MoleculeReference, evaluate_protocols
from gensci.metrics.molecules import SmilesReference, smiles_of

FIRST = 300  # training molecules recomputed by the fast tests (the first ones: one perception chunk)


def test_pack_values_is_lossless_up_to_order():
    values = np.random.default_rng(0).gamma(2.0, 0.7, 5000).astype(np.float32)
    values[:3] = [0.0, values[10], 1e-30]  # zero, a tie, a tiny value
    packed = pack_values(values)
    assert packed.dtype == np.uint8 and packed.shape == (4, 5000)
    assert np.array_equal(unpack_values(packed), np.sort(values))
    assert unpack_values(pack_values(np.zeros(0, np.float32))).shape == (0,)
    with pytest.raises(ValueError):
        pack_values(np.array([1.0, -0.5], np.float32))  # negative floats do not sort by their bits
    stats = MoleculeStats({"C": 3}, {3: 1}, {"C-C": values}, {"C-C-C": values[:7]}, {"C-C": 5000}, {"C-C-C": 7})
    back = MoleculeStats.from_arrays(stats.to_arrays(packed=True))
    assert np.array_equal(back.bond_lengths["C-C"], np.sort(values)) and back.bond_counts == stats.bond_counts
    assert back.atom_counts == stats.atom_counts and back.size_counts == stats.size_counts


def test_smiles_pairs_text_round_trip_and_reads_the_older_cache():
    pairs = [("CC", "CC"), (None, None), ("C.O", "O"), ("[H]C([H])([H])[H]", "[H]C([H])([H])[H]")]
    assert R.read_smiles_pairs(R.smiles_pairs_text(pairs)) == pairs
    assert R.smiles_pairs_text(pairs).count("\t") == 1  # only where whole and fragment differ
    assert R.read_smiles_pairs("CC\tCC\n\t\nC.O\tO\n") == pairs[:3]  # v2_train_edm_smiles_*.txt


def test_the_references_need_no_qm9_computation(tmp_path, monkeypatch):
    """With an empty cache the QM9 references of every protocol load from the package; nothing is parsed or
    perceived (that took minutes on a fresh machine), and no cache file appears."""
    monkeypatch.setenv("GENSCI_CACHE", str(tmp_path))
    for name in ("load_arrays", "parse_qm9pack"):
        monkeypatch.setattr(qm9, name, lambda *a, **k: pytest.fail("QM9 was loaded"))
    for remove_h in (False, True):
        ref = R.qm9_reference(remove_h, Carried(positions=True, bonds=True, explicit_h=not remove_h))
        assert len(ref.smiles.whole) > 90_000 and len(ref.graph_smiles) > 90_000
        assert ref.stats_own.bond_counts and ref.stats_inferred.angle_counts
        assert ref.chemistry.fcd_mu.shape == (512,) and sum(ref.chemistry.heavy_atom_counts.values()) == 99_999
    assert list(tmp_path.iterdir()) == []


def test_shipped_edm_smiles_equal_a_recomputation_of_the_first_molecules():
    for remove_h in (False, True):
        shipped = R.qm9_edm_smiles(remove_h)
        assert len(shipped) == qm9.SPLIT_SIZES["train"]
        assert shipped[:FIRST] == smiles_of(R.qm9_molecules("train", FIRST, remove_h))


def test_shipped_graph_smiles_hold_the_first_molecules():
    fresh = {graph_smiles(m)[0] for m in R.qm9_molecules("train", FIRST, bonds=True)} - {None}
    shipped = R.qm9_graph_smiles()
    assert len(fresh) > 250 and fresh <= shipped and len(shipped) > 90_000


def test_shipped_stats_count_the_training_split():
    arrays = qm9.load_arrays()
    rows = qm9.split_rows("train")
    charges = arrays["charges"][rows]
    symbol = dict(zip(qm9.ATOMIC_NUMBERS, qm9.ELEMENTS))
    for remove_h in (False, True):
        real = charges > (1 if remove_h else 0)
        atoms = {symbol[z]: int(c) for z, c in zip(*np.unique(charges[real], return_counts=True))}
        sizes = {int(n): int(c) for n, c in zip(*np.unique(real.sum(1), return_counts=True))}
        for own in (False, True):
            stats = R.qm9_stats(remove_h, own)
            if not own:  # the perceived set leaves one molecule out
                assert stats.atom_counts == atoms and stats.size_counts == sizes
            for values, counts in ((stats.bond_lengths, stats.bond_counts), (stats.bond_angles, stats.angle_counts)):
                assert set(values) == set(counts)
                assert all(len(values[k]) == min(counts[k], R.STATS_PER_KIND) for k in counts)
    lengths = R.qm9_stats(False, True).bond_lengths
    assert 1.08 < np.median(lengths["C-H"]) < 1.10 and 1.52 < np.median(lengths["C-C"]) < 1.55  # Angstrom


def test_data_figures_come_with_their_sample_sizes_and_feed_the_reports():
    from gensci.workflows import molecules

    manifest = json.loads((R.references_dir() / R.MANIFEST).read_text())
    assert manifest["command"] == reference_build.BUILD_COMMAND and manifest["stats_per_kind"] == R.STATS_PER_KIND
    assert set(manifest["files"]) == {p.name for p in R.references_dir().glob("qm9_train_*")}
    assert sum(manifest["files"].values()) < 5_000_000  # a few MB of package data
    figures = R.qm9_data_figures()
    assert figures["n_molecules"] == 100_000 and figures["n_molecules_graph"] == 99_999
    for key in ("atom_stability", "molecule_stability", "validity", "validity_x_uniqueness", "atom_stability_graph",
                "molecule_stability_graph", "validity_graph", "uniqueness_graph"):
        assert 0.9 < figures[key] <= 1.0, key  # fractions, not percentages
    assert figures["molecule_stability"] == manifest["data_figures"]["qm9"]["molecule_stability"]
    assert molecules.GENSCI_QM9_DATA == figures
    assert molecules.PUBLISHED["molecule_stability"]["data (gensci)"] == figures["molecule_stability"]


def test_the_chemistry_reference_ships_compactly_with_its_command_and_qm9s_figures():
    from gensci.workflows import molecules

    manifest = json.loads((R.references_dir() / R.CHEMISTRY["manifest"]).read_text())
    assert manifest["command"] == reference_build.CHEMISTRY_COMMAND
    size = (R.references_dir() / R.CHEMISTRY["arrays"]).stat().st_size
    assert manifest["files"] == {R.CHEMISTRY["arrays"]: size} and size < 1_000_000  # float32, half the covariance
    reference, figures = R.qm9_chemistry_reference(), R.qm9_chemistry_figures()
    assert reference.fcd_sigma.shape == (512, 512) and np.array_equal(reference.fcd_sigma, reference.fcd_sigma.T)
    assert {str(k): v for k, v in reference.heavy_atom_counts.items()} == figures["heavy_atoms_counts"]
    assert figures["chemistry_n"] == 99_999 and figures["fcd_test_smiles"] == qm9.SPLIT_SIZES["test"]
    # issue 25's QM9 column (RDKit on the largest fragment of the 100,000 training molecules, measured
    # independently of gensci): 83.4 % / 13.6 % with 9 / 8 heavy atoms, 41.7 % with a 3-ring, 17.0 % aromatic,
    # 24.4 % with a triple bond
    shares = {int(k): v / figures["chemistry_n"] for k, v in figures["heavy_atoms_counts"].items()}
    assert round(100 * shares[9], 1) == 83.4 and round(100 * shares[8], 1) == 13.6
    assert [round(100 * figures[k], 1) for k in ("ring3_fraction", "aromatic_fraction", "triple_bond_fraction")] == [
        41.7, 17.0, 24.4]
    assert figures["molecule_stability_strict"] == 1.0 and figures["stable_and_connected"] == 1.0  # bonds from SMILES
    assert 0 < figures["heavy_atoms_tv"] < 0.05 and 0 < figures["fcd_qm9"] < 1.5  # floors at 1,000 molecules
    assert figures["chemistry_floor_n"] == R.CHEMISTRY_FLOOR_N == 1000
    assert all(molecules.GENSCI_QM9_DATA[k] == figures[k] for k in FRACTIONS)  # the reports' "data" column


def test_a_small_recomputation_of_the_chemistry_takes_the_shipping_path(tmp_path, monkeypatch):
    """compute_chemistry on the first molecules of both splits equals the metric code run directly, and the npz it
    ships as (float32, the covariance's triangle) reads back to the same statistics; without shipped files the
    reference is computed once into the cache, through the same writer."""
    from gensci.metrics.smiles import fcd_statistics

    reference, figures = R.compute_chemistry(train_limit=FIRST, test_limit=200, floor_n=100)
    direct = evaluate_chemistry(R.qm9_molecules("train", FIRST, bonds=True), stability=True)
    assert all(figures[k] == direct[k] for k in (*FRACTIONS, "heavy_atoms_counts", "molecule_stability_strict"))
    mu, sigma = fcd_statistics(R.chemistry_smiles(R.qm9_molecules("test", 200, bonds=True)))
    with np.load(R.write_chemistry(tmp_path / "c.npz", reference)) as f:
        back = ChemistryReference.from_arrays("back", {k: f[k] for k in f.files})
    assert np.allclose(back.fcd_mu, mu, atol=1e-6) and np.allclose(back.fcd_sigma, sigma, atol=1e-6)
    assert back.heavy_atom_counts == {int(k): v for k, v in direct["heavy_atoms_counts"].items()}
    monkeypatch.setenv("GENSCI_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(R, "_shipped", lambda name: None)
    monkeypatch.setattr(R, "compute_chemistry", lambda: (reference, figures))
    cached = R.qm9_chemistry_reference()
    assert cached.heavy_atom_counts == back.heavy_atom_counts and np.array_equal(cached.fcd_sigma, back.fcd_sigma)
    assert list((tmp_path / "cache" / "qm9").iterdir()) == [tmp_path / "cache" / "qm9" / "v1_qm9_chemistry.npz"]


@pytest.mark.slow
def test_shipped_chemistry_equals_a_full_recomputation():
    reference, figures = R.compute_chemistry()
    shipped = R.qm9_chemistry_reference()
    assert reference.heavy_atom_counts == shipped.heavy_atom_counts
    assert np.allclose(reference.fcd_mu, shipped.fcd_mu, atol=1e-6)
    assert np.allclose(reference.fcd_sigma, shipped.fcd_sigma, atol=1e-6)
    shipped_figures = R.qm9_chemistry_figures()
    assert figures.keys() == shipped_figures.keys()
    assert all(figures[k] == (pytest.approx(v) if isinstance(v, float) else v) for k, v in shipped_figures.items())


@pytest.mark.slow
def test_shipped_references_equal_a_full_recomputation_and_give_the_same_figures():
    """Everything recomputed from QM9 (~15 minutes of one core) equals the shipped files, and an evaluation
    gives the same figures with either."""
    edm = {remove_h: R.compute_edm_smiles(remove_h) for remove_h in (False, True)}
    assert all(edm[remove_h] == R.qm9_edm_smiles(remove_h) for remove_h in (False, True))
    graph = frozenset(s for s in R.compute_graph_smiles() if s)
    assert graph == R.qm9_graph_smiles()
    fresh = {}
    for remove_h in (False, True):
        for own in (False, True):
            fresh[remove_h, own] = computed = R.compute_stats(remove_h, own)
            shipped = R.qm9_stats(remove_h, own)
            for part in MoleculeStats._PARTS:
                a, b = getattr(computed, part), getattr(shipped, part)
                assert a.keys() == b.keys(), part
                assert all(np.array_equal(np.sort(a[k]), b[k]) if part in MoleculeStats._VALUES else a[k] == b[k]
                           for k in a), part
    molecules = R.qm9_molecules("test", 200, bonds=True)
    carried = Carried(positions=True, bonds=True, explicit_h=True)
    recomputed = MoleculeReference("qm9 train (with H)", SmilesReference.from_smiles(edm[False]), graph,
                                   fresh[False, False], fresh[False, True])
    assert evaluate_protocols(molecules, recomputed, carried) == evaluate_protocols(
        molecules, R.qm9_reference(False, carried), carried)


def test_evaluating_shipped_weights_loads_no_data_set(tmp_path, monkeypatch):
    """`gensci evaluate qm9-midi` (and the demo) on a fresh machine: the manifest's info, the shipped references;
    QM9 itself is never loaded (its parse and bond perception took 6 of the demo's 11 minutes)."""
    import gensci.workflows.base as base
    from gensci import api
    from gensci.workflows.base import EvalOptions
    from gensci.workflows.shipped import ShippedRun

    monkeypatch.setattr(base, "load_data", lambda config: pytest.fail("the data set was loaded"))
    monkeypatch.setenv("GENSCI_CACHE", str(tmp_path / "cache"))
    metrics = api.evaluate(ShippedRun("qm9-midi", out=tmp_path / "out"), EvalOptions(n=4, steps=2))
    assert metrics["reference"] == "qm9 train (with H)" and "novelty_graph" in metrics and "bond_length_w1" in metrics
    assert not (tmp_path / "cache").exists()
