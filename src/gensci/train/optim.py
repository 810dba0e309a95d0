"""The trainer's side of an optimiser update: backward, clipping, step, learning-rate schedule."""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import torch

from gensci.config import TrainConfig


class AdaptiveClipper:
    """Clip to 1.5 x mean + 2 x std of the last 50 gradient norms.

    As in the EDM reference code (ehoogeboom/e3_diffusion_for_molecules, utils.py `gradient_clipping`):
    the queue starts with one large value (3000) that is soon flushed, and a clipped
    step records the threshold, not the raw norm.
    """

    def __init__(self, history: list[float] | None = None, size: int = 50):
        self.norms = deque(history if history else [3000.0], maxlen=size)

    def threshold(self) -> float:
        q = np.asarray(self.norms)
        return float(1.5 * q.mean() + 2 * q.std())

    def record(self, norm: float, threshold: float) -> None:
        self.norms.append(min(norm, threshold))


class TrainerStepper:
    """Implements methods.base.Stepper for the trainer: zero grads, backward, clip, step."""

    def __init__(self, optimizers: dict[str, torch.optim.Optimizer], train: TrainConfig, clip_state: dict | None = None):
        self.optimizers = optimizers
        self.grad_clip = train.grad_clip
        clip_state = clip_state or {}
        self.clippers = {name: AdaptiveClipper(clip_state.get(name)) for name in optimizers} if train.grad_clip == "adaptive" else {}
        self.last_norms: dict[str, float] = {}
        self.non_finite = 0

    def step(self, loss: torch.Tensor, optimizer: str = "main") -> float:
        if optimizer not in self.optimizers:
            raise KeyError(f"unknown optimiser {optimizer!r}; the method defines {list(self.optimizers)}")
        value = float(loss.detach())
        if not math.isfinite(value):
            raise FloatingPointError(f"loss for optimiser {optimizer!r} is {value}; stopping rather than training on it")
        opt = self.optimizers[optimizer]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        params = [p for g in opt.param_groups for p in g["params"] if p.grad is not None]
        if self.grad_clip == "none":
            norm = float(torch.nn.utils.get_total_norm([p.grad for p in params])) if params else 0.0
        elif self.grad_clip == "adaptive":
            clipper = self.clippers[optimizer]
            limit = clipper.threshold()
            norm = float(torch.nn.utils.clip_grad_norm_(params, limit))
            clipper.record(norm, limit)
        else:
            norm = float(torch.nn.utils.clip_grad_norm_(params, float(self.grad_clip)))
        if not math.isfinite(norm):
            # Counted and logged, and this update is skipped: never step on NaN gradients.
            self.non_finite += 1
            opt.zero_grad(set_to_none=True)
            return value
        self.last_norms[optimizer] = norm
        opt.step()
        return value

    def clip_state(self) -> dict[str, list[float]]:
        return {name: list(c.norms) for name, c in self.clippers.items()}


def lr_factor(step: int, train: TrainConfig, time_spent: float = 0.0) -> float:
    """Linear warm-up, then constant or cosine decay to zero where the budget ends: at max_steps, or when
    `time_spent` (the fraction of max_minutes used) reaches 1, whichever comes first."""
    if train.warmup_steps and step < train.warmup_steps:
        return (step + 1) / train.warmup_steps
    if train.lr_schedule != "cosine":
        return 1.0
    progress = time_spent
    if train.max_steps:
        progress = max(progress, (step - train.warmup_steps) / max(1, train.max_steps - train.warmup_steps))
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def set_lr(optimizers: dict[str, torch.optim.Optimizer], factor: float) -> float:
    lr = 0.0
    for opt in optimizers.values():
        for group in opt.param_groups:
            group.setdefault("initial_lr", group["lr"])
            group["lr"] = group["initial_lr"] * factor
            lr = group["lr"]
    return lr
