"""The training loop shared by every method.

The trainer owns what is around a method's `train_step`: the loop, step and wall-clock
budgets, learning-rate schedule, gradient clipping, bf16 autocast, EMA weights,
progress display, metrics.jsonl, periodic evaluation, atomic checkpoints and exact
resume, seeds, device and torch.distributed. It sees only the Method protocol.
"""

from __future__ import annotations

import signal
import time
from collections import defaultdict
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from gensci.config import ExperimentConfig
from gensci.data.base import DataSplits
from gensci.methods.base import Method, to_device
from gensci.train import distributed as dist_utils
from gensci.train.batches import EpochBatches, fetch
from gensci.train.checkpoint import load_checkpoint, save_checkpoint
from gensci.train.devices import resolve_device
from gensci.train.ema import ema_model
from gensci.train.logging import MetricsLog
from gensci.train.optim import TrainerStepper, lr_factor, set_lr

EvalFn = Callable[[Method, DataSplits, ExperimentConfig], dict[str, float]]


@dataclass
class TrainState:
    """Plain data saved in every checkpoint."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    elapsed: float = 0.0  # seconds of training over all sessions of this run
    clip: dict[str, list[float]] = field(default_factory=dict)
    non_finite_grads: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class TrainResult:
    steps: int
    elapsed: float
    last_logs: dict[str, float]
    stopped_by: str


class Trainer:
    def __init__(
        self,
        config: ExperimentConfig,
        run_dir: str | Path,
        method_factory: Callable[[dict], Method],
        data: DataSplits,
        evaluate: EvalFn | None = None,
    ):
        self.config = config
        self.train = config.train
        self.run_dir = Path(run_dir)
        self.data = data
        self.evaluate = evaluate
        self.device = resolve_device(self.train.device, dist_utils.local_rank_from_env())
        self.dist = dist_utils.init_distributed(self.device)
        if self.train.threads:
            torch.set_num_threads(self.train.threads)
        # Same weights on every rank (DDP also broadcasts rank 0's), then rank-specific noise.
        torch.manual_seed(config.seed)
        self.method = method_factory(data.info).to(self.device)
        self.ema = ema_model(self.method, self.train.ema_decay, self.train.ema_warmup) if self.train.ema_decay > 0 else None
        self.optimizers = self.method.optimizers(self.train)
        self.wrapped = dist_utils.wrap_ddp(self.method, self.device) if self.dist.enabled else []
        self.batches = EpochBatches(data.train, self.train.batch_size, config.seed, self.dist.rank, self.dist.world_size)
        if self.dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log = MetricsLog(self.run_dir / "metrics.jsonl", enabled=self.dist.is_main)
        self.state = TrainState()
        torch.manual_seed(config.seed * 1000 + 1 + self.dist.rank)

    # ---- checkpoints -------------------------------------------------------------------
    @property
    def last_path(self) -> Path:
        return self.run_dir / "checkpoints" / "last.pt"

    def save(self, stepper: TrainerStepper) -> None:
        self.state.clip = stepper.clip_state()
        self.state.non_finite_grads = stepper.non_finite
        if not self.dist.is_main:
            return
        payload = {
            "method": dist_utils.unwrapped_state_dict(self.method, self.wrapped),
            "ema": self.ema.module.state_dict() if self.ema is not None else None,
            "ema_n_averaged": self.ema.n_averaged.clone() if self.ema is not None else None,
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "state": self.state.as_dict(),
            "rng": {"torch": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []},
            "config": self.config.model_dump(mode="json"),
            "info": self.data.info,
        }
        save_checkpoint(self.last_path, payload)
        if self.train.keep_every and self.state.step % self.train.keep_every == 0:
            save_checkpoint(self.run_dir / "checkpoints" / f"step_{self.state.step:08d}.pt", payload)

    def restore(self) -> None:
        ckpt = load_checkpoint(self.last_path)
        target = self.method
        state = ckpt["method"]
        if self.wrapped:  # load into the DDP children's modules
            for name in self.wrapped:
                getattr(target, name).module.load_state_dict(
                    {k[len(name) + 1 :]: v for k, v in state.items() if k.startswith(name + ".")}
                )
            rest = {k: v for k, v in state.items() if k.split(".")[0] not in self.wrapped}
            target.load_state_dict(rest, strict=False)
        else:
            target.load_state_dict(state)
        if self.ema is not None and ckpt.get("ema") is not None:
            self.ema.module.load_state_dict(ckpt["ema"])
            self.ema.n_averaged.copy_(ckpt["ema_n_averaged"])
        for name, opt in self.optimizers.items():
            opt.load_state_dict(ckpt["optimizers"][name])
        self.state = TrainState(**ckpt["state"])
        if self.dist.is_main:
            torch.set_rng_state(ckpt["rng"]["torch"])
            if ckpt["rng"]["cuda"] and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(ckpt["rng"]["cuda"])
        else:  # other ranks: rank-specific stream derived from the step
            torch.manual_seed(self.config.seed * 1000 + 1 + self.dist.rank + 7919 * self.state.step)
        self.log.truncate_after(self.state.step)

    # ---- the loop ------------------------------------------------------------------------
    def fit(self, resume: bool = False) -> TrainResult:
        if resume:
            if not self.last_path.exists():
                raise FileNotFoundError(f"--resume: no checkpoint at {self.last_path}")
            self.restore()
        stepper = TrainerStepper(self.optimizers, self.train, self.state.clip)
        stepper.non_finite = self.state.non_finite_grads
        autocast = (
            torch.autocast(self.device.type, dtype=torch.bfloat16) if self.train.precision == "bf16" else nullcontext()
        )
        sums: dict[str, float] = defaultdict(float)
        count, last_logs, stopped_by = 0, {}, "max_steps"
        session_start, last_log_time, last_log_step = time.perf_counter(), time.perf_counter(), self.state.step
        elapsed_before = self.state.elapsed
        max_steps = self.train.max_steps
        if max_steps is None and self.train.max_minutes is None:
            raise ValueError("no budget: set train.max_steps or train.max_minutes (--max-steps / --max-minutes)")
        with _progress(self.dist.is_main and self.train.progress, max_steps, self.state.step) as bar, _sigterm_as_interrupt():
            try:
                while max_steps is None or self.state.step < max_steps:
                    for indices in self.batches.epoch(self.state.epoch, self.state.batch_in_epoch):
                        batch = to_device(fetch(self.data.train, indices, self.data.collate), self.device)
                        lr = set_lr(self.optimizers, lr_factor(self.state.step, self.train))
                        self.method.train()
                        with autocast:
                            logs = self.method.train_step(batch, self.state.step, stepper)
                        if self.ema is not None:
                            self.ema.update_parameters(self.method)
                        self.state.step += 1
                        self.state.batch_in_epoch += 1
                        self.state.elapsed = elapsed_before + time.perf_counter() - session_start
                        for k, v in logs.items():
                            sums[k] += float(v)
                        count += 1
                        if self.state.step % self.train.log_every == 0 or self.state.step == max_steps:
                            now = time.perf_counter()
                            last_logs = {k: v / count for k, v in sums.items()}
                            rate = (self.state.step - last_log_step) / max(now - last_log_time, 1e-9)
                            row = {"step": self.state.step, "kind": "train", "time": round(self.state.elapsed, 3), "lr": lr, **last_logs}
                            row |= {f"grad_norm/{k}": v for k, v in stepper.last_norms.items()}
                            row["steps_per_s"] = rate
                            row["samples_per_s"] = rate * self.train.batch_size * self.dist.world_size
                            if stepper.non_finite:
                                row["non_finite_grads"] = stepper.non_finite
                            self.log.write(row)
                            bar.update(self.state.step, last_logs.get("loss", float("nan")), rate)
                            sums.clear()
                            count, last_log_time, last_log_step = 0, now, self.state.step
                        if self.train.eval_every and self.state.step % self.train.eval_every == 0:
                            self.periodic_eval()
                        if self.state.step % self.train.checkpoint_every == 0:
                            self.save(stepper)
                        out_of_time = self.train.max_minutes is not None and self.state.elapsed >= 60 * self.train.max_minutes
                        if dist_utils.all_agree(out_of_time, self.dist, self.device):
                            stopped_by = "max_minutes"
                            break
                        if max_steps is not None and self.state.step >= max_steps:
                            break
                    else:
                        self.state.epoch += 1
                        self.state.batch_in_epoch = 0
                        continue
                    break
            except KeyboardInterrupt:
                stopped_by = "interrupted"
                if self.dist.is_main:
                    bar.note("interrupted: saving a checkpoint; continue with --resume")
        self.save(stepper)
        if stopped_by != "interrupted" and self.evaluate is not None and self.train.eval_every:
            if self.state.step % self.train.eval_every != 0:
                self.periodic_eval()
        dist_utils.barrier(self.dist)
        return TrainResult(self.state.step, self.state.elapsed, last_logs, stopped_by)

    def periodic_eval(self) -> None:
        if self.evaluate is None:
            return
        if self.dist.is_main:
            model = self.ema.module if self.ema is not None else self.method
            was_training = model.training
            model.eval()
            # Evaluation draws its own random numbers; training continues as if it had not run.
            with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []), torch.no_grad():
                t0 = time.perf_counter()
                metrics = self.evaluate(model, self.data, self.config)
                seconds = time.perf_counter() - t0
            model.train(was_training)
            self.log.write({"step": self.state.step, "kind": "eval", "time": round(self.state.elapsed, 3), **metrics, "eval_seconds": seconds})
        dist_utils.barrier(self.dist)

    def close(self) -> None:
        dist_utils.unwrap_ddp(self.method, self.wrapped)
        self.wrapped = []
        dist_utils.shutdown(self.dist)


class _Progress:
    def __init__(self, enabled: bool, total: int | None, start: int):
        self.enabled = enabled
        self.progress = None
        if enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                TextColumn("step {task.completed}" + (f"/{total}" if total else "")),
                BarColumn(),
                TextColumn("loss {task.fields[loss]:.4g}"),
                TextColumn("{task.fields[rate]:.2f} steps/s"),
                TimeElapsedColumn(),
            )
            self.task = self.progress.add_task("train", total=total, completed=start, loss=float("nan"), rate=0.0)

    def update(self, step: int, loss: float, rate: float) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=step, loss=loss, rate=rate)

    def note(self, text: str) -> None:
        if self.progress is not None:
            self.progress.console.print(text)


@contextmanager
def _progress(enabled: bool, total: int | None, start: int):
    p = _Progress(enabled, total, start)
    if p.progress is None:
        yield p
        return
    with p.progress:
        yield p


@contextmanager
def _sigterm_as_interrupt():
    """SIGTERM (e.g. a batch scheduler's time limit) saves a checkpoint like Ctrl-C does."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
