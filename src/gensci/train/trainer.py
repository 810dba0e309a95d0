"""The training loop shared by every method.

The trainer owns what is around a method's `train_step`: the loop, step and wall-clock
budgets, learning-rate schedule, gradient clipping, bf16 autocast, EMA weights,
progress display, metrics.jsonl, periodic evaluation, atomic checkpoints and exact
resume, seeds, device and torch.distributed. It sees only the Method protocol.
"""

from __future__ import annotations

import math
import signal
import time
from collections import defaultdict
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from torch import nn

from gensci.config import ExperimentConfig
from gensci.data.base import DataSplits
from gensci.errors import CheckpointError, ConfigError, DivergenceError, UserError
from gensci.methods.base import Method, to_device
from gensci.progress import Progress
from gensci.train import distributed as dist_utils
from gensci.train.batches import EpochBatches, fetch
from gensci.train.checkpoint import all_finite, load_checkpoint, load_newest_readable, save_checkpoint
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
    notes: list[str] = field(default_factory=list)


class Trainer:
    """Runs a method's `train_step` over the data: `fit` is a loop over batches, one `_step` each, and
    `_log` / periodic evaluation / checkpoints on their cadence.

    `evaluate(method, data, config) -> metrics` runs at each periodic evaluation on the EMA weights;
    with `select=(metric, "min" | "max")` the checkpoint with the best value is kept as best.pt beside
    last.pt (EDM keeps its best model by validation NLL the same way).
    """

    def __init__(
        self,
        config: ExperimentConfig,
        run_dir: str | Path,
        method_factory: Callable[[dict], Method],
        data: DataSplits,
        evaluate: EvalFn | None = None,
        select: tuple[str, str] | None = None,
    ):
        self.config = config
        self.train = config.train
        self.run_dir = Path(run_dir)
        self.data = data
        self.evaluate = evaluate
        self.select = select
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
        if self.train.compile:
            compile_networks(self.method)
        self.batches = EpochBatches(data.train, self.train.batch_size, config.seed, self.dist.rank, self.dist.world_size)
        if self.dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log = MetricsLog(self.run_dir / "metrics.jsonl", enabled=self.dist.is_main)
        self.state = TrainState()
        self.stepper = TrainerStepper(self.optimizers, self.train)
        self.notes: list[str] = []  # what the user should know (e.g. which checkpoint a resume used)
        torch.manual_seed(config.seed * 1000 + 1 + self.dist.rank)

    # ---- checkpoints -------------------------------------------------------------------
    @property
    def checkpoint_dir(self) -> Path:
        return self.run_dir / "checkpoints"

    @property
    def last_path(self) -> Path:
        return self.checkpoint_dir / "last.pt"

    def _payload(self) -> dict[str, Any]:
        self.state.clip = self.stepper.clip_state()
        self.state.non_finite_grads = self.stepper.non_finite
        return {
            "method": dist_utils.unwrapped_state_dict(self.method, self.wrapped),
            "ema": self.ema.module.state_dict() if self.ema is not None else None,
            "ema_n_averaged": self.ema.n_averaged.clone() if self.ema is not None else None,
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "state": self.state.as_dict(),
            "rng": {"torch": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []},
            "config": self.config.model_dump(mode="json"),
            "info": self.data.info,
        }

    def save(self, best: dict[str, Any] | None = None) -> None:
        """last.pt (+ step_X.pt every keep_every steps; + best.pt with `best` = the selection record).
        Weights that are not finite are never written: the last good checkpoint stays as it was."""
        payload = self._payload()  # on every rank: it records the clipping state
        if not self.dist.is_main:
            return
        if not (all_finite(payload["method"]) and (payload["ema"] is None or all_finite(payload["ema"]))):
            raise DivergenceError(f"the weights became non-finite by step {self.state.step}; not saving them. "
                                  f"{self._last_good()}")
        save_checkpoint(self.last_path, payload)
        if self.train.keep_every and self.state.step % self.train.keep_every == 0:
            save_checkpoint(self.checkpoint_dir / f"step_{self.state.step:08d}.pt", payload)
        if best is not None:
            save_checkpoint(self.checkpoint_dir / "best.pt", payload | {"selection": best})

    def _last_good(self) -> str:
        if self.last_path.exists():
            step = (load_checkpoint(self.last_path).get("state") or {}).get("step")
            return (f"The last good checkpoint is {self.last_path} (step {step}); continue from it with --resume "
                    "and a lower train.lr or train.grad_clip=adaptive.")
        return "No checkpoint was written yet; lower train.lr or set train.grad_clip=adaptive and start again."

    def restore(self) -> None:
        """Load the newest readable checkpoint (last.pt, else the newest step_X.pt), saying which."""
        path, ckpt, problems = load_newest_readable(self.checkpoint_dir)
        if problems:
            self.notes += problems + [f"resuming from {path} (step {ckpt['state']['step']}) instead"]
        self._load_method(ckpt["method"])
        if self.ema is not None and ckpt.get("ema") is not None:
            self.ema.module.load_state_dict(ckpt["ema"])
            self.ema.n_averaged.copy_(ckpt["ema_n_averaged"])
        for name, opt in self.optimizers.items():
            configured = [group.get("initial_lr", group["lr"]) for group in opt.param_groups]
            opt.load_state_dict(ckpt["optimizers"][name])
            for group, lr in zip(opt.param_groups, configured):  # the config's lr, not the saved one, is what a
                group["initial_lr"] = lr                         # --resume --set train.lr=... asks for
        self.state = TrainState(**ckpt["state"])
        self.stepper = TrainerStepper(self.optimizers, self.train, self.state.clip)
        self.stepper.non_finite = self.state.non_finite_grads
        if self.dist.is_main:
            torch.set_rng_state(ckpt["rng"]["torch"])
            if ckpt["rng"]["cuda"] and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(ckpt["rng"]["cuda"])
        else:  # other ranks: rank-specific stream derived from the step
            torch.manual_seed(self.config.seed * 1000 + 1 + self.dist.rank + 7919 * self.state.step)
        self.log.truncate_after(self.state.step)
        self._best_value = self._saved_best()

    def _load_method(self, state: dict[str, torch.Tensor]) -> None:
        """Load an unwrapped state_dict (a checkpoint's "method") into the method, DDP-wrapped or not."""
        if self.wrapped:  # load into the DDP children's modules
            for name in self.wrapped:
                getattr(self.method, name).module.load_state_dict(
                    {k[len(name) + 1 :]: v for k, v in state.items() if k.startswith(name + ".")}
                )
            rest = {k: v for k, v in state.items() if k.split(".")[0] not in self.wrapped}
            self.method.load_state_dict(rest, strict=False)
        else:
            self.method.load_state_dict(state)

    def warm_start(self) -> None:
        """train.init_from: a new run's weights from another run's checkpoint (see warm_start_state), the EMA copy
        from the same weights. The checkpoint's EMA weights are taken where it has them: they are the model that
        run samples and is evaluated with (the raw weights are one noisy step of it), and the EMA continues from
        its averaging count, since the warm-up that forgets random initial weights has nothing to forget here.
        Optimiser state, step counter and schedule start fresh; metrics.jsonl records the source."""
        path = Path(self.train.init_from)
        ckpt = load_checkpoint(path)
        which = "ema" if ckpt.get("ema") is not None else "method"
        target = dist_utils.unwrapped_state_dict(self.method, self.wrapped)
        state = warm_start_state(target, ckpt[which], str(path))
        self._load_method(state)
        if self.ema is not None:
            self.ema.module.load_state_dict(state)
            if which == "ema" and ckpt.get("ema_n_averaged") is not None:
                self.ema.n_averaged.copy_(ckpt["ema_n_averaged"])
        step = (ckpt.get("state") or {}).get("step")
        self.log.write({"step": 0, "kind": "init_from", "init_from": str(path), "init_from_step": step,
                        "init_from_weights": which})
        self.notes.append(f"initialised from {path} (step {step}, its {which} weights)")

    def _saved_best(self) -> float | None:
        best = self.checkpoint_dir / "best.pt"
        if self.select is None or not best.exists():
            return None
        try:
            return float(load_checkpoint(best)["selection"]["value"])
        except (CheckpointError, KeyError, TypeError):
            return None

    # ---- the loop ------------------------------------------------------------------------
    def batches_from_here(self) -> Iterator[dict]:
        """Training batches on the device from the current data position to the end of the budget,
        advancing epochs (the position is saved in every checkpoint)."""
        while True:
            for indices in self.batches.epoch(self.state.epoch, self.state.batch_in_epoch):
                yield to_device(fetch(self.data.train, indices, self.data.collate), self.device)
            self.state.epoch += 1
            self.state.batch_in_epoch = 0

    def fit(self, resume: bool = False) -> TrainResult:
        if self.train.max_steps is None and self.train.max_minutes is None:
            raise ConfigError("no budget: set train.max_steps or train.max_minutes (--max-steps / --max-minutes)")
        self._best_value = None
        if resume:  # a run started with init_from resumes from its own checkpoints
            self.restore()
        elif self.train.init_from:
            self.warm_start()
        self._clock = _Clock(self.state.elapsed, self.state.step)
        self._time_spent = 0.0
        stopped_by = "max_steps"
        # a bar on a terminal, plain lines every 10 s in a log (gensci.progress); --quiet: nothing
        with Progress("step", self.train.max_steps, rate_unit="steps", completed=self.state.step, clock=time.monotonic,
                      enabled=self.dist.is_main and self.train.progress) as bar, sigterm_as_interrupt():
            for note in self.notes:
                bar.note(note)
            self._bar = bar
            try:
                if not self._budget_left():
                    stopped_by = self._why_stopped()
                else:
                    for batch in self.batches_from_here():
                        self._step(batch)
                        if not self._budget_left():
                            stopped_by = self._why_stopped()
                            break
            except KeyboardInterrupt:
                stopped_by = "interrupted"
                if self.dist.is_main:
                    bar.note("interrupted: saving a checkpoint; continue with --resume")
        self.save()
        if stopped_by != "interrupted" and self.evaluate is not None and self.train.eval_every:
            if self.state.step % self.train.eval_every != 0:
                self.periodic_eval()
        dist_utils.barrier(self.dist)
        return TrainResult(self.state.step, self.state.elapsed, self._clock.last_logs, stopped_by, list(self.notes))

    def _budget_left(self) -> bool:
        """Also sets the fraction of the time budget spent (rank 0's clock on every rank), which the cosine
        learning-rate schedule follows when time runs out before max_steps."""
        if self.train.max_minutes is not None:
            elapsed = dist_utils.from_rank0(self.state.elapsed, self.dist, self.device)
            self._time_spent = elapsed / (60 * self.train.max_minutes)
        self._out_of_time = self._time_spent >= 1
        return not self._out_of_time and (self.train.max_steps is None or self.state.step < self.train.max_steps)

    def _why_stopped(self) -> str:
        return "max_minutes" if self._out_of_time else "max_steps"

    def _step(self, batch: dict) -> None:
        """One optimisation step of the method, then the EMA, the log, evaluation and checkpoint cadences."""
        lr = set_lr(self.optimizers, lr_factor(self.state.step, self.train, self._time_spent))
        self.method.train()
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16) if self.train.precision == "bf16" else nullcontext()
        try:
            with autocast:
                logs = self.method.train_step(batch, self.state.step, self.stepper)
        except FloatingPointError as err:
            raise DivergenceError(f"training diverged at step {self.state.step + 1}: {err}. {self._last_good()}") from None
        if self.ema is not None:
            self.ema.update_parameters(self.method)
        self.state.step += 1
        self.state.batch_in_epoch += 1
        self.state.elapsed = self._clock.elapsed()
        self._clock.add(logs)
        self._bar.update(self.state.step)
        if self.state.step % self.train.log_every == 0 or self.state.step == self.train.max_steps:
            self._log(lr)
        if self.train.eval_every and self.state.step % self.train.eval_every == 0:
            self.periodic_eval()
        if self.state.step % self.train.checkpoint_every == 0:
            self.save()

    def _log(self, lr: float) -> None:
        logs, rate = self._clock.flush(self.state.step)
        row = {"step": self.state.step, "kind": "train", "time": round(self.state.elapsed, 3), "lr": lr, **logs}
        row |= {f"grad_norm/{k}": v for k, v in self.stepper.last_norms.items()}
        row["steps_per_s"] = rate
        row["samples_per_s"] = rate * self.train.batch_size * self.dist.world_size
        if self.stepper.non_finite:
            row["non_finite_grads"] = self.stepper.non_finite
        self.log.write(row)
        self._bar.update(self.state.step, loss=logs.get("loss", float("nan")))

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
            self.log.write({"step": self.state.step, "kind": "eval", "time": round(self.state.elapsed, 3), **metrics,
                            "eval_seconds": seconds})
            best = self._improved(metrics)
            if best is not None:
                self.save(best)
        dist_utils.barrier(self.dist)

    def _improved(self, metrics: dict[str, float]) -> dict[str, Any] | None:
        """The selection record when this evaluation beats the best so far (else None)."""
        if self.select is None:
            return None
        key, mode = self.select
        value = metrics.get(key)
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            return None
        better = self._best_value is None or (value < self._best_value if mode == "min" else value > self._best_value)
        if not better:
            return None
        self._best_value = float(value)
        return {"metric": key, "value": float(value), "mode": mode, "step": self.state.step}

    def close(self) -> None:
        dist_utils.unwrap_ddp(self.method, self.wrapped)
        self.wrapped = []
        dist_utils.shutdown(self.dist)


def warm_start_state(target: dict[str, torch.Tensor], source: dict[str, torch.Tensor], origin: str
                     ) -> dict[str, torch.Tensor]:
    """The state_dict `target` (the new model's, for shapes and dtypes) filled from `source` (a checkpoint's): tensors
    of the same shape copied; a tensor of 2+ dimensions whose shape differs only by a larger last dimension (a Linear
    layer's weight with inputs appended at the end) gets the old values in the leading columns and zeros in the new
    ones, so that layer computes what it did, whatever the new inputs are. Anything else (missing, unexpected or
    otherwise mismatched tensors; 1-D tensors, whose length is a layer's width) is a UserError listing them."""
    out, problems = {}, []
    for key, want in target.items():
        have = source.get(key)
        if not isinstance(have, torch.Tensor):
            problems.append(f"{key} missing")
        elif have.shape == want.shape:
            out[key] = have.to(want.dtype)
        elif want.dim() >= 2 and have.dim() == want.dim() and have.shape[:-1] == want.shape[:-1] \
                and have.shape[-1] < want.shape[-1]:
            out[key] = torch.zeros_like(want)
            out[key][..., : have.shape[-1]] = have.to(want.dtype)
        else:
            problems.append(f"{key} {tuple(have.shape)} -> {tuple(want.shape)}")
    problems += [f"{key} unexpected" for key in source if key not in target]
    if problems:
        more = f" and {len(problems) - 8} more" if len(problems) > 8 else ""
        raise UserError(f"train.init_from {origin}: its weights do not fit this model ({len(problems)} tensors: "
                        f"{'; '.join(problems[:8])}{more}); only inputs appended at the end of a layer can be added")
    return out


def compile_networks(method: nn.Module) -> list[str]:
    """torch.compile each direct child holding trainable parameters (DDP-wrapped or not), in place: parameter names,
    state_dict keys and the EMA copy (made before, left eager for sampling) are unchanged. The names compiled."""
    children = dist_utils.trainable_children(method)
    for _, child in children:
        child.compile()
    return [name for name, _ in children]


class _Clock:
    """Training time summed over sessions, and running means of the logged values between log rows."""

    def __init__(self, elapsed_before: float, step: int):
        self.start = time.perf_counter()
        self.before = elapsed_before
        self.sums: dict[str, float] = defaultdict(float)
        self.count = 0
        self.last_time, self.last_step = self.start, step
        self.last_logs: dict[str, float] = {}

    def elapsed(self) -> float:
        return self.before + time.perf_counter() - self.start

    def add(self, logs: dict[str, float]) -> None:
        for k, v in logs.items():
            self.sums[k] += float(v)
        self.count += 1

    def flush(self, step: int) -> tuple[dict[str, float], float]:
        now = time.perf_counter()
        self.last_logs = {k: v / max(self.count, 1) for k, v in self.sums.items()}
        rate = (step - self.last_step) / max(now - self.last_time, 1e-9)
        self.sums.clear()
        self.count, self.last_time, self.last_step = 0, now, step
        return self.last_logs, rate


@contextmanager
def sigterm_as_interrupt():
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
