"""`gensci evaluate RUN --input maps.npz --mask mask.npz --json` on a tiny lensing diffusion run (3 training steps):
the inpainting keys exist and lie in range, the figure is written, the run's evaluation.json is left alone, and a
bad mask file is a one-line error naming it."""

import json

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from gensci.cli import app
from gensci.workflows.base import Run
from gensci.workflows.inpainting import inpainting_section

runner = CliRunner()
TINY = ["--set", "data.map_size=16", "--set", "data.n_per_cosmology=48", "--set", "data.n_valid_per_cosmology=16",
        "--set", "data.n_test_per_cosmology=32", "--set", "train.batch_size=16", "--set", "train.progress=false",
        "--set", "train.eval_every=100", "--set", "train.checkpoint_every=100"]
DIFFUSION = {"name": "field-diffusion", "width": 8, "channel_mults": [1, 2], "n_res_blocks": 1, "attention_resolutions": [],
             "timesteps": 50, "sampler": "ddim"}  # the tiny settings of test_field_presets


@pytest.fixture(scope="module")
def benchmark(tmp_path_factory):
    """A 3-step lensing diffusion run, 3 of its test maps and a 50 % random mask (files in the run's folder)."""
    root = tmp_path_factory.mktemp("inpainting")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GENSCI_CACHE", str(root / "cache"))
        cfg = root / "lensing-diffusion.yaml"
        cfg.write_text(yaml.safe_dump({"name": "lensing-diffusion", "data": {"name": "lensing"}, "method": DIFFUSION,
                                       "eval": {"sampling_steps": 4}}))
        result = runner.invoke(app, ["train", str(cfg), "--out", str(root / "run"), "--max-steps", "3", *TINY])
        assert result.exit_code == 0, result.output
        maps = Run(root / "run").data.test.tensors["x"][:3].numpy()
        mask = np.random.default_rng(0).uniform(size=(3, 16, 16)) < 0.5
        np.savez(root / "maps.npz", images=maps)
        np.savez(root / "mask.npz", mask=mask)
        yield root


def test_evaluate_reports_the_inpainting_benchmark(benchmark):
    root = benchmark
    result = runner.invoke(app, ["evaluate", str(root / "run"), "--input", str(root / "maps.npz"), "--mask",
                                 str(root / "mask.npz"), "--n", "6", "--steps", "3", "--measurement-noise", "0.05",
                                 "--json"])
    assert result.exit_code == 0, result.output
    m = json.loads(result.stdout)
    for key in ("inpainting_rmse", "baseline_inpainting_rmse", "biharmonic_inpainting_rmse", "mean_fill_rmse"):
        assert np.isfinite(m[key]) and m[key] > 0, key
    for key in ("coverage_90", "coverage_90_if_calibrated", "baseline_coverage_90"):
        assert 0 <= m[key] <= 1, key
    assert m["n_maps"] == 3 and m["samples_per_map"] == 6 and m["measurement_noise"] == pytest.approx(0.05)
    assert 0.35 < m["masked_fraction"] < 0.65 and m["sampling_steps"] == 3
    assert m["baseline_inpainting_rmse"] < m["mean_fill_rmse"]  # the maps are correlated: neighbours inform
    assert m["baseline_inpainting_rmse"] < m["biharmonic_inpainting_rmse"]  # the spectrum is worth knowing
    # lensing maps are a shifted lognormal: the exact posterior mean (log space) is at least as good as the linear
    # baseline up to the noise of 3 maps, and averaging 6 exact draws costs its Monte Carlo error
    assert m["lognormal_inpainting_rmse"] < 1.05 * m["baseline_inpainting_rmse"]
    assert m["lognormal_inpainting_rmse"] < m["exact_posterior_rmse_at_k"] < 1.2 * m["lognormal_inpainting_rmse"]
    assert (root / "run" / "figures" / "inpainting.png").exists() and m["figure"].endswith("inpainting.png")
    assert json.loads((root / "run" / "inpainting.json").read_text())["coverage_90"] == m["coverage_90"]
    assert not (root / "run" / "evaluation.json").exists()  # the sample evaluation is not overwritten
    (section,) = inpainting_section(Run(root / "run"))  # what `gensci report` adds
    assert section.figures[0].name == "inpainting.png" and section.parts[0].table["coverage_90"] == m["coverage_90"]
    verdict = m["verdicts"]["inpainting_rmse"]  # --json says whether it beat the baseline, and why
    assert verdict["ok"] == (m["inpainting_rmse"] < m["baseline_inpainting_rmse"]) and "Gaussian" in verdict["reason"]
    assert verdict["reason"] in section.text.replace("&#x27;", "'")  # the report leads the section with it


@pytest.mark.parametrize("case,message", [
    ("mask_shape", "does not fit"),
    ("nothing_hidden", "hides no pixel"),
    ("no_mask", "needs both --input"),
])
def test_a_bad_mask_is_a_one_line_error(benchmark, case, message):
    root = benchmark
    bad = root / f"{case}.npz"
    np.savez(bad, mask=np.ones((2, 16, 16)) if case == "mask_shape" else np.ones((16, 16)))
    args = ["evaluate", str(root / "run"), "--input", str(root / "maps.npz"), "--n", "2", "--steps", "2", "--json"]
    result = runner.invoke(app, args + ([] if case == "no_mask" else ["--mask", str(bad)]))
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.strip().splitlines() if line.startswith("error")]
    assert len(lines) == 1 and message in result.output, result.output
    if case != "no_mask":
        assert f"{case}.npz" in lines[0]
