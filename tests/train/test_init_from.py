"""train.init_from: a new run warm-started from another run's checkpoint (gensci.train.trainer.warm_start)."""

import json

import pytest
import torch

from gensci import api
from gensci.config import validate
from gensci.errors import CheckpointError, UserError
from gensci.train.checkpoint import load_checkpoint
from gensci.train.trainer import warm_start_state
from gensci.testing.toy import toy_config


def config(dim: int = 8, hidden: int = 16, **train) -> dict:
    raw = toy_config(**train)
    return raw | {"data": {"name": "toy", "dim": dim}, "method": {"name": "toy", "hidden": hidden}}


def rows(run_dir) -> list[dict]:
    return [json.loads(line) for line in open(run_dir / "metrics.jsonl")]


def test_a_wider_input_model_warm_started_computes_the_old_function(tmp_path):
    source, _ = api.train(validate(config(ema_decay=0.9, max_steps=10)), tmp_path / "source")
    path = source.path / "checkpoints" / "last.pt"
    run, result = api.train(validate(config(dim=10, init_from=str(path), max_steps=0)), tmp_path / "wide")
    assert result.steps == 0
    old = source.method(ema=True).net
    x = torch.randn(64, 10, generator=torch.Generator().manual_seed(0))  # the two new features present, not zero
    for ema in (True, False):  # both the weights and their EMA copy start from the source's EMA weights
        new = run.method(ema=ema).net
        assert torch.allclose(new(x), old(x[:, :8]), rtol=0, atol=1e-6)
        assert (new.layers[0].weight[:, 8:] == 0).all()
    assert not torch.allclose(source.method(ema=False).net(x[:, :8]), old(x[:, :8]))  # the EMA weights were taken
    record = [r for r in rows(run.path) if r["kind"] == "init_from"]
    assert record == [{"step": 0, "kind": "init_from", "init_from": str(path), "init_from_step": 10,
                       "init_from_weights": "ema"}]
    ckpt = load_checkpoint(run.path / "checkpoints" / "last.pt")
    assert ckpt["state"]["step"] == 0 and ckpt["optimizers"]["main"]["state"] == {}  # a fresh optimiser and counter
    assert ckpt["ema_n_averaged"] == load_checkpoint(path)["ema_n_averaged"]  # the EMA continues its average


def test_mismatched_weights_are_listed():
    target = {"a.weight": torch.zeros(4, 3), "a.bias": torch.zeros(4), "b.weight": torch.zeros(2, 4)}
    good = {"a.weight": torch.ones(4, 2), "a.bias": torch.ones(4), "b.weight": torch.ones(2, 4)}
    out = warm_start_state(target, good, "x.pt")
    assert torch.equal(out["a.weight"], torch.tensor([[1.0, 1.0, 0.0]] * 4)) and torch.equal(out["b.weight"], good["b.weight"])
    bad = {"a.weight": torch.ones(5, 3), "a.bias": torch.ones(3), "c.weight": torch.ones(1)}
    with pytest.raises(UserError, match=r"x\.pt.*4 tensors.*a\.weight \(5, 3\) -> \(4, 3\); a\.bias \(3,\) -> \(4,\); "
                       r"b\.weight missing.*c\.weight unexpected"):
        warm_start_state(target, bad, "x.pt")
    with pytest.raises(UserError, match=r"a\.weight \(4, 5\) -> \(4, 3\)"):  # fewer inputs cannot be dropped
        warm_start_state(target, good | {"a.weight": torch.ones(4, 5)}, "x.pt")


def test_a_checkpoint_of_another_shape_or_file_is_refused(tmp_path):
    source, _ = api.train(validate(config(max_steps=5)), tmp_path / "source")
    path = source.path / "checkpoints" / "last.pt"
    with pytest.raises(UserError, match=r"net\.layers\.0\.weight \(16, 8\) -> \(32, 8\)"):
        api.train(validate(config(hidden=32, init_from=str(path), max_steps=2)), tmp_path / "wider")
    with pytest.raises(CheckpointError, match="no checkpoint"):
        api.train(validate(config(init_from=str(tmp_path / "none.pt"), max_steps=2)), tmp_path / "missing")


def test_a_warm_started_run_resumes_from_its_own_checkpoint(tmp_path):
    source, _ = api.train(validate(config(max_steps=10)), tmp_path / "source")
    path = str(source.path / "checkpoints" / "last.pt")
    full, _ = api.train(validate(config(dim=10, init_from=path, max_steps=20)), tmp_path / "full")
    api.train(validate(config(dim=10, init_from=path, max_steps=10)), tmp_path / "part")
    part, result = api.train(validate(config(dim=10, init_from=path, max_steps=20)), tmp_path / "part", resume=True)
    assert result.steps == 20
    train = lambda run: {r["step"]: r["loss"] for r in rows(run.path) if r["kind"] == "train"}  # noqa: E731
    assert train(part) == train(full)  # init_from was not applied again on resume
    assert [r["kind"] for r in rows(part.path)].count("init_from") == 1
