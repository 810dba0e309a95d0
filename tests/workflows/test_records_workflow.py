"""Records end to end: train records-dae briefly, evaluate (JSON keys), seeded; AC-GAN evaluation and samples."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from gensci.cli import app
from gensci.config import load_config
from gensci.testing.runs import untrained_run
from gensci.workflows.base import EvalOptions, SampleOptions
from gensci.workflows.records import RecordsWorkflow

runner = CliRunner()
QUICK = ["--set", "train.progress=false", "--set", "train.eval_every=25", "--set", "train.checkpoint_every=25"]
IMPUTATION_KEYS = {"imputation_rmse", "baseline_zeros_rmse", "baseline_mean_rmse", "baseline_knn_rmse", "baseline_mice_rmse"}
CLASSIFICATION_KEYS = {"auroc", "accuracy", "sensitivity", "specificity", "f1", "baseline_logreg_auroc",
                       "baseline_gboost_auroc", "auroc_interval"}


def train_and_evaluate(out):
    result = runner.invoke(app, ["train", "records-dae", "--out", str(out), "--max-steps", "50", *QUICK])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["evaluate", str(out), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_records_dae_trains_and_evaluates_end_to_end_and_is_seeded(tmp_path):
    first = train_and_evaluate(tmp_path / "a")
    assert IMPUTATION_KEYS | CLASSIFICATION_KEYS <= set(first)
    assert 0 < first["imputation_rmse"] < first["baseline_zeros_rmse"]
    lo, hi = first["auroc_interval"]
    assert lo <= first["auroc"] <= hi
    rows = [json.loads(line) for line in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    assert any("val_imputation_rmse" in r for r in rows)
    assert train_and_evaluate(tmp_path / "b") == first  # same seed, same figures


def test_acgan_run_is_scored_by_its_auxiliary_head_and_generates_records(tmp_path):
    config = load_config("records-acgan", ["method.g_width=16", "method.d_width=16"])
    run = untrained_run(config, tmp_path / "run")
    assert isinstance(run.workflow, RecordsWorkflow)
    m = run.workflow.evaluate(run, EvalOptions())
    assert CLASSIFICATION_KEYS <= set(m) and "imputation_rmse" not in m and "baseline_mean_rmse" in m
    assert "auxiliary head" in m["classifier"]
    (path,) = run.workflow.sample(run, SampleOptions(n=7, class_label=1))
    lines = path.read_text().splitlines()
    assert lines[0].split(",")[-1] == "label" and len(lines) == 8 and all(row.endswith(",1") for row in lines[1:])


def test_imputed_records_are_written_in_physical_units(tmp_path):
    run = untrained_run(load_config("records-dae", ["method.hidden=[8]"]), tmp_path / "run")
    (path,) = run.workflow.sample(run, SampleOptions())
    table = np.loadtxt(path, delimiter=",", skiprows=1)
    test = run.data.test.tensors
    physical = run.spec.ranges["x"].to_physical(test["target"].double(), test).numpy()
    seen = test["observed"].numpy()
    assert table.shape == (len(physical), physical.shape[1] + 1)
    assert np.allclose(table[:, :-1][seen], physical[seen], rtol=1e-5)


@pytest.mark.slow
def test_report_draws_rmse_grid_and_roc(tmp_path):
    run = untrained_run(load_config("records-dae", ["method.hidden=[8]"]), tmp_path / "run")
    sections = run.workflow.report(run, {})
    assert {p.name for s in sections for p in s.figures} == {"records_rmse.png", "records_roc.png"}
