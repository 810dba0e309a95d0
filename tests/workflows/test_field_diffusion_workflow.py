"""galaxy-diffusion end to end on tiny data through the command line: train 20 steps, sample (every sampler,
guidance), evaluate, report, and fill in images from an npz with a mask (DPS), with one-line errors for bad files."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from gensci.cli import app
from gensci.workflows import images as wf_images

runner = CliRunner()
TINY = ["data.image_size=16", "data.n_per_class=8", "data.n_valid_per_class=4", "data.n_test_per_class=8",
        "train.batch_size=8", "train.eval_every=10", "train.log_every=5", "train.checkpoint_every=10",
        "train.progress=false", "eval.n_samples=12", "eval.periodic_n_samples=12", "eval.sampling_steps=4",
        "method.width=8", "method.channel_mults=[1,2]", "method.attention_resolutions=[8]", "method.timesteps=50",
        "train.warmup_steps=0"]


def cli(*args):
    result = runner.invoke(app, [str(a) for a in args])
    return result


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("diffusion_run")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GENSCI_CACHE", str(root / "cache"))
        mp.setattr(wf_images, "REFERENCE_STEPS", 50)
        sets = [a for s in TINY for a in ("--set", s)]
        result = cli("train", "galaxy-diffusion", "--out", root / "run", "--max-steps", 20, *sets)
        assert result.exit_code == 0, result.output
        yield root / "run"


def test_train_sample_evaluate_report(run, tmp_path):
    history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert any(r["kind"] == "eval" and "pixel_hist_distance" in r for r in history)
    for sampler in ("ancestral", "ddim", "langevin"):
        out = tmp_path / f"{sampler}.npz"
        result = cli("sample", run, "--n", 3, "--steps", 3, "--sampler", sampler, "--class", 1, "--guidance", 2.0,
                     "--out", out)
        assert result.exit_code == 0, result.output
        with np.load(out) as f:
            assert f["images"].shape == (3, 3, 16, 16) and (f["labels"] == 1).all()
            assert np.isfinite(f["images"]).all()
    result = cli("evaluate", run, "--json", "--steps", 3, "--n", 9)
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert metrics["sampler"] == "ddim" and metrics["sampling_steps"] == 3 and metrics["guidance"] == 1.0
    assert {"pixel_hist_distance", "power_spectrum_distance", "class_accuracy"} <= metrics.keys()
    result = cli("report", run)
    assert result.exit_code == 0, result.output
    bad = cli("sample", run, "--n", 2, "--sampler", "nonsense")
    assert bad.exit_code == 2 and "ancestral, ddim, dpmpp2m, langevin" in bad.output


def test_inpainting_command_writes_posterior_samples(run, tmp_path):
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (2, 3, 16, 16)).astype(np.float32)
    mask = (rng.uniform(size=(2, 16, 16)) < 0.5)
    np.savez(tmp_path / "maps.npz", images=images)
    np.savez(tmp_path / "mask.npz", mask=mask)
    out = tmp_path / "filled.npz"
    result = cli("sample", run, "--input", tmp_path / "maps.npz", "--mask", tmp_path / "mask.npz", "--out", out,
                 "--n", 3, "--steps", 5, "--measurement-noise", 0.01)
    assert result.exit_code == 0, result.output
    with np.load(out) as f:
        assert f["samples"].shape == (2, 3, 3, 16, 16) and f["mean"].shape == (2, 3, 16, 16)
        observed = np.broadcast_to(mask[:, None, None], f["samples"].shape)
        err_obs = np.abs(f["samples"] - images[:, None])[observed].mean()
        err_hidden = np.abs(f["samples"] - images[:, None])[~observed].mean()
        assert err_obs < 0.05 < err_hidden  # the observed pixels are kept (sigma_y = 0.01); the others are not known
        assert float(f["measurement_noise"]) == pytest.approx(0.01)
    assert out.with_suffix(".png").exists()
    # super-resolution: no mask, 8x8 block means of the 16x16 images
    low = images.reshape(2, 3, 8, 2, 8, 2).mean((3, 5))
    np.savez(tmp_path / "low.npz", images=low)
    result = cli("sample", run, "--input", tmp_path / "low.npz", "--out", tmp_path / "sr.npz", "--n", 2, "--steps", 5,
                 "--measurement-noise", 0.005)
    assert result.exit_code == 0, result.output
    with np.load(tmp_path / "sr.npz") as f:
        blocks = f["samples"].reshape(2, 2, 3, 8, 2, 8, 2).mean((4, 6))
        assert np.abs(blocks - low[:, None]).mean() < 0.03


@pytest.mark.parametrize("case,message", [
    ("missing_file", "no such file"),
    ("missing_key", "no `mask` array"),
    ("mask_shape", "does not fit"),
    ("mask_values", "0 (hidden) and 1"),
    ("image_shape", "expected [N, 3, 16, 16]"),
    ("image_size", "the model's are 16x16"),
    ("mask_without_input", "give --input"),
])
def test_inpainting_input_errors_are_one_line_naming_the_file(run, tmp_path, case, message):
    images = np.zeros((2, 3, 16, 16), np.float32)
    mask = np.ones((2, 16, 16), np.float32)
    if case == "missing_key":
        np.savez(tmp_path / "mask.npz", observed=mask, other=mask)
    elif case == "mask_shape":
        mask = np.ones((3, 16, 16))
    elif case == "mask_values":
        mask = mask * 0.5
    elif case == "image_shape":
        images = np.zeros((2, 4, 16, 16), np.float32)
    elif case == "image_size":
        images = np.zeros((2, 3, 32, 32), np.float32)
    np.savez(tmp_path / "maps.npz", images=images)
    if case != "missing_key":
        np.savez(tmp_path / "mask.npz", mask=mask)
    args = ["sample", run, "--input", tmp_path / "maps.npz", "--mask", tmp_path / ("nope.npz" if case == "missing_file" else "mask.npz"),
            "--steps", 2, "--n", 1]
    if case == "mask_without_input":
        args = ["sample", run, "--mask", tmp_path / "mask.npz"]
    result = cli(*args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.strip().splitlines() if line.startswith("error")]
    assert len(lines) == 1 and message in result.output, result.output
    if case not in ("mask_without_input",):
        assert ".npz" in lines[0]  # the message names the file
