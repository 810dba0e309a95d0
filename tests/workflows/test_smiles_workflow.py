"""SMILES end to end on the command line: train qm9-smiles-vae for 30 steps, sample, evaluate (--json), latent
optimisation and prototype variations; a user's .smi file against a reference file."""

import csv
import json

import pytest
from typer.testing import CliRunner

from gensci.cli import app

runner = CliRunner()
TINY = ["--set", "data.limit_train=256", "--set", "data.limit_eval=64", "--set", "data.n_property_molecules=64",
        "--set", "method.latent_dim=8", "--set", "method.encoder_hidden=32", "--set", "method.decoder_hidden=32",
        "--set", "method.decoder_layers=1", "--set", "train.batch_size=32", "--set", "train.progress=false",
        "--set", "train.eval_every=30", "--set", "eval.periodic_n_samples=20"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("smiles") / "run"
    result = runner.invoke(app, ["train", "qm9-smiles-vae", "--out", str(out), "--max-steps", "30", *TINY])
    assert result.exit_code == 0, result.output
    return out


def test_train_sample_evaluate(run_dir):
    result = runner.invoke(app, ["sample", str(run_dir), "--n", "20"])
    assert result.exit_code == 0, result.output
    lines = (run_dir / "samples" / "samples.smi").read_text().splitlines()
    assert len(lines) == 20
    result = runner.invoke(app, ["evaluate", str(run_dir), "--n", "40", "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert metrics["n_generated"] == 40 and 0 <= metrics["validity"] <= 1
    for key in ("unique_at_1000", "novelty", "int_div", "snn", "frag", "fcd", "logp_w1"):
        assert key in metrics or metrics["n_valid"] < 2, key
    evals = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if '"eval"' in line]
    assert evals and "validity" in evals[-1]


def test_optimize_and_prototype(run_dir):
    result = runner.invoke(app, ["sample", str(run_dir), "--n", "4", "--optimize", "qed"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(open(run_dir / "samples" / "optimized_qed.csv")))
    assert len(rows) == 4 and {"start_smiles", "smiles", "qed", "predicted_qed"} <= set(rows[0])
    result = runner.invoke(app, ["sample", str(run_dir), "--n", "3", "--prototype", "CCO"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(open(run_dir / "samples" / "prototype_variations.csv")))
    sims = [float(r["similarity"]) for r in rows]
    assert len(rows) <= 3 and sims == sorted(sims, reverse=True) and all(r["smiles"] != "CCO" for r in rows)
    result = runner.invoke(app, ["sample", str(run_dir), "--n", "3", "--optimize", "logp", "--search", "bo"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(open(run_dir / "samples" / "bo_logp.csv")))
    assert len(rows) == 3 and {"iteration", "smiles", "logp"} <= set(rows[0])
    result = runner.invoke(app, ["report", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert (run_dir / "figures" / "samples.png").exists() and (run_dir / "figures" / "interpolation.png").exists()
    result = runner.invoke(app, ["sample", str(run_dir), "--optimize", "colour"])
    assert result.exit_code == 2 and "colour" in result.output
    result = runner.invoke(app, ["sample", str(run_dir), "--prototype", "C1CC"])
    assert result.exit_code == 2 and "not a valid SMILES" in result.output


def test_smiles_file_against_a_reference_file(tmp_path):
    gen, ref = tmp_path / "gen.smi", tmp_path / "ref.smi"
    gen.write_text("CCO ethanol\nnot_a_smiles\n\nc1ccccc1\nOCC\n")
    ref.write_text("SMILES\nCCO\nc1ccccc1C\nCC(=O)O\nCCN\n")
    result = runner.invoke(app, ["evaluate", str(gen), "--reference", str(ref), "--json"])
    assert result.exit_code == 0, result.output
    m = json.loads(result.stdout)
    assert m["n_generated"] == 4 and m["validity"] == 0.75  # the blank line is not a molecule
    assert m["unique_at_1000"] == pytest.approx(2 / 3) and m["novelty"] == 0.5  # {CCO, benzene}: benzene is new
    empty = tmp_path / "empty.smi"
    empty.write_text("\n\n")
    result = runner.invoke(app, ["evaluate", str(empty), "--reference", str(ref)])
    assert result.exit_code == 2 and "no SMILES" in result.output
