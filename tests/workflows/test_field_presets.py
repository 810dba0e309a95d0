"""The field/lattice presets end to end on tiny settings: `gensci train PRESET --max-steps 20`,
`gensci evaluate RUN --json` with the physics verdicts, and (one per domain) sample and report."""

import json

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from gensci.cli import app

runner = CliRunner()

COMMON = ["--set", "train.batch_size=16", "--set", "train.eval_every=10", "--set", "train.checkpoint_every=20",
          "--set", "train.progress=false", "--set", "eval.n_samples=32", "--set", "eval.periodic_n_samples=16",
          "--set", "eval.batch_size=32"]
TINY = {
    "lensing": ["--set", "data.map_size=16", "--set", "data.n_per_cosmology=48", "--set", "data.n_valid_per_cosmology=16",
                "--set", "data.n_test_per_cosmology=32"],
    "ising": ["--set", "data.lattice_size=16", "--set", "data.temperatures=[1.8,3.0]", "--set", "data.n_per_temperature=32",
              "--set", "data.n_valid_per_temperature=8", "--set", "data.n_test_per_temperature=16",
              "--set", "data.n_chains=8", "--set", "data.burn_in_sweeps=2", "--set", "data.pilot_sweeps=10"],
}
FIELD_KEYS = ("power_spectrum_within_2sigma", "pdf_within_2sigma", "minkowski_within_2sigma", "peak_counts_within_2sigma")
LATTICE_KEYS = ("observables_within_2sigma", "sign_balance")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")  # the tiny data sets are simulated once for the module


@pytest.fixture(autouse=True)
def _cache(cache_dir, monkeypatch):
    monkeypatch.setenv("GENSCI_CACHE", str(cache_dir))


def train_and_evaluate(tmp_path, preset: str, *extra: str) -> tuple[dict, object]:
    run = tmp_path / preset
    data = "lensing" if preset.startswith("lensing") else "ising"
    result = runner.invoke(app, ["train", preset, "--out", str(run), "--max-steps", "20", *COMMON, *TINY[data], *extra])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert max(r["step"] for r in rows) == 20
    assert [r["n_samples"] for r in rows if r["kind"] == "eval"][-1] == 16  # the periodic count, labelled
    result = runner.invoke(app, ["evaluate", str(run), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), run


@pytest.mark.parametrize("preset", ["lensing-vae", "lensing-cosmogan", "lensing-diffusion"])
def test_lensing_presets_train_and_evaluate(tmp_path, preset):
    metrics, _ = train_and_evaluate(tmp_path, preset)
    for key in FIELD_KEYS:
        assert 0 <= metrics[key] <= 1, key
    assert metrics["pixel_ks"] >= 0 and metrics["pixel_w1"] >= 0 and metrics["n_samples"] == 32


@pytest.mark.parametrize("preset", ["ising-vae", "ising-dcgan", "ising-diffusion", "ising-discrete-diffusion"])
def test_ising_presets_train_and_evaluate(tmp_path, preset):
    metrics, _ = train_and_evaluate(tmp_path, preset)
    for key in (*LATTICE_KEYS, "correlation_within_2sigma"):
        assert 0 <= metrics[key] <= 1, key
    assert metrics["sign_balance_data"] > 0  # the data have both signs below T_c
    assert 0 < metrics["mean_abs_value"] <= 1  # generated values in [-1, 1] (tanh), unclipped


def test_conditional_lensing_vae_samples_and_reports_per_cosmology(tmp_path):
    metrics, run = train_and_evaluate(tmp_path, "lensing-vae", "--set", "data.sigma8=[0.7,0.9]",
                                      "--set", "method.conditional=true")
    assert set(metrics["by_condition"]) == {"σ8=0.7, Ωm=0.3", "σ8=0.9, Ωm=0.3"} and "conditions_pooled" not in metrics
    result = runner.invoke(app, ["sample", str(run), "--n", "8"])
    assert result.exit_code == 0, result.output
    with np.load(run / "samples" / "samples.npz") as f:
        assert f["images"].shape == (8, 1, 16, 16) and set(f["sigma8"].round(3)) == {0.7, 0.9}
        assert (f["images"] < 0).any()  # real-valued fields: negative convergence, no clipping to [0, 1]
    result = runner.invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.output
    html = (run / "report.html").read_text()
    assert "power_spectrum_within_2sigma" in html and (run / "figures" / "field_statistics_1.png").exists()
    assert (run / "figures" / "samples_per_condition.png").exists()


def test_ising_report_plots_thermodynamics_and_compare(tmp_path):
    _, run = train_and_evaluate(tmp_path, "ising-dcgan")
    _, vae = train_and_evaluate(tmp_path, "ising-vae")
    result = runner.invoke(app, ["compare", str(run), str(vae), "--out", str(tmp_path / "compare.html")])
    assert result.exit_code == 0, result.output
    assert "observables_within_2sigma" in (tmp_path / "compare.html").read_text()
    result = runner.invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.output
    for name in ("observables.png", "correlations.png", "magnetisation.png", "samples_per_condition.png"):
        assert (run / "figures" / name).exists(), name
    result = runner.invoke(app, ["sample", str(run), "--n", "4", "--class", "1"])
    assert result.exit_code == 0, result.output


DIFFUSION = {"name": "field-diffusion", "width": 8, "channel_mults": [1, 2], "n_res_blocks": 1, "attention_resolutions": [],
             "timesteps": 50, "sampler": "ddim"}


@pytest.mark.parametrize("data, condition", [("lensing", "none"), ("ising", "class")])
def test_a_diffusion_model_needs_only_a_config(tmp_path, data, condition):
    """The workflows take samples from Method.sample: the field diffusion method (its own tests live with it)
    trains and is judged on both data sets from a YAML file alone (what lensing-diffusion / ising-diffusion add)."""
    cfg = tmp_path / f"{data}-diffusion.yaml"
    cfg.write_text(yaml.safe_dump({"name": f"{data}-diffusion", "data": {"name": data},
                                   "method": DIFFUSION | {"condition": condition},
                                   "eval": {"sampling_steps": 5}}))
    run = tmp_path / data
    result = runner.invoke(app, ["train", str(cfg), "--out", str(run), "--max-steps", "3", *COMMON, *TINY[data]])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["evaluate", str(run), "--json", "--steps", "5"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    for key in FIELD_KEYS if data == "lensing" else LATTICE_KEYS:
        assert 0 <= metrics[key] <= 1, key
