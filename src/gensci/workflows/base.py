"""A run directory, and the Workflow protocol that turns a run into samples, metrics and a report.

Each data set's `spec(config)` names its domain; registry.WORKFLOWS maps the domain to a Workflow.
A workflow asks a method what it can do through `capabilities` and passes sampling options with the
call (`SamplingOptions`); it never reads or rewrites a method's config. Workflows are wiring: they
may import data, methods, metrics and viz.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from gensci.config import ExperimentConfig, load_config
from gensci.data.base import DataSplits, ranges_as_info
from gensci.errors import UserError
from gensci.methods.base import Method, SamplingOptions
from gensci.spec import DataSpec, check_fit
from gensci.viz.report import ReportSection

__all__ = ["EvalOptions", "ReportSection", "Run", "SampleOptions", "Workflow", "build_method", "check_run_fits",
           "data_spec", "load_data", "workflow_for"]


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
    sampler: str | None = None  # a sampler name from the diffusion toolkit
    max_tries: int = 100  # with until_stable: give up after this many chains
    checkpoint: str = "auto"  # "best", "last", or "auto" (best when the run kept one)
    guidance: float | None = None  # classifier-free guidance scale (conditional diffusion)
    mask: Path | None = None  # with input: observed pixels (1) of the input images; posterior samples fill the rest
    measurement_noise: float | None = None  # with input: the measurement noise std in the data's units
    prototype: str | None = None  # SMILES models: variations of this molecule
    optimize: str | None = None  # SMILES models: latent optimisation of this property
    search: str = "gradient"  # with optimize: "gradient" (ascent on the property head) or "bo" (Bayesian optimisation)

    def sampling(self) -> SamplingOptions:
        return SamplingOptions(self.steps, self.sampler, self.batch_size, self.guidance)


@dataclass
class EvalOptions:
    n: int | None = None
    steps: int | None = None
    seed: int = 0
    batch_size: int | None = None
    sampler: str | None = None
    checkpoint: str = "auto"
    guidance: float | None = None
    input: Path | None = None  # with mask: complete maps for an inpainting benchmark (gensci.workflows.inpainting)
    mask: Path | None = None  # with input: the observed pixels (1)
    measurement_noise: float | None = None  # with input: the measurement noise std in the data's units

    def sampling(self, eval_config=None) -> SamplingOptions:
        """Options given here, else the run's eval section (sampling_steps, batch_size)."""
        steps = self.steps or (eval_config.sampling_steps if eval_config is not None else None)
        batch = self.batch_size or (eval_config.batch_size if eval_config is not None else None)
        return SamplingOptions(steps, self.sampler, batch, self.guidance)


class Run:
    """A run directory: config.yaml, metrics.jsonl, checkpoints/, samples/, figures/, report.html."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not (self.path / "config.yaml").exists():
            raise UserError(f"{self.path} is not a run directory (no config.yaml); give a run made by `gensci train`")

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
        """The data splits (loaded on first use: evaluation needs them, sampling does not)."""
        return load_data(self.config)

    @cached_property
    def spec(self) -> DataSpec:
        return data_spec(self.config)

    @cached_property
    def info(self) -> dict[str, Any]:
        """The data set's plain metadata the method was built from (stored with the weights)."""
        from gensci.train.checkpoint import load_checkpoint

        return load_checkpoint(self.checkpoint_path())["info"]

    def history(self) -> list[dict]:
        f = self.path / "metrics.jsonl"
        if not f.exists():
            return []
        return [json.loads(line) for line in f.read_text().splitlines() if line.strip()]

    def checkpoint_path(self, which: str = "auto") -> Path:
        """checkpoints/best.pt (kept by periodic evaluation) or last.pt; "auto": best when it exists."""
        if which not in ("auto", "best", "last"):
            raise UserError(f"--checkpoint {which!r}: expected best, last or auto")
        best, last = self.checkpoints / "best.pt", self.checkpoints / "last.pt"
        if which == "best" and not best.exists():
            raise UserError(f"{self.path} has no best.pt (kept only when training evaluates periodically); "
                            "use --checkpoint last")
        return best if which == "best" or (which == "auto" and best.exists()) else last

    def method(self, ema: bool = True, device: str | torch.device | None = None, checkpoint: str = "auto") -> Method:
        """The trained method from a checkpoint (EMA weights when the run kept them), in eval mode.
        `self.loaded_from` then says which checkpoint (file, step) it came from."""
        from gensci.train.checkpoint import load_checkpoint
        from gensci.train.devices import resolve_device

        path = self.checkpoint_path(checkpoint)
        ckpt = load_checkpoint(path)
        method = build_method(self.config, ckpt["info"])
        state = ckpt["ema"] if ema and ckpt.get("ema") is not None else ckpt["method"]
        method.load_state_dict(state)
        step = (ckpt.get("state") or {}).get("step")
        self.loaded_from = f"{path.relative_to(self.path)}" + (f" (step {step})" if step is not None else "")
        return method.to(resolve_device(device or self.config.train.device)).eval()

    @cached_property
    def workflow(self) -> "Workflow":
        return workflow_for(self.config)


class Workflow:
    """Per-domain wiring. Subclasses override what their domain supports."""

    domain: str = ""

    def __init__(self) -> None:
        self.messages: list[str] = []  # what the command line should tell the user (one line each)

    def prepare(self, data: DataSplits, config: ExperimentConfig) -> None:
        """One-off work before training (e.g. a reference network), kept out of the time budget."""

    def periodic_eval(self, method: Method, data: DataSplits, config: ExperimentConfig) -> dict[str, float]:
        """Quick measurements logged during training (on the EMA method); keep it to seconds."""
        return {}

    def selection(self, config: ExperimentConfig) -> tuple[str, str] | None:
        """(metric of periodic_eval, "min" | "max") by which training keeps checkpoints/best.pt, or None."""
        return None

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


def data_spec(config: ExperimentConfig) -> DataSpec:
    """What the configured data set provides (cheap: nothing is loaded)."""
    from gensci.registry import DATASETS

    return DATASETS.get(config.data.name).spec(config.data)


def check_run_fits(config: ExperimentConfig) -> None:
    """The method's requirements against the data set's spec: a ContractError line naming the key."""
    from gensci.registry import METHODS

    method_cls = METHODS.get(config.method.name)
    check_fit(data_spec(config), method_cls.requires(config.method), config.data.name, config.method.name)


def load_data(config: ExperimentConfig) -> DataSplits:
    """The data splits with their spec attached and their value ranges in info["value_ranges"]."""
    from gensci.registry import DATASETS

    spec = data_spec(config)
    splits = DATASETS.get(config.data.name).load(config.data)
    splits.spec = spec
    if spec.ranges:
        splits.info = {**splits.info, "value_ranges": ranges_as_info(spec)}
    return splits


def build_method(config: ExperimentConfig, info: dict[str, Any]) -> Method:
    from gensci.registry import METHODS

    return METHODS.get(config.method.name)(config.method, info)


def workflow_for(config: ExperimentConfig) -> Workflow:
    from gensci.registry import WORKFLOWS

    return WORKFLOWS.get(data_spec(config).domain)()


def _mkdir(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p
