"""Exponential moving average of the weights, via torch.optim.swa_utils.AveragedModel."""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel


def ema_model(model: nn.Module, decay: float, warmup: bool) -> AveragedModel:
    """EMA copy of `model` (parameters and buffers).

    With warm-up the decay at update n is min(decay, (1 + n) / (10 + n)), so a short run's
    EMA is not dominated by the random initial weights (the schedule of
    tensorflow's ExponentialMovingAverage with num_updates).
    """

    @torch.no_grad()
    def update(ema_params, params, n_averaged):
        n = float(n_averaged)
        d = min(decay, (1 + n) / (10 + n)) if warmup else decay
        floats = [(e, p) for e, p in zip(ema_params, params) if e.is_floating_point()]
        if floats:
            torch._foreach_lerp_([e for e, _ in floats], [p.detach() for _, p in floats], 1 - d)
        for e, p in zip(ema_params, params):
            if not e.is_floating_point():
                e.copy_(p)

    ema = AveragedModel(model, multi_avg_fn=update, use_buffers=True)
    ema.module.eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    return ema
