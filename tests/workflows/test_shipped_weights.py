"""Every model that ships with gensci: its manifest says what a scientist asks (data, steps, CPU time, command,
metrics on a stated n), its weights match the manifest, and its domain's workflow draws a couple of samples.

Kept quick (a few seconds in all): two samples each, with two sampling steps where the method takes steps.
"""

import json

import numpy as np
import pytest

from gensci import api
from gensci.workflows.base import SampleOptions
from gensci.workflows.shipped import (MAX_BYTES, ShippedRun, manifest, sampling_defaults_in_method,
                                     shipped_names, weights_dir)

NAMES = shipped_names()
RECORD = {"name", "config", "info", "sha256", "bytes", "data", "steps", "training_minutes", "cpu_minutes", "command",
          "export_command", "n_samples", "metrics", "metrics_note"}
PACKAGE_DATA_BYTES = 60_000_000  # the limit on everything under src/gensci/ that is not code


def test_qm9_midi_ships():
    assert "qm9-midi" in NAMES  # the demo's model


@pytest.mark.parametrize("name", NAMES)
def test_manifest_records_what_a_scientist_asks(name):
    body = manifest(name)
    assert RECORD <= set(body), sorted(RECORD - set(body))
    assert body["name"] == name and body["steps"] > 0 and body["n_samples"] > 0 and body["metrics"]
    assert body["cpu_minutes"] is not None or body.get("cpu_note"), "CPU time, or why it was not measured"
    size = (weights_dir() / f"{name}.safetensors").stat().st_size
    assert size == body["bytes"] < MAX_BYTES


@pytest.mark.parametrize("name", NAMES)
def test_shipped_model_samples_through_its_workflow(name, tmp_path):
    run = ShippedRun(name, out=tmp_path / "out")
    method = run.method(device="cpu")  # checks the weights' sha256 against the manifest
    steps = 2 if "steps" in method.sampling_options else None
    paths = api.sample(run, SampleOptions(n=2, steps=steps, out=tmp_path / "s"))
    assert paths and all(p.stat().st_size > 0 for p in paths)
    for path in paths:
        if path.suffix == ".npz":
            with np.load(path) as f:
                assert len(f["images"]) == 2 and np.isfinite(f["images"]).all()
    assert not (tmp_path / "out").exists()  # sampling to --out writes nothing else


@pytest.mark.parametrize("name", NAMES)
def test_sample_draws_as_the_recorded_metrics_were_measured(name):
    """`gensci sample NAME` (no options) uses the steps and sampler the manifest's metrics were measured with."""
    run = ShippedRun(name)
    recorded = run.manifest["metrics"]
    if "sampling_steps" not in recorded:
        pytest.skip(f"{name} samples in one pass")
    described = run.method(device="cpu").describe_sampling(SampleOptions().sampling())
    assert (described["sampling_steps"], described["sampler"]) == (recorded["sampling_steps"], recorded["sampler"])


def test_sampling_defaults_move_into_the_method():
    old = {"method": {"name": "m", "sampling_steps": None, "sampler": "ddim"}, "eval": {"sampling_steps": 100}}
    new = sampling_defaults_in_method(old)
    assert new["method"]["sampling_steps"] == 100 and new["eval"]["sampling_steps"] is None
    kept = {"method": {"sampling_steps": 50}, "eval": {"sampling_steps": 100}}  # a method's own default stays
    assert sampling_defaults_in_method(kept)["method"]["sampling_steps"] == 50


def test_package_data_stays_under_60_mb():
    root = weights_dir().parent
    files = [p for p in root.rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc")]
    total = sum(p.stat().st_size for p in files)
    assert total < PACKAGE_DATA_BYTES, json.dumps({str(p.relative_to(root)): p.stat().st_size for p in files})
