"""Image workflow: every galaxy preset trains for a few steps, then samples, evaluates and reports."""

import json
from html import escape

import numpy as np
import pytest
import torch

from gensci.errors import UserError

from gensci import api
from gensci.data.base import DataSplits, TensorDictDataset
from gensci.workflows import images as wf_images
from gensci.workflows.base import SampleOptions
from gensci.workflows.images import ImageWorkflow, compare_runs, vae_metrics

PRESETS = ["galaxy-vae", "galaxy-vae-fc", "galaxy-gan", "galaxy-acgan", "galaxy-wgan-gp", "galaxy-wgan-div"]
TINY = ["data.image_size=16", "data.n_per_class=12", "data.n_valid_per_class=4", "data.n_test_per_class=10",
        "train.batch_size=8", "train.eval_every=5", "train.log_every=1", "train.progress=false",
        "eval.n_samples=24", "eval.periodic_n_samples=12"]
WIDTHS = {"vae": ["method.width=4", "method.latent_dim=4", "method.hidden=16"],
          "gan": ["method.g_width=4", "method.d_width=4", "method.latent_dim=8"]}
EXTRA = {"galaxy-vae-fc": ["data.held_out_classes=[1]"]}  # trained on two classes: the third is the anomaly
KEYS = {"fd_local", "kd_local", "precision", "recall", "density", "coverage", "duplicate_rate", "pixel_hist_distance",
        "power_spectrum_distance", "c2st_auc", "mode_collapse", "n_samples"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("image_runs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GENSCI_CACHE", str(root / "cache"))
        mp.setattr(wf_images, "REFERENCE_STEPS", 100)  # a reference net trained in seconds
        out = {}
        for preset in PRESETS:
            method = "vae" if "vae" in preset else "gan"
            run, result = api.train(preset, out=root / preset, overrides=TINY + WIDTHS[method] + EXTRA.get(preset, []),
                                      max_steps=5)
            assert result.steps == 5
            metrics = api.evaluate(run)
            out[preset] = (run, metrics, api.report(run, metrics))
        yield out


@pytest.mark.parametrize("preset", PRESETS)
def test_evaluate_gives_the_image_keys(runs, preset):
    run, metrics, _ = runs[preset]
    json.dumps(metrics, allow_nan=False)
    assert KEYS <= metrics.keys() and metrics["n_samples"] == 24 and isinstance(metrics["mode_collapse"], bool)
    assert ("class_accuracy" in metrics) == (preset == "galaxy-acgan")
    assert ("elbo" in metrics) == ("vae" in preset)
    assert ("anomaly_auroc" in metrics) == (preset == "galaxy-vae-fc") and 0 <= metrics.get("anomaly_auroc", 0) <= 1
    assert ("anomaly_auroc_complexity" in metrics) == (preset == "galaxy-vae-fc")
    assert set(ImageWorkflow().headline(metrics)) >= {"fd_local", "kd_local", "coverage", "duplicate_rate", "mode_collapse"}
    evals = [r for r in run.history() if r["kind"] == "eval"]
    assert evals and {"kd_local", "coverage"} <= evals[-1].keys()
    assert ("elbo" in evals[-1]) == ("vae" in preset)


@pytest.mark.parametrize("preset", PRESETS)
def test_report_has_grids_stats_and_the_collapse_flag(runs, preset):
    run, metrics, html_path = runs[preset]
    html = html_path.read_text()
    assert ("MODE COLLAPSE" in html) == metrics["mode_collapse"]
    collapse = metrics["verdicts"]["mode_collapse"]  # evaluate's JSON carries the verdict with its reason
    assert collapse["ok"] is (not metrics["mode_collapse"]) and escape(collapse["reason"]) in html
    figures = {p.name for p in run.figures_dir.iterdir()}
    assert {"power_spectra.png", "pixel_hist.png", "real_per_class.png"} <= figures
    assert ("samples_per_class.png" if preset == "galaxy-acgan" else "samples.png") in figures
    assert ({"reconstructions.png", "interpolation.png", "interpolation.gif"} <= figures) == ("vae" in preset)


def test_sample_writes_npz_and_png_and_respects_the_class(runs, tmp_path):
    wf = ImageWorkflow()
    run = runs["galaxy-acgan"][0]
    npz, png = wf.sample(run, SampleOptions(n=6, class_label=2, seed=1))
    with np.load(npz) as f:
        assert f["images"].shape == (6, 3, 16, 16) and (f["labels"] == 2).all()
        assert 0 <= f["images"].min() and f["images"].max() <= 1
    assert png.exists() and png.suffix == ".png"
    again, _ = wf.sample(run, SampleOptions(n=6, class_label=2, seed=1, out=tmp_path))
    with np.load(npz) as a, np.load(again) as b:
        assert np.array_equal(a["images"], b["images"])  # seeded
    npz, _ = wf.sample(run, SampleOptions(n=6))
    with np.load(npz) as f:
        assert sorted(f["labels"].tolist()) == [0, 0, 1, 1, 2, 2]  # balanced over the classes
    with pytest.raises(UserError, match="conditional"):
        wf.sample(runs["galaxy-gan"][0], SampleOptions(n=2, class_label=0))
    with pytest.raises(UserError, match="classes 0..2"):
        wf.sample(run, SampleOptions(n=2, class_label=3))


def test_compare_runs_puts_runs_side_by_side(runs, tmp_path):
    chosen = [runs[p] for p in ("galaxy-gan", "galaxy-wgan-gp", "galaxy-vae")]
    section = compare_runs([r for r, _, _ in chosen], [m for _, m, _ in chosen])
    assert list(section.table) == ["galaxy-gan", "galaxy-wgan-gp", "galaxy-vae"]
    assert section.table["galaxy-wgan-gp"]["method"] == "gan:wgan-gp" and section.table["galaxy-gan"]["steps"] == 5
    assert section.table["galaxy-vae"]["elbo"] == chosen[2][1]["elbo"]
    assert {"fd_local", "coverage", "mode_collapse"} <= set(section.columns)
    stats, grids = ImageWorkflow().compare_sections([r for r, _, _ in chosen], [m for _, m, _ in chosen], tmp_path)
    assert len(stats.figures) == 2 and len(grids.figures) == 3
    assert all(p.exists() and p.parent == tmp_path for p in stats.figures + grids.figures)


class BrightnessScorer:
    """Stands in for a VAE whose ELBO falls with image brightness."""

    device = torch.device("cpu")
    capabilities = frozenset({"elbo"})

    def elbo(self, x, generator=None, labels=None):
        return -x.mean(dim=(1, 2, 3))


def test_anomaly_auroc_scores_the_held_out_class():
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(30) % 3
    x = torch.rand(30, 3, 16, 16, generator=g) * 0.5 + 0.5 * (labels == 1).float()[:, None, None, None]
    split = TensorDictDataset({"x": x, "label": labels})
    data = DataSplits(split, split, split, {"n_classes": 3, "held_out_classes": [1]})
    m = vae_metrics(BrightnessScorer(), data)
    assert m["anomaly_auroc"] == 1.0 and m["elbo_held_out"] < m["elbo"] and 0 <= m["anomaly_auroc_complexity"] <= 1
    assert "anomaly_auroc" not in vae_metrics(BrightnessScorer(), DataSplits(split, split, split, {"n_classes": 3}))
