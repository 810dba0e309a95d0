"""A tiny regression data set and method: exercises the trainer in seconds.

`register_toy()` adds them to the registries (as a user would add their own):
data set "toy", method "toy", domain "toy" (the base Workflow: nothing to plot).
"""

from __future__ import annotations

import time
from typing import Literal

import torch
from torch import nn

from gensci.config import DataConfig, MethodConfig
from gensci.data.base import DataSplits, TensorDictDataset
from gensci.methods.base import Method
from gensci.spec import DataSpec, Requirements, TensorSpec


class ToyDataConfig(DataConfig):
    name: Literal["toy"] = "toy"
    n: int = 512
    dim: int = 8


class ToyData:
    """y = x·w + 0.1 noise, x ~ N(0, I): items {"input": [dim], "target": [1]}."""

    Config = ToyDataConfig

    @classmethod
    def spec(cls, config: ToyDataConfig) -> DataSpec:
        return DataSpec("toy", {"input": TensorSpec((config.dim,)), "target": TensorSpec((1,))}, frozenset({"dim"}))

    @classmethod
    def load(cls, config: ToyDataConfig) -> DataSplits:
        g = torch.Generator().manual_seed(config.seed)
        x = torch.randn(config.n, config.dim, generator=g)
        y = x @ torch.randn(config.dim, 1, generator=g) + 0.1 * torch.randn(config.n, 1, generator=g)
        ds = TensorDictDataset({"input": x, "target": y})
        return DataSplits(ds, ds, ds, {"dim": config.dim})


class ToyConfig(MethodConfig):
    name: Literal["toy"] = "toy"
    hidden: int = 16
    delay_s: float = 0.0  # sleep per step, so a test can kill a run mid-way
    nan_at_step: int | None = None  # from this step on the loss is NaN (a diverging run, for tests)
    bug_at_step: int | None = None  # at this step train_step raises a KeyError (a programming error, for tests)


class ToyNet(nn.Module):
    """A two-layer MLP with its own forward (torch.compile skips the frames of torch.nn's containers: a compiled
    nn.Sequential would run eagerly and tests of compiled training would prove nothing)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(dim, hidden), nn.SiLU(), nn.Linear(hidden, 1))

    def forward(self, x):
        return self.layers(x)


class Toy(Method):
    """A two-layer MLP regressor trained with the mean squared error."""

    Config = ToyConfig
    capabilities = frozenset()

    @classmethod
    def requires(cls, config: ToyConfig) -> Requirements:
        return Requirements({"input": TensorSpec(("D",)), "target": TensorSpec((1,))}, frozenset({"dim"}))

    def __init__(self, config: ToyConfig, info: dict):
        super().__init__(config, info)
        self.net = ToyNet(info["dim"], config.hidden)

    def train_step(self, batch, step, opt):
        if self.config.delay_s:
            time.sleep(self.config.delay_s)
        if self.config.bug_at_step is not None and step >= self.config.bug_at_step:
            raise KeyError("a bug inside the method")
        loss = (self.net(batch["input"]) - batch["target"]).pow(2).mean()
        if self.config.nan_at_step is not None and step >= self.config.nan_at_step:
            loss = loss * float("nan")
        return {"loss": opt.step(loss)}


def register_toy() -> None:
    from gensci.registry import DATASETS, METHODS, WORKFLOWS

    DATASETS.register("toy", "gensci.testing.toy:ToyData", "tiny regression toy (tests)")
    METHODS.register("toy", "gensci.testing.toy:Toy", "tiny MLP regressor (tests)")
    WORKFLOWS.register("toy", "gensci.workflows.base:Workflow", "nothing to plot")


def toy_config(**train) -> dict:
    """A raw config dict for the toy, with train-section overrides."""
    return {
        "name": "toy",
        "data": {"name": "toy"},
        "method": {"name": "toy"},
        "train": {"batch_size": 32, "max_steps": 20, "log_every": 5, "checkpoint_every": 5, "lr": 1e-2, "progress": False, **train},
    }
