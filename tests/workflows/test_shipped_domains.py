"""Shipped weights in every domain: a tiny run of each family's preset is exported, its run directory deleted, and
the shipped name alone samples and evaluates through its domain's workflow (fields, lattices, images, SMILES,
molecules in 3D and as 2D graphs); on the command line, a command writes only where it says it writes."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import gensci.workflows.molecules as wfm
from gensci import api
from gensci.cli import app
from gensci.data.molecule_io import read_molecules
from gensci.metrics.molecule_protocols import MoleculeReference
from gensci.metrics.molecules import SmilesReference
from gensci.testing.runs import untrained_run
from gensci.workflows import images as wf_images
from gensci.workflows import shipped
from gensci.workflows.base import EvalOptions, SampleOptions
from gensci.workflows.shipped import ShippedRun, export_weights, shipped_names

runner = CliRunner()
COMMON = ["eval.batch_size=16", "train.progress=false"]
TINY = {  # preset -> overrides: tiny data, tiny networks (untrained: sampling and measuring are what is tested)
    "lensing-diffusion": ["data.map_size=16", "data.n_per_cosmology=16", "data.n_valid_per_cosmology=8",
                          "data.n_test_per_cosmology=16", "method.width=4", "method.channel_mults=[1,2]",
                          "method.attention_resolutions=[]", "method.timesteps=20", "eval.n_samples=8",
                          "method.sampling_steps=2"],
    "ising-discrete-diffusion": ["data.lattice_size=16", "data.temperatures=[1.8,3.0]", "data.n_per_temperature=16",
                                 "data.n_valid_per_temperature=4", "data.n_test_per_temperature=8",
                                 "data.n_chains=4", "data.burn_in_sweeps=2", "data.pilot_sweeps=10", "method.width=4",
                                 "method.channel_mults=[1,2]", "method.attention_resolutions=[]",
                                 "method.timesteps=20", "eval.n_samples=8", "method.sampling_steps=2"],
    "galaxy-gan": ["data.image_size=16", "data.n_per_class=8", "data.n_valid_per_class=4", "data.n_test_per_class=8",
                   "method.g_width=4", "method.d_width=4", "method.latent_dim=8", "eval.n_samples=12"],
    "galaxy-vae": ["data.image_size=16", "data.n_per_class=8", "data.n_valid_per_class=4", "data.n_test_per_class=8",
                   "method.width=4", "method.latent_dim=4", "eval.n_samples=12"],
    "qm9-smiles-vae": ["data.limit_train=128", "data.limit_eval=32", "data.n_property_molecules=32",
                       "method.latent_dim=8", "method.encoder_hidden=16", "method.decoder_hidden=16",
                       "method.decoder_layers=1", "eval.n_samples=16"],
    "qm9-edm": ["data.limit_train=64", "data.limit_eval=8", "method.hidden_nf=16", "method.n_layers=1",
                "method.timesteps=20", "eval.n_samples=4", "method.sampling_steps=2"],
    "qm9-digress": ["data.limit_train=64", "data.limit_eval=8", "method.n_layers=1", "method.dx=16", "method.de=8",
                    "method.dy=8", "method.ff_x=16", "method.ff_e=8", "method.ff_y=8", "method.mlp_x=16",
                    "method.mlp_e=8", "method.mlp_y=8", "method.timesteps=20", "eval.n_samples=4",
                    "method.sampling_steps=2"],
}
SIMULATED = ("lensing-diffusion", "ising-discrete-diffusion", "galaxy-gan", "galaxy-vae")  # tiny data: a tmp cache


def tiny_name(preset: str) -> str:
    return f"{preset}-tiny"


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """Every TINY preset exported as shipped weights into one folder; the run directories are gone."""
    root = tmp_path_factory.mktemp("shipped_domains")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(wf_images, "REFERENCE_STEPS", 50)
        for preset, overrides in TINY.items():
            if preset in SIMULATED:
                mp.setenv("GENSCI_CACHE", str(root / "cache"))
            else:
                mp.delenv("GENSCI_CACHE", raising=False)
            config = api.resolve_config(preset, COMMON + overrides)
            run = untrained_run(config, root / "runs" / preset)
            record = {"data": preset, "steps": 0, "training_minutes": 0.0, "cpu_minutes": 0.0, "command": "tiny",
                      "metrics": {}, "n_samples": 0}
            export_weights(run, tiny_name(preset), record, folder=root / "weights")
    shutil.rmtree(root / "runs")
    return root / "weights", root / "cache"


@pytest.fixture
def installed(weights, monkeypatch, tmp_path):
    """The tiny weights as if installed with gensci; the test runs in an empty current directory."""
    folder, cache = weights
    monkeypatch.setattr(shipped, "weights_dir", lambda: folder)
    monkeypatch.setattr(wf_images, "REFERENCE_STEPS", 50)
    reference = MoleculeReference("test", SmilesReference(frozenset({"C", "CC"}), frozenset({"C", "CC"})),
                                  frozenset({"C", "CC"}))
    monkeypatch.setattr(wfm, "_reference", lambda info, carried: reference)  # QM9's references take minutes
    monkeypatch.chdir(tmp_path)
    return folder, cache


def only(folder: Path, written: set[Path]) -> bool:
    """Whether `folder` holds exactly the files `written` and the folders that lead to them (no empty extra folder)."""
    expected = written | {parent for p in written for parent in p.parents if parent != Path(".")}
    return {p.relative_to(folder) for p in folder.rglob("*")} == expected


@pytest.mark.parametrize("preset", list(TINY))
def test_each_domain_samples_and_evaluates_from_shipped_weights_alone(installed, preset, monkeypatch, tmp_path):
    folder, cache = installed
    if preset in SIMULATED:
        monkeypatch.setenv("GENSCI_CACHE", str(cache))
    name = tiny_name(preset)
    assert name in shipped_names()
    run = ShippedRun(name, out=tmp_path / "out")
    paths = api.sample(run, SampleOptions(n=2, out=tmp_path / "s" / "x"))
    assert paths and all(p.exists() and p.parent == tmp_path / "s" / "x" for p in paths)  # a suffix-less --out: a folder
    metrics = api.evaluate(run, EvalOptions())  # the tiny eval.n_samples
    json.dumps(metrics)
    assert run.workflow.headline(metrics), metrics  # the domain's headline figures were measured
    assert (tmp_path / "out" / "evaluation.json").exists() and not (tmp_path / "runs").exists()
    if preset == "qm9-digress":  # 2D graphs: an SDF of RDKit conformers and the SMILES
        assert [p.suffix for p in paths] == [".sdf", ".smi"] and len(read_molecules(paths[0])) == 2
    if preset.startswith(("lensing", "ising", "galaxy")):
        with np.load(paths[0]) as f:
            assert f["images"].shape[0] == 2


@pytest.mark.parametrize("preset", ["qm9-edm", "galaxy-gan", "qm9-smiles-vae"])
def test_sample_with_out_writes_that_file_and_nothing_else(installed, preset, tmp_path):
    result = runner.invoke(app, ["sample", tiny_name(preset), "--n", "2", "--out", "mine/s.out"])
    assert result.exit_code == 0, result.output
    printed = {Path(line) for line in result.stdout.split()}
    assert only(tmp_path, printed) and all(p.parent == Path("mine") for p in printed)


def test_sample_without_out_writes_under_runs_shipped_and_prints_every_path(installed, tmp_path):
    result = runner.invoke(app, ["sample", tiny_name("qm9-edm"), "--n", "2"])
    assert result.exit_code == 0, result.output
    printed = {Path(line) for line in result.stdout.split()}
    assert only(tmp_path, printed) and printed == {Path("runs/shipped/qm9-edm-tiny/samples/samples.sdf"),
                                                   Path("runs/shipped/qm9-edm-tiny/samples/samples.xyz")}


def wrote_lines(stderr: str) -> set[Path]:
    return {Path(line.split("wrote ", 1)[1]) for line in stderr.splitlines() if line.startswith("wrote ")}


def test_evaluate_with_out_writes_there_and_nowhere_else(installed, tmp_path):
    result = runner.invoke(app, ["evaluate", tiny_name("qm9-edm"), "--n", "4", "--json", "--out", "ev"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["n_molecules"] == 4  # stdout stays one JSON object
    wrote = wrote_lines(result.stderr)
    assert only(tmp_path, wrote) and Path("ev/evaluation.json") in wrote
    assert all(p.parts[0] == "ev" for p in wrote)


def test_evaluate_without_out_writes_under_runs_shipped_and_prints_every_path(installed, tmp_path):
    name = tiny_name("qm9-edm")
    result = runner.invoke(app, ["evaluate", name, "--n", "4"])
    assert result.exit_code == 0, result.output
    wrote = wrote_lines(result.stderr)
    assert only(tmp_path, wrote) and Path(f"runs/shipped/{name}/evaluation.json") in wrote
    assert any(p.suffix == ".sdf" for p in wrote)  # the molecules it measured


def test_evaluate_out_is_refused_for_a_file(installed, tmp_path):
    (tmp_path / "a.smi").write_text("CCO\n")
    result = runner.invoke(app, ["evaluate", "a.smi", "--out", "x"])
    assert result.exit_code == 2 and "--out" in result.stderr and not (tmp_path / "x").exists()


def test_presets_mark_the_shipped_ones(installed, monkeypatch, tmp_path):
    folder, _ = installed
    mine = tmp_path / "weights"
    mine.mkdir()
    for suffix in (".json", ".safetensors"):  # the tiny galaxy-gan installed under the preset's own name
        shutil.copy(folder / f"galaxy-gan-tiny{suffix}", mine / f"galaxy-gan{suffix}")
    monkeypatch.setattr(shipped, "weights_dir", lambda: mine)
    result = runner.invoke(app, ["presets"])
    assert result.exit_code == 0, result.output
    marked = [line.split()[0] for line in result.stdout.splitlines() if " shipped " in f"{line} "]
    assert marked == ["galaxy-gan"]


def test_the_exporter_script_ships_a_digress_run(tmp_path, monkeypatch):
    """benchmarks/weights/ship_weights.py on a (tiny, untrained) qm9-digress run, as the lead ships the real one:
    the manifest records the commands, the CPU time and the metrics' sample size, and the name then samples 2D
    graphs. (--metrics: a saved evaluation, so that the test does not wait for QM9's references.)"""
    import runpy
    import sys

    config = api.resolve_config("qm9-digress", COMMON + TINY["qm9-digress"])
    run = untrained_run(config, tmp_path / "run")
    saved = tmp_path / "evaluation.json"
    saved.write_text(json.dumps({"n_molecules": 4, "validity_graph": 0.5, "sampling_steps": 2, "sampler": "ancestral"}))
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "weights" / "ship_weights.py"
    monkeypatch.setattr(sys, "argv", [str(script), str(run.path), "qm9-digress", "--command", "gensci train qm9-digress",
                                      "--cpu-minutes", "1.5", "--metrics", str(saved), "--folder", str(tmp_path / "w")])
    runpy.run_path(str(script), run_name="__main__")
    body = json.loads((tmp_path / "w" / "qm9-digress.json").read_text())
    assert body["command"] == "gensci train qm9-digress" and "ship_weights.py" in body["export_command"]
    assert body["cpu_minutes"] == 1.5 and body["n_samples"] == 4 and body["steps"] is None  # untrained: no step
    assert body["metrics"]["validity_graph_95ci"] == "0.150-0.850"  # Wilson 95 % for 2 of 4
    monkeypatch.setattr(shipped, "weights_dir", lambda: tmp_path / "w")
    paths = api.sample("qm9-digress", SampleOptions(n=2, out=tmp_path / "g.sdf"))
    assert [p.suffix for p in paths] == [".sdf", ".smi"] and len(read_molecules(paths[0])) == 2
