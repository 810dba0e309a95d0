"""A run directory, and the Workflow protocol that turns a run into samples, metrics and a report.

Each data set class names its `domain`; registry.WORKFLOWS maps the domain to a
Workflow. Workflows are wiring: they may import data, methods, metrics and viz.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from gensci.config import ExperimentConfig, load_config
from gensci.data.base import DataSplits
from gensci.methods.base import Method


@dataclass
class SampleOptions:
    n: int | None = None  # how many samples (None: the workflow's default)
    input: Path | None = None  # user file to transform (e.g. traces to denoise)
    out: Path | None = None  # where to write (None: RUN/samples/...)
    steps: int | None = None  # sampling steps for diffusion
    chain: bool = False  # write a denoising trajectory instead of samples
    until_stable: bool = False  # with chain: retry until the final molecule is stable
    class_label: int | None = None  # class-conditional sampling
    seed: int = 0
    batch_size: int | None = None


@dataclass
class EvalOptions:
    n: int | None = None
    steps: int | None = None
    seed: int = 0
    batch_size: int | None = None


@dataclass
class ReportSection:
    """One block of report.html: a heading, optional prose/HTML, figures (PNG/GIF paths), a metric table."""

    title: str
    text: str = ""
    figures: list[Path] = field(default_factory=list)
    table: dict[str, Any] | None = None
    columns: list[str] | None = None  # for a table whose values are rows (dict of dicts)


class Run:
    """A run directory: config.yaml, metrics.jsonl, checkpoints/, samples/, figures/, report.html."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not (self.path / "config.yaml").exists():
            raise FileNotFoundError(f"{self.path} is not a run directory (no config.yaml)")

    @cached_property
    def config(self) -> ExperimentConfig:
        return load_config(self.path / "config.yaml")

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def samples_dir(self) -> Path:
        return _mkdir(self.path / "samples")

    @property
    def figures_dir(self) -> Path:
        return _mkdir(self.path / "figures")

    @cached_property
    def data(self) -> DataSplits:
        return load_data(self.config)

    def history(self) -> list[dict]:
        f = self.path / "metrics.jsonl"
        if not f.exists():
            return []
        return [json.loads(line) for line in f.read_text().splitlines() if line.strip()]

    def method(self, ema: bool = True, device: str | torch.device | None = None) -> Method:
        """The trained method from the last checkpoint (EMA weights when the run kept them), in eval mode."""
        from gensci.train.checkpoint import load_checkpoint
        from gensci.train.devices import resolve_device

        ckpt = load_checkpoint(self.checkpoints / "last.pt")
        method = build_method(self.config, ckpt["info"])
        state = ckpt["ema"] if ema and ckpt.get("ema") is not None else ckpt["method"]
        method.load_state_dict(state)
        return method.to(resolve_device(device or self.config.train.device)).eval()

    @property
    def workflow(self) -> "Workflow":
        return workflow_for(self.config)


class Workflow:
    """Per-domain wiring. Subclasses override what their domain supports."""

    domain: str = ""

    def prepare(self, data: DataSplits, config: ExperimentConfig) -> None:
        """One-off work before training (e.g. a reference network), kept out of the time budget."""

    def periodic_eval(self, method: Method, data: DataSplits, config: ExperimentConfig) -> dict[str, float]:
        """Quick measurements logged during training (on the EMA method); keep it to seconds."""
        return {}

    def sample(self, run: Run, options: SampleOptions) -> list[Path]:
        raise NotImplementedError(f"sampling is not available for {self.domain} runs")

    def evaluate(self, run: Run, options: EvalOptions) -> dict[str, Any]:
        raise NotImplementedError(f"evaluation is not available for {self.domain} runs")

    def report(self, run: Run, metrics: dict[str, Any]) -> list[ReportSection]:
        """Report sections beyond the common ones (config, loss curves), figures written to run.figures_dir."""
        return []

    def headline(self, metrics: dict[str, Any]) -> dict[str, Any]:
        """The few figures `gensci demo` prints."""
        return metrics

    def compare_table(self, runs: list["Run"], metrics: list[dict]) -> ReportSection:
        """`gensci compare`: one row per run, the scalar measurements as columns."""
        rows = {r.path.name: {k: v for k, v in m.items() if not isinstance(v, (dict, list))} for r, m in zip(runs, metrics)}
        columns = list(dict.fromkeys(c for row in rows.values() for c in row))
        return ReportSection("Runs side by side", table=rows, columns=columns)

    def compare_sections(self, runs: list["Run"], metrics: list[dict], out_dir: Path | None = None) -> list[ReportSection]:
        """Figures for `gensci compare` beyond the table."""
        return []


def load_data(config: ExperimentConfig) -> DataSplits:
    from gensci.registry import DATASETS

    return DATASETS.get(config.data.name).load(config.data)


def build_method(config: ExperimentConfig, info: dict[str, Any]) -> Method:
    from gensci.registry import METHODS

    return METHODS.get(config.method.name)(config.method, info)


def workflow_for(config: ExperimentConfig) -> Workflow:
    from gensci.registry import DATASETS, WORKFLOWS

    return WORKFLOWS.get(DATASETS.get(config.data.name).domain)()


def _mkdir(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p
