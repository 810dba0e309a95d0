"""A minimal Stepper for exercising a method's train_step without the trainer."""

from __future__ import annotations

import torch


class SimpleStepper:
    def __init__(self, optimizers: dict[str, torch.optim.Optimizer]):
        self.optimizers = optimizers

    def step(self, loss: torch.Tensor, optimizer: str = "main") -> float:
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss is {loss.item()} for optimiser {optimizer!r}")
        opt = self.optimizers[optimizer]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return float(loss.detach())
