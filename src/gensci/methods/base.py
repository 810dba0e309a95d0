"""The Method protocol: what every generative method provides to the trainer and the CLI.

A method is an `nn.Module` that knows its objective and its sampler. The trainer
(train/) sees only this interface, never a concrete method:

- `Config`: the method's config class (a `gensci.config.MethodConfig` with `name: Literal[...]`).
- `__init__(config, info)`: builds the networks from hyper-parameters and the data
  set's plain metadata `info` (shapes, class count, histograms...). No data, no device.
- `optimizers(train)`: the optimisers by name (default: one AdamW called "main").
- `train_step(batch, step, opt) -> dict[str, float]`: one training step. It calls
  `opt.step(loss, name)` for each optimiser update, so a GAN's critic loop lives here
  while the trainer still owns backward, gradient clipping, precision and DDP.
- `sample(n, condition=None, generator=None) -> dict[str, Tensor]`: draws n samples.
- optional: `chain(...)`, `encode/decode`, `denoise`, `log_likelihood`, listed in
  `capabilities` so callers ask instead of guessing.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

import torch
from torch import Tensor, nn

from gensci.config import MethodConfig, TrainConfig


class Stepper(Protocol):
    """Handed to `train_step` by the trainer: `step(loss, "main")` = zero grads,
    backward, clip, optimiser step (plus DDP gradient averaging when distributed)."""

    def step(self, loss: Tensor, optimizer: str = "main") -> float: ...


class Method(nn.Module):
    Config: ClassVar[type[MethodConfig]] = MethodConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"sample"})

    def __init__(self, config: MethodConfig, info: dict[str, Any]):
        super().__init__()
        self.config = config
        self.info = info

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def optimizers(self, train: TrainConfig) -> dict[str, torch.optim.Optimizer]:
        return {"main": adamw(self.parameters(), train)}

    def train_step(self, batch: dict[str, Tensor], step: int, opt: Stepper) -> dict[str, float]:
        raise NotImplementedError

    def sample(self, n: int, condition: Tensor | None = None, generator: torch.Generator | None = None):
        raise NotImplementedError(f"{type(self).__name__} does not sample")


def adamw(params, train: TrainConfig, lr: float | None = None, betas: tuple[float, float] | None = None):
    return torch.optim.AdamW(
        params, lr=lr or train.lr, betas=betas or train.betas, weight_decay=train.weight_decay
    )


def to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: v.to(device, non_blocking=True) if isinstance(v, Tensor) else v for k, v in batch.items()}
