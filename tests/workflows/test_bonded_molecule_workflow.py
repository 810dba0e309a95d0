"""Molecule runs of methods whose samples carry bonds and formal charges (3D, like MiDi) or are 2D graphs
(like DiGress): what is measured and drawn follows the method's sample_spec keys."""

import json

import numpy as np
import pytest

import gensci.viz.molecules as V
import gensci.workflows.molecules as wfm
from gensci.chem.molecule import molecules_from_padded
from gensci.config import validate
from gensci.data.molecule_io import read_molecules
from gensci.metrics.distributions import molecule_stats
from gensci.metrics.bond_protocol import graph_smiles
from gensci.metrics.molecule_protocols import MoleculeReference
from gensci.registry import METHODS
from gensci.testing.fixed_molecules import register_fixed_molecules
from gensci.testing.runs import untrained_run
from gensci.workflows.base import EvalOptions, SampleOptions
from gensci.workflows.molecule_references import file_reference
from gensci.workflows.molecules import MoleculeWorkflow


@pytest.fixture(scope="module", autouse=True)
def _registered():
    with pytest.MonkeyPatch.context() as mp:  # registered only for this module
        mp.setattr(METHODS, "_entries", dict(METHODS._entries))
        register_fixed_molecules()
        yield


def _run(tmp_path_factory, data: str, positions: bool):
    config = validate({
        "name": f"fixed-{data}",
        "data": {"name": data, "limit_train": 16, "limit_eval": 8},
        "method": {"name": "fixed-molecules", "positions": positions, "explicit_h": data == "qm9-bonds"},
        "eval": {"n_samples": 8, "periodic_n_samples": 4},
    })
    return untrained_run(config, tmp_path_factory.mktemp(data))


@pytest.fixture(scope="module")
def run3d(tmp_path_factory):
    return _run(tmp_path_factory, "qm9-bonds", True)


@pytest.fixture(scope="module")
def run2d(tmp_path_factory):
    return _run(tmp_path_factory, "qm9-graph", False)


@pytest.fixture(autouse=True)
def _reference_from_the_fixed_molecules(monkeypatch):
    """The samples' own molecules as the reference (QM9's caches take minutes to build)."""
    def reference(info, carried):
        method = METHODS.get("fixed-molecules")
        config = method.Config(positions=carried.positions, explicit_h=carried.explicit_h)
        molecules = molecules_from_padded(method(config, info).sample(4), info["atom_types"])
        if carried.positions:
            return file_reference(molecules, "the fixed molecules")
        smiles = frozenset(graph_smiles(m)[0] for m in molecules)
        return MoleculeReference("the fixed graphs", graph_smiles=smiles, stats_inferred=molecule_stats(molecules))
    monkeypatch.setattr(wfm, "_reference", reference)


def test_3d_bonded_samples_are_scored_under_both_protocols(run3d):
    m = MoleculeWorkflow().evaluate(run3d, EvalOptions())
    json.dumps(m, allow_nan=False)
    assert m["protocols"] == ["edm", "graph", "distributions"] and m["protocols_skipped"] == {}
    assert m["molecule_stability_graph"] == 1.0 and m["atom_stability_graph"] == 1.0
    assert m["validity_graph"] == 1.0 and m["n_charged_graph"] == 2  # the glycine zwitterion, twice in 8
    assert m["uniqueness_graph"] == 0.5 and m["novelty_graph"] == 0.0  # 4 molecules, each twice; all in the reference
    # EDM's protocol reads bonds from the (ETKDG) geometry and knows no charges: a separate, lower figure
    assert m["molecule_stability"] < 1.0 and m["n_valid"] <= 8
    assert m["distributions_bonds"] == "own" and m["bond_length_w1"] == 0.0 and m["bond_angle_w1"] == 0.0
    assert m["bond_length_w1_C=O"] == 0.0 and "bond_angle_w1_H-C-H" in m
    quick = MoleculeWorkflow().periodic_eval(run3d.method(), run3d.data, run3d.config)
    assert set(quick) == {"atom_stability", "molecule_stability", "validity", "validity_x_uniqueness",
                          "atom_stability_graph", "molecule_stability_graph", "validity_graph",
                          "validity_x_uniqueness_graph"}


def test_3d_bonded_samples_keep_their_bonds_in_files_and_pictures(run3d, tmp_path, monkeypatch):
    sdf, xyz = MoleculeWorkflow().sample(run3d, SampleOptions(n=4, out=tmp_path / "mols.sdf"))
    samples = molecules_from_padded(run3d.method().sample(4), run3d.info["atom_types"])
    back = read_molecules(sdf)
    for a, b in zip(samples, back):
        assert np.array_equal(a.bonds, b.bonds) and np.array_equal(a.formal_charges, b.formal_charges)
    assert len(read_molecules(xyz)) == 4
    drawn = []
    real = V.plot_molecule_3d
    monkeypatch.setattr(V, "plot_molecule_3d", lambda ax, pos, types, bonds=None, **kw: drawn.append(bonds) or
                        real(ax, pos, types, bonds, **kw))
    wf = MoleculeWorkflow()
    paths = wf.sample(run3d, SampleOptions(chain=True, until_stable=True, out=tmp_path / "chain.gif"))
    assert sorted(p.suffix for p in paths) == [".gif", ".png", ".xyz"]
    assert wf.messages == ["chain: final molecule stable after 1 chain(s)"]  # stable by its own bonds
    assert np.array_equal(drawn[-1], samples[0].bonds)  # the last frame is drawn with the model's bonds
    assert not drawn[0].any()  # the first frames hold no bonds yet (fixed-molecules' chain), and none are inferred


def test_2d_samples_skip_edms_protocol_and_are_drawn_in_2d(run2d, tmp_path):
    m = MoleculeWorkflow().evaluate(run2d, EvalOptions())
    assert m["protocols"] == ["graph", "distributions"] and set(m["protocols_skipped"]) == {"edm", "graph stability"}
    assert "atom_stability" not in m and "molecule_stability_graph" not in m  # no positions; no explicit H
    assert m["validity_graph"] == 1.0 and m["connected_graph"] == 1.0 and m["novelty_graph"] == 0.0
    assert m["atom_type_tv"] == 0.0 and "bond_length_w1" not in m  # no positions: elements and sizes only
    wf = MoleculeWorkflow()
    sdf, smi = wf.sample(run2d, SampleOptions(n=4, out=tmp_path / "graphs.sdf"))
    back = read_molecules(sdf)
    assert [line.split("\t")[2] for line in smi.read_text().splitlines()] == ["valid"] * 4  # SMILES of the graphs
    assert all("H" in mol.atom_types for mol in back)  # ETKDG conformers carry all hydrogens
    assert all(np.ptp(mol.positions[:, 2]) > 0 for mol in back if mol.n_atoms > 3)  # real 3D coordinates
    assert "no XYZ file" in wf.messages[0]
    paths = wf.sample(run2d, SampleOptions(chain=True, out=tmp_path / "chain.gif"))
    assert sorted(p.suffix for p in paths) == [".gif", ".png"]  # no positions: no XYZ trajectory
    sections = wf.report(run2d, m)
    assert all(f.exists() for s in sections for f in s.figures)
    names = {f.name for s in sections for f in s.figures}
    assert "molecule_composition.png" in names and "bond_geometry.png" not in names  # 2D: no geometry to plot
    table = wf.verdict(m).table
    assert {"validity_graph", "validity_x_uniqueness_graph", "atom_type_tv", "n_atoms_tv"} <= set(table)
    assert table["validity_graph"]["n"] == 8 and "published" not in table["validity_graph"]  # QM9 with H only
