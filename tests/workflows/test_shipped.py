"""Shipped weights: export a trained run, then sample and evaluate it by name without its run directory."""

import json
import shutil

import pytest
import torch

from gensci import api
from gensci.config import validate
from gensci.errors import UserError
from gensci.methods.base import SamplingOptions
from gensci.workflows import shipped
from gensci.workflows.base import EvalOptions, SampleOptions
from gensci.workflows.shipped import ShippedRun, export_weights, shipped_names

EDM = {
    "name": "edm-tiny",
    "data": {"name": "qm9", "limit_train": 64, "limit_eval": 8},
    "method": {"name": "edm", "hidden_nf": 16, "n_layers": 1, "timesteps": 20},
    "train": {"max_steps": 3, "batch_size": 8, "progress": False, "ema_decay": 0.9},
    "eval": {"n_samples": 4, "sampling_steps": 5},
}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("shipped")
    run, result = api.train(validate(EDM), root / "run")
    record = {"data": "qm9 (64 molecules)", "steps": result.steps, "training_minutes": result.elapsed / 60,
              "command": "tests/workflows/test_shipped.py", "metrics": {}}
    export_weights(run, "edm-tiny", record, folder=root / "weights")
    shutil.rmtree(root / "run")  # the shipped files must be enough
    return root / "weights", run


def test_export_writes_weights_and_a_manifest(exported):
    folder, _ = exported
    assert shipped_names(folder) == ["edm-tiny"]
    body = json.loads((folder / "edm-tiny.json").read_text())
    assert {"config", "info", "sha256", "steps", "training_minutes", "command", "metrics", "data"} <= set(body)
    assert body["steps"] == 3 and body["info"]["atom_types"] == ["H", "C", "N", "O", "F"]


def test_shipped_weights_sample_like_the_run(exported, tmp_path, monkeypatch):
    folder, _ = exported
    monkeypatch.setattr(shipped, "weights_dir", lambda: folder)
    run = ShippedRun("edm-tiny", out=tmp_path / "out")
    method = run.method()
    assert run.loaded_from == "shipped weights edm-tiny (3 training steps)"
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    a = method.sample(3, generator=g(), options=SamplingOptions(steps=4))
    b = ShippedRun("edm-tiny").method().sample(3, generator=g(), options=SamplingOptions(steps=4))
    assert torch.equal(a["positions"], b["positions"])
    paths = api.sample("edm-tiny", SampleOptions(n=2, steps=3, out=tmp_path / "mols.sdf"))
    assert [p.name for p in paths] == ["mols.sdf", "mols.xyz"]
    metrics = api.evaluate(run, EvalOptions(n=4, steps=3), save=False)
    assert metrics["checkpoint"].startswith("shipped weights edm-tiny") and metrics["n_molecules"] == 4


def test_tampered_or_unknown_weights_are_user_errors(exported, tmp_path, monkeypatch):
    folder, _ = exported
    copy = tmp_path / "weights"
    shutil.copytree(folder, copy)
    data = bytearray((copy / "edm-tiny.safetensors").read_bytes())
    data[-1] ^= 1
    (copy / "edm-tiny.safetensors").write_bytes(bytes(data))
    with pytest.raises(UserError, match="do not match their manifest"):
        ShippedRun("edm-tiny", folder=copy).method()
    monkeypatch.setattr(shipped, "weights_dir", lambda: folder)
    with pytest.raises(UserError, match="no such run directory, nor shipped weights \\(edm-tiny\\)"):
        shipped.open_run("nonsense")
