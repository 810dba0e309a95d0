import json
import shutil
from pathlib import Path

import pytest
import torch

import gensci.workflows.molecules as wfm
from gensci.config import validate
from gensci.data.molecule_io import read_molecules
from gensci.errors import OutcomeError, UserError
from gensci.metrics.molecule_protocols import MoleculeReference
from gensci.metrics.molecules import SmilesReference
from gensci.testing.runs import untrained_run
from gensci.workflows.base import EvalOptions, SampleOptions
from gensci.workflows.molecules import MoleculeWorkflow


@pytest.fixture(autouse=True)
def _no_qm9_reference(monkeypatch):  # the QM9 training SMILES take minutes to build when not cached
    reference = MoleculeReference("test", SmilesReference(frozenset({"C", "CC"}), frozenset({"C", "CC"})))
    monkeypatch.setattr(wfm, "_reference", lambda info, carried: reference)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A run directory with an untrained tiny EDM on a few QM9 molecules, as the trainer would leave it."""
    config = validate({
        "name": "edm-test",
        "data": {"name": "qm9", "limit_train": 64, "limit_eval": 8},
        "method": {"name": "edm", "hidden_nf": 16, "n_layers": 1, "timesteps": 20},
        "eval": {"n_samples": 6, "periodic_n_samples": 4, "sampling_steps": 5},
    })
    return untrained_run(config, tmp_path_factory.mktemp("run"))


def test_periodic_eval_and_evaluate(run):
    wf = run.workflow
    assert isinstance(wf, MoleculeWorkflow)
    quick = wf.periodic_eval(run.method(), run.data, run.config)
    assert set(quick) == {"atom_stability", "molecule_stability", "validity", "validity_x_uniqueness", "val_nll"}
    assert all(0 <= v <= 1 for k, v in quick.items() if k != "val_nll") and quick["val_nll"] > 0
    assert wf.selection(run.config) == ("val_nll", "min")
    m = wf.evaluate(run, EvalOptions())
    json.dumps(m, allow_nan=False)
    assert m["n_molecules"] == 6 and m["sampling_steps"] == 5 and m["seconds_per_molecule"] > 0
    assert {"atom_stability", "molecule_stability", "validity", "uniqueness", "validity_x_uniqueness",
            "novelty", "novelty_largest_fragment", "nll"} <= set(m)
    assert m["protocols"] == ["edm"] and "graph" in m["protocols_skipped"]  # EDM's samples carry no bonds
    assert not any(k.endswith("_graph") for k in m)
    assert m["nll"] > 0  # an untrained model: a poor but finite bound
    assert m["checkpoint"] == "checkpoints/last.pt"
    again = wf.evaluate(run, EvalOptions(seed=1))  # another evaluation keeps its own samples
    assert again["n_molecules"] == 6
    sdfs = sorted(p.name for p in run.samples_dir.glob("evaluation_*.sdf"))
    assert sdfs == ["evaluation_last_n6_ancestral_steps5_seed0.sdf", "evaluation_last_n6_ancestral_steps5_seed1.sdf"], sdfs
    assert str(run.samples_dir / sdfs[0]) in m["sample_files"] and all(Path(f).exists() for f in m["sample_files"])
    assert set(wf.headline(m)) == {"atom_stability", "molecule_stability", "validity", "validity_x_uniqueness", "nll"}


def test_sample_writes_sdf_and_xyz(run, tmp_path):
    paths = MoleculeWorkflow().sample(run, SampleOptions(n=3, steps=4, out=tmp_path / "mols.sdf"))
    assert [p.name for p in paths] == ["mols.sdf", "mols.xyz"]
    sdf, xyz = read_molecules(paths[0]), read_molecules(paths[1])
    assert len(sdf) == len(xyz) == 3
    assert [m.atom_types for m in sdf] == [m.atom_types for m in xyz]
    assert set(a for m in sdf for a in m.atom_types) <= {"H", "C", "N", "O", "F"}


def test_chain_until_stable_writes_strip_and_gif(run, tmp_path, monkeypatch):
    tries = []
    monkeypatch.setattr(wfm, "is_stable", lambda m: tries.append(1) or len(tries) == 2)
    options = SampleOptions(chain=True, until_stable=True, steps=3, out=tmp_path / "c.gif")
    wf = MoleculeWorkflow()
    paths = wf.sample(run, options)
    assert len(tries) == 2  # retried once, stopped at the first stable molecule
    assert wf.messages == ["chain: final molecule stable after 2 chain(s)"]
    assert sorted(p.suffix for p in paths) == [".gif", ".png", ".xyz"] and all(p.exists() for p in paths)
    frames = read_molecules(tmp_path / "c.xyz")
    assert len(frames) == 4  # noise + 3 steps (the last is the sample)


def test_chain_gives_up_after_max_tries_as_a_failure_keeping_the_last_chain(run, tmp_path, monkeypatch):
    monkeypatch.setattr(wfm, "is_stable", lambda m: False)
    with pytest.raises(OutcomeError, match="not stable after 3 chain.s.; gave up after --max-tries 3") as failed:
        MoleculeWorkflow().sample(run, SampleOptions(chain=True, until_stable=True, steps=2, max_tries=3,
                                                     out=tmp_path / "c.gif"))
    assert sorted(p.suffix for p in failed.value.paths) == [".gif", ".png", ".xyz"]
    assert all(p.exists() for p in failed.value.paths)


def test_until_stable_needs_a_chain():
    with pytest.raises(UserError, match="--until-stable .* give --chain too"):
        SampleOptions(until_stable=True)


def test_best_and_last_evaluations_keep_their_own_samples(tmp_path):
    config = validate({"name": "edm-test", "data": {"name": "qm9", "limit_train": 16, "limit_eval": 8},
                       "method": {"name": "edm", "hidden_nf": 8, "n_layers": 1, "timesteps": 8},
                       "eval": {"n_samples": 2}})
    run = untrained_run(config, tmp_path / "run")
    shutil.copy(run.checkpoints / "last.pt", run.checkpoints / "best.pt")
    best, last = (MoleculeWorkflow().evaluate(run, EvalOptions(checkpoint=c)) for c in ("best", "last"))
    assert not set(best["sample_files"]) & set(last["sample_files"])
    assert [Path(f).name for f in best["sample_files"] + last["sample_files"] if f.endswith(".sdf")] == [
        "evaluation_best_n2_ancestral_steps8_seed0.sdf", "evaluation_last_n2_ancestral_steps8_seed0.sdf"]
    assert all(Path(f).exists() for f in best["sample_files"] + last["sample_files"])


def test_nll_uses_a_seeded_random_subset(run, monkeypatch):
    seen = []
    method = run.method()
    real = method.log_likelihood
    monkeypatch.setattr(method, "log_likelihood", lambda batch, generator=None: seen.append(batch["node_mask"].sum(1))
                        or real(batch, generator))
    wfm.split_nll(method, run.data.test, 5, seed=3)
    first = torch.cat(seen)
    seen.clear()
    wfm.split_nll(method, run.data.test, 5, seed=3)
    assert torch.equal(first, torch.cat(seen))  # seeded
    rows = torch.randperm(len(run.data.test), generator=torch.Generator().manual_seed(3))[:5].sort().values
    assert torch.equal(first, run.data.test.tensors["node_mask"][rows].sum(1))  # not simply the first five


def test_report_sections_and_verdict(run):
    metrics = {"atom_stability": 0.5, "molecule_stability": 0.1, "validity": 0.3, "validity_x_uniqueness": 0.3,
               "nll": 120.0, "sampling_steps": 3, "n_molecules": 6, "n_atoms": 60, "seconds_per_molecule": 0.01,
               "reference": "qm9 train (with H)", "bond_length_kinds_missing": ["C-H"]}
    wf = MoleculeWorkflow()
    sections = wf.report(run, metrics)
    figures = [f for s in sections for f in s.figures]
    assert all(f.exists() for f in figures) and {f.suffix for f in figures} == {".png", ".gif"}
    assert {"molecule_composition.png", "bond_geometry.png"} <= {f.name for f in figures}  # distributions drawn
    assert not any(s.table for s in sections)  # the numbers lead the page in the verdict, not after the pictures
    verdict = wf.verdict(metrics)
    row = verdict.table["molecule_stability"]
    published = wfm.PUBLISHED["molecule_stability"]
    assert (row["this run"], row["n"], row["published"]) == (0.1, 6, 0.820)
    assert row["data"] == published["data (gensci)"] and row["data (paper)"] == published["data (paper)"]
    assert row["95 % interval"].endswith("(Wilson)") and verdict.table["atom_stability"]["n"] == 60
    assert "molecule_stability_graph" not in verdict.table  # rows only for the protocols the run has
    judged = {v.name: v for v in wf.verdicts(metrics)}
    assert judged["molecule_stability"].ok is False and "below" in judged["molecule_stability"].outcome
    assert judged["bond_length_kinds"].ok is False and "C-H" in judged["bond_length_kinds"].reason
    other = wf.verdict(metrics | {"reference": "my molecules.sdf"})  # not QM9 with H: no paper beside it
    assert "published" not in other.table["molecule_stability"]


def test_the_verdict_shows_the_chemistry_beside_qm9s(tmp_path):
    from gensci.metrics.chemistry import FRACTIONS

    qm9 = wfm.GENSCI_QM9_DATA  # QM9's training split by the same code, shipped with the references
    metrics = {"n_molecules": 1000, "chemistry_n": 950, "reference": "qm9 train (with H)", "heavy_atoms_tv": 0.27,
               "heavy_atoms_counts": {"8": 320, "9": 570, "10": 60}, "fcd_qm9": 3.1, "chemistry_bonds": "own",
               "molecule_stability_strict": 0.906, "stable_and_connected": 0.93,
               **{k: qm9[k] for k in FRACTIONS}, "aromatic_fraction": 0.016}
    wf = MoleculeWorkflow()
    verdict = wf.verdict(metrics)
    row = verdict.table["aromatic_fraction"]
    assert (row["this run"], row["n"], row["data"]) == (0.016, 950, qm9["aromatic_fraction"])
    assert row["95 % interval"].endswith("(Wilson)") and "chemistry_n" not in verdict.table
    assert verdict.table["molecule_stability_strict"]["n"] == 1000 and verdict.table["molecule_stability_strict"]["data"] == 1.0
    assert verdict.table["fcd_qm9"]["data"] == qm9["fcd_qm9"] and "95 % interval" not in verdict.table["fcd_qm9"]
    assert "largest fragment of the 950 valid molecules" in verdict.text
    judged = {v.name: v for v in wf.verdicts(metrics)}["chemistry"]
    assert judged.ok is False and judged.outcome == "3 of 21 chemistry figures differ from QM9's"
    assert "largest gaps: aromatic_fraction 1.6 % against QM9's 17.0 %; molecule_stability_strict" in judged.reason
    like_qm9 = metrics | {"aromatic_fraction": qm9["aromatic_fraction"], "molecule_stability_strict": 1.0,
                          "stable_and_connected": 1.0}
    assert {v.name: v for v in wf.verdicts(like_qm9)}["chemistry"].ok
    assert "data" not in wf.verdict(metrics | {"reference": "my molecules.sdf"}).table["aromatic_fraction"]
    sections = wfm.chemistry_sections(metrics, MoleculeReference("qm9 train (with H)"), tmp_path)
    assert sections[0].figures[0].name == "molecule_chemistry.png" and sections[0].figures[0].exists()
    assert wfm.chemistry_sections({"n_molecules": 3}, None, tmp_path) == []  # an older evaluation: no chemistry


def test_evaluation_file_names_have_no_spaces_or_brackets():
    from gensci.workflows.base import evaluation_name

    name = evaluation_name(200, {"sampler": "euler (flow matching)", "sampling_steps": 100}, 0, ".sdf", "best")
    assert name == "evaluation_best_n200_euler-flow-matching_steps100_seed0.sdf"


def test_command_line_exits_non_zero_when_the_chain_never_becomes_stable(run, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from gensci.cli import app

    monkeypatch.setattr(wfm, "is_stable", lambda m: False)
    out = tmp_path / "c.gif"
    result = CliRunner().invoke(app, ["sample", str(run.path), "--chain", "--until-stable", "--steps", "2",
                                      "--max-tries", "2", "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert str(out) in result.stdout.replace("\n", "") and out.exists()  # the last chain is kept and named
    assert "gave up after --max-tries 2" in result.stderr
    alone = CliRunner().invoke(app, ["sample", str(run.path), "--until-stable"])
    assert alone.exit_code == 2 and len(alone.stderr.strip().splitlines()) == 1 and "--chain" in alone.stderr
