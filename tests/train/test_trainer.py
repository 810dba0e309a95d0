import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml

from gensci import api
from gensci.config import validate
from gensci.errors import DivergenceError
from gensci.train.checkpoint import load_checkpoint
from gensci.train.trainer import Trainer
from gensci.workflows.base import build_method, load_data
from gensci.train.optim import AdaptiveClipper, lr_factor
from gensci.testing.toy import toy_config


def losses(run_dir):
    rows = [json.loads(line) for line in open(run_dir / "metrics.jsonl")]
    return {r["step"]: r["loss"] for r in rows if r["kind"] == "train"}


def test_same_seed_same_losses(tmp_path):
    a, _ = api.train(validate(toy_config()), tmp_path / "a")
    b, _ = api.train(validate(toy_config()), tmp_path / "b")
    c, _ = api.train(validate({**toy_config(), "seed": 1}), tmp_path / "c")
    assert losses(a.path) == losses(b.path)
    assert losses(a.path) != losses(c.path)


def test_run_directory_layout(tmp_path):
    run, result = api.train(validate(toy_config()), tmp_path / "r")
    assert result.steps == 20
    for name in ("config.yaml", "metrics.jsonl", "checkpoints/last.pt", "samples", "figures"):
        assert (run.path / name).exists(), name
    assert yaml.safe_load((run.path / "config.yaml").read_text())["train"]["max_steps"] == 20


def test_resume_continues_exactly(tmp_path):
    full, _ = api.train(validate(toy_config(max_steps=30)), tmp_path / "full")
    api.train(validate(toy_config(max_steps=15)), tmp_path / "part")
    part, result = api.train(validate(toy_config(max_steps=30)), tmp_path / "part", resume=True)
    assert result.steps == 30
    assert losses(part.path) == losses(full.path)


def test_resume_takes_the_configured_learning_rate(tmp_path):
    api.train(validate(toy_config(max_steps=10)), tmp_path / "r")
    api.train(validate(toy_config(max_steps=20, lr=1e-3)), tmp_path / "r", resume=True)
    rows = [json.loads(line) for line in open(tmp_path / "r" / "metrics.jsonl")]
    lrs = {r["step"]: r["lr"] for r in rows if r["kind"] == "train"}
    assert lrs[10] == pytest.approx(1e-2) and lrs[20] == pytest.approx(1e-3)


def test_refuses_to_overwrite_a_trained_run(tmp_path):
    api.train(validate(toy_config()), tmp_path / "r")
    with pytest.raises(ValueError, match="--resume"):
        api.train(validate(toy_config()), tmp_path / "r")


def test_ema_differs_from_weights_and_is_saved(tmp_path):
    run, _ = api.train(validate(toy_config(ema_decay=0.9)), tmp_path / "r")
    ema, raw = run.method(ema=True), run.method(ema=False)
    diffs = [(a - b).abs().max().item() for a, b in zip(ema.parameters(), raw.parameters())]
    assert max(diffs) > 0


class FakeClock:
    """Time that moves only when the toy method sleeps: the budget test does not depend on the machine's load."""

    def __init__(self):
        self.now = 1000.0

    def perf_counter(self) -> float:
        return self.now

    monotonic = perf_counter
    time = perf_counter  # the class attribute; __getattr__ below still reads the module

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def __getattr__(self, name):  # anything else from the real module
        return getattr(time, name)


def test_time_budget_stops_at_the_first_step_past_it(tmp_path, monkeypatch):
    import gensci.testing.toy as toy
    import gensci.train.trainer as trainer

    clock = FakeClock()
    monkeypatch.setattr(trainer, "time", clock)
    monkeypatch.setattr(toy, "time", clock)
    step_s, budget_s = 0.05, 1.2
    cfg = toy_config(max_steps=None, max_minutes=budget_s / 60)
    cfg["method"]["delay_s"] = step_s
    _, result = api.train(validate(cfg), tmp_path / "r")
    assert result.stopped_by == "max_minutes"
    assert result.elapsed >= budget_s > result.elapsed - step_s  # stopped by the step that used the budget up
    assert round(budget_s / step_s) <= result.steps <= round(budget_s / step_s) + 1  # 24, or 25 by rounding


def test_sigkill_then_resume_ends_at_same_step(tmp_path):
    """A run killed with SIGKILL and resumed loses at most the steps since its last checkpoint."""
    cfg = toy_config(max_steps=60, checkpoint_every=10)
    cfg["method"]["delay_s"] = 0.03
    cfg_file = tmp_path / "toy.yaml"
    cfg_file.write_text(yaml.safe_dump(cfg))
    run_dir = tmp_path / "run"
    env = {**os.environ, "GENSCI_PLUGINS": "gensci.testing.toy:register_toy"}
    cmd = [sys.executable, "-m", "gensci", "train", str(cfg_file), "--out", str(run_dir), "--quiet"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    last = run_dir / "checkpoints" / "last.pt"
    deadline = time.time() + 60
    while time.time() < deadline and not (last.exists() and _logged_steps(run_dir) >= 25):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    resumed = subprocess.run(cmd + ["--resume"], env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    api.train(validate(cfg), tmp_path / "clean")
    assert losses(run_dir) == losses(tmp_path / "clean")
    assert max(losses(run_dir)) == 60


def _logged_steps(run_dir):
    f = run_dir / "metrics.jsonl"
    if not f.exists():
        return 0
    return max([json.loads(line)["step"] for line in f.read_text().splitlines() if line.strip()] or [0])


def test_nan_loss_raises(tmp_path):
    from gensci.testing.toy import Toy

    cfg = validate(toy_config())
    method = Toy(cfg.method, {"dim": 8})
    from gensci.train.optim import TrainerStepper

    stepper = TrainerStepper(method.optimizers(cfg.train), cfg.train)
    with pytest.raises(FloatingPointError):
        stepper.step(torch.tensor(float("nan"), requires_grad=True))


def test_adaptive_clipper_follows_recent_norms():
    c = AdaptiveClipper()
    assert c.threshold() == pytest.approx(1.5 * 3000)
    for _ in range(60):
        c.record(2.0, c.threshold())
    assert c.threshold() == pytest.approx(3.0)  # 1.5 * mean(2) + 2 * std(0)
    c.record(100.0, c.threshold())  # a spike is recorded at the threshold, not its size
    assert max(c.norms) == pytest.approx(3.0)


def test_lr_warmup_and_cosine():
    cfg = validate(toy_config(max_steps=110, warmup_steps=10, lr_schedule="cosine")).train
    assert lr_factor(0, cfg) == pytest.approx(0.1)
    assert lr_factor(9, cfg) == pytest.approx(1.0)
    assert lr_factor(60, cfg) == pytest.approx(0.5)
    assert lr_factor(110, cfg) == pytest.approx(0.0, abs=1e-9)


def test_cosine_decays_over_the_time_budget_when_it_ends_first():
    cfg = validate(toy_config(max_steps=1000, max_minutes=10, lr_schedule="cosine")).train
    assert lr_factor(100, cfg, time_spent=0.5) == pytest.approx(0.5)  # half the time, a tenth of the steps
    assert lr_factor(900, cfg, time_spent=0.5) == pytest.approx(0.5 * (1 + math.cos(0.9 * math.pi)))
    assert lr_factor(100, cfg, time_spent=1.0) == pytest.approx(0.0, abs=1e-9)
    assert lr_factor(100, validate(toy_config(max_steps=None, max_minutes=10)).train, time_spent=0.5) == 1.0


def test_a_time_budgeted_cosine_run_ends_near_zero_learning_rate(tmp_path):
    cfg = toy_config(max_steps=None, max_minutes=0.05, lr_schedule="cosine", log_every=1)  # ~60 steps: a slow step under load still leaves the last one near the end
    cfg["method"]["delay_s"] = 0.05
    run, result = api.train(validate(cfg), tmp_path / "r")
    lrs = [json.loads(line)["lr"] for line in open(run.path / "metrics.jsonl") if '"train"' in line]
    assert result.stopped_by == "max_minutes"
    assert lrs[0] > 0.9e-2 and lrs[-1] < 0.2e-2 and lrs == sorted(lrs, reverse=True)


def test_best_checkpoint_is_kept_by_the_selection_metric(tmp_path):
    cfg = validate(toy_config(max_steps=20, eval_every=5))
    values = iter([3.0, 1.0, 2.0, 5.0])
    trainer = Trainer(cfg, tmp_path / "r", lambda info: build_method(cfg, info), load_data(cfg),
                      evaluate=lambda method, data, config: {"score": next(values)}, select=("score", "min"))
    trainer.fit()
    best = load_checkpoint(tmp_path / "r" / "checkpoints" / "best.pt")
    assert best["selection"] == {"metric": "score", "value": 1.0, "mode": "min", "step": 10}
    assert best["state"]["step"] == 10 and load_checkpoint(tmp_path / "r" / "checkpoints" / "last.pt")["state"]["step"] == 20


def test_divergence_names_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    cfg = validate(toy_config(max_steps=20) | {"method": {"name": "toy", "nan_at_step": 12}})
    with pytest.raises(DivergenceError, match=r"step 13.*last good checkpoint .*last.pt \(step 10\)"):
        api.train(cfg, tmp_path / "r")
    last = load_checkpoint(tmp_path / "r" / "checkpoints" / "last.pt")
    assert last["state"]["step"] == 10
    assert all(torch.isfinite(v).all() for v in last["method"].values())


def test_resume_falls_back_to_the_newest_readable_checkpoint(tmp_path):
    api.train(validate(toy_config(max_steps=10, keep_every=5)), tmp_path / "r")
    (tmp_path / "r" / "checkpoints" / "last.pt").write_bytes(b"torn by a crash")
    run, result = api.train(validate(toy_config(max_steps=15)), tmp_path / "r", resume=True)
    assert result.steps == 15
    assert any("last.pt" in note for note in result.notes)
    assert any("resuming from" in note and "step_00000010.pt" in note for note in result.notes)


def test_a_split_smaller_than_one_batch_is_a_config_error():
    from gensci.errors import ConfigError
    from gensci.train.batches import EpochBatches

    with pytest.raises(ConfigError, match="fewer than one batch"):
        EpochBatches(list(range(10)), batch_size=16, seed=0)


def test_compiled_training_matches_eager_and_keeps_checkpoint_keys(tmp_path):
    from torch._dynamo.utils import counters

    eager, _ = api.train(validate(toy_config(max_steps=10)), tmp_path / "eager")
    counters.clear()
    compiled, _ = api.train(validate(toy_config(max_steps=10, compile=True)), tmp_path / "compiled")
    assert counters["stats"]["unique_graphs"] > 0  # the flag reached torch.compile
    a, b = losses(eager.path), losses(compiled.path)
    assert a.keys() == b.keys() and all(abs(a[k] - b[k]) <= 1e-4 * abs(a[k]) + 1e-6 for k in a)
    keys = [set(torch.load(r.path / "checkpoints/last.pt", weights_only=True)["method"]) for r in (eager, compiled)]
    assert keys[0] == keys[1]


def test_compile_networks_compiles_the_trainable_children():
    from gensci.train.trainer import compile_networks

    method = torch.nn.Module()
    method.net, method.frozen = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2).requires_grad_(False)
    assert compile_networks(method) == ["net"]
    assert method.net._compiled_call_impl is not None and method.frozen._compiled_call_impl is None


def test_training_off_a_terminal_prints_plain_progress_lines(tmp_path, monkeypatch, capsys):
    """stderr is not a terminal here (pytest captures it): every 10 s of training one plain line, then the last."""
    import re

    import gensci.testing.toy as toy
    import gensci.train.trainer as trainer

    clock = FakeClock()
    monkeypatch.setattr(trainer, "time", clock)
    monkeypatch.setattr(toy, "time", clock)
    cfg = toy_config(max_steps=60, progress=True)
    cfg["method"]["delay_s"] = 0.5  # 30 s of (fake) training: lines near 10, 20 and 30 s
    api.train(validate(cfg), tmp_path / "r")
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("step ")]
    steps = [int(re.match(r"step (\d+)/60 loss \S+, (\d+(\.\d+)?) steps/s, eta \d:\d\d:\d\d$", line).group(1))
             for line in lines[:-1]]
    assert len(steps) >= 2 and steps == sorted(steps) and steps[0] >= 20, lines
    assert re.match(r"step 60/60 loss \S+, done in 0:00:30$", lines[-1]), lines
    api.train(validate(toy_config(max_steps=60, progress=False)), tmp_path / "quiet")  # --quiet
    assert "step" not in capsys.readouterr().err
