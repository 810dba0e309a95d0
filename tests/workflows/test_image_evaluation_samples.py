"""An image evaluation keeps the images it measured (npz + PNG grid), named by checkpoint, and names them in
its result, so best.pt and last.pt evaluations never overwrite each other."""

import shutil
from pathlib import Path

import numpy as np

from gensci.config import load_config
from gensci.testing.runs import untrained_run
from gensci.workflows import images as wf_images
from gensci.workflows.base import EvalOptions

TINY = ["data.image_size=16", "data.n_per_class=8", "data.n_valid_per_class=4", "data.n_test_per_class=8",
        "method.g_width=4", "method.d_width=4", "method.latent_dim=8", "eval.n_samples=10"]


def test_evaluations_write_their_images_per_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setenv("GENSCI_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(wf_images, "REFERENCE_STEPS", 20)  # the judge's quality does not matter here
    run = untrained_run(load_config("galaxy-gan", TINY), tmp_path / "run")
    shutil.copy(run.checkpoints / "last.pt", run.checkpoints / "best.pt")
    results = {c: run.workflow.evaluate(run, EvalOptions(checkpoint=c, seed=3)) for c in ("best", "last")}
    names = {c: [Path(f).name for f in m["sample_files"]] for c, m in results.items()}
    assert names == {c: [f"evaluation_{c}_n10_seed3.npz", f"evaluation_{c}_n10_seed3.png"] for c in ("best", "last")}
    for m in results.values():
        npz, png = map(Path, m["sample_files"])
        with np.load(npz) as f:
            assert f["images"].shape == (10, 3, 16, 16) and np.isfinite(f["images"]).all()
        assert png.stat().st_size > 0 and png.read_bytes()[:4] == b"\x89PNG"
