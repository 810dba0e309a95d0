"""A run directory, and the Workflow protocol that turns a run into samples, metrics and a report.

Each data set's `spec(config)` names its domain; registry.WORKFLOWS maps the domain to a Workflow.
A workflow asks a method what it can do through `capabilities` and passes sampling options with the
call (`SamplingOptions`); it never reads or rewrites a method's config. Workflows are wiring: they
may import data, methods, metrics and viz.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from gensci.config import EvalConfig, ExperimentConfig, load_config
from gensci.data.base import DataSplits, ranges_as_info
from gensci.errors import UserError
from gensci.methods.base import Method, SamplingOptions
from gensci.spec import DataSpec, check_fit
from gensci.viz.report import Headline, ReportSection, Verdict, verdict_section

__all__ = ["EvalOptions", "Headline", "ReportSection", "Run", "SampleOptions", "Verdict", "Workflow", "build_method",
           "check_run_fits", "data_spec", "eval_sampling", "evaluation_name", "load_data",
           "periodic_sampling", "workflow_for"]


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
    condition: dict[str, float] | None = None  # property-conditional molecules: property -> value (others marginalised)
    atoms: int | None = None  # molecules: the atom count of every sample (default: drawn, from p(M | c) given a condition)

    def __post_init__(self) -> None:
        if self.until_stable and not self.chain:  # it retries chains: without one it would be silently ignored
            raise UserError("--until-stable retries the denoising chain until its molecule is stable: give --chain too")

    def sampling(self) -> SamplingOptions:
        """What the call gives; None leaves the method's own default (method.sampling_steps, method.sampler)."""
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

    def sampling(self, eval_config: EvalConfig | None = None) -> SamplingOptions:
        """Options given here, else the run's eval overrides where set (eval_sampling)."""
        given = SamplingOptions(self.steps, self.sampler, self.batch_size, self.guidance)
        return given if eval_config is None else eval_sampling(eval_config, given)


def eval_sampling(eval_config: EvalConfig, given: SamplingOptions | None = None) -> SamplingOptions:
    """How `evaluate`, the report and periodic evaluation sample: what the call gives (--steps, --sampler,
    --batch-size, --guidance), else the run's eval overrides where set (eval.sampling_steps, eval.sampler),
    else None, i.e. the method's own default (method.sampling_steps, method.sampler), which is also what
    `gensci sample` uses. One place for the rule, so they never drift apart."""
    given = given or SamplingOptions()
    return SamplingOptions(_first(given.steps, eval_config.sampling_steps), _first(given.sampler, eval_config.sampler),
                           _first(given.batch_size, eval_config.batch_size), given.guidance)


def periodic_sampling(method: Method, eval_config: EvalConfig) -> SamplingOptions:
    """Periodic evaluation's sampling: as evaluate's (eval_sampling), with at most eval.periodic_sampling_steps
    steps when that is set (quick evaluations while training, e.g. 100 strided steps of EDM's 1000)."""
    options = eval_sampling(eval_config)
    cap = eval_config.periodic_sampling_steps
    if cap is None or "steps" not in method.sampling_options:
        return options
    steps = method.describe_sampling(options).get("sampling_steps")
    return replace(options, steps=min(cap, int(steps)) if steps else cap)


def evaluation_name(n: int, described: dict, seed: int, suffix: str, checkpoint: str | None = None) -> str:
    """A per-evaluation output name: the checkpoint (best, last, a shipped name), n, the method's sampling
    description and the seed, so two evaluations of one run never overwrite each other's samples."""
    parts = ["evaluation", checkpoint, f"n{n}", described.get("sampler"), described.get("sampling_steps") and
             f"steps{described['sampling_steps']}", f"seed{seed}"]
    # sampler descriptions may hold spaces and brackets: keep file names to letters, digits, '.', '_', '-'
    return "_".join(re.sub(r"[^A-Za-z0-9._]+", "-", str(p)).strip("-") for p in parts if p) + suffix


def _first(*values):
    return next((v for v in values if v is not None), None)


class Run:
    """A run directory: config.yaml, metrics.jsonl, checkpoints/, samples/, figures/, report.html.

    `out`: where evaluation.json, samples/ and figures/ are written (default: the run directory itself), so that
    a command given `--out` writes there and nowhere else."""

    def __init__(self, path: str | Path, out: str | Path | None = None):
        self.path = Path(path)
        self.out = Path(out) if out is not None else self.path
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
        return _mkdir(self.out / "samples")

    @property
    def figures_dir(self) -> Path:
        return _mkdir(self.out / "figures")

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

    def provenance(self) -> dict[str, Any]:
        """Where the weights come from, for the report's header: source, steps and training_minutes (the last
        training row of metrics.jsonl; its time counts every session of a resumed run)."""
        train = [r for r in self.history() if r.get("kind") == "train"]
        last = train[-1] if train else {}
        minutes = last["time"] / 60 if isinstance(last.get("time"), (int, float)) else None
        return {"source": "training run", "steps": last.get("step"), "training_minutes": minutes}

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
        raise UserError(f"`gensci sample` is not available for {self.domain or 'this'} runs ({run.path})")

    def evaluate(self, run: Run, options: EvalOptions) -> dict[str, Any]:
        raise UserError(f"`gensci evaluate` is not available for {self.domain or 'this'} runs ({run.path})")

    def evaluate_conditional(self, run: Run, options: EvalOptions, conditional) -> dict[str, Any]:
        """`gensci evaluate --conditional` (gensci.workflows.conditional): property-conditional molecule models only."""
        raise UserError(f"--conditional evaluates property-conditional molecule models; {run.path} is a "
                        f"{self.domain or 'other'} run")

    def report(self, run: Run, metrics: dict[str, Any]) -> list[ReportSection]:
        """Report sections beyond the common ones (config, loss curves), figures written to run.figures_dir."""
        return []

    def headline(self, metrics: dict[str, Any]) -> dict[str, Any]:
        """The few figures `gensci demo` prints."""
        return metrics

    # -- the verdict: the report's first section, and the `verdicts` of `gensci evaluate --json` -----------------
    def headlines(self, metrics: dict[str, Any]) -> list[Headline]:
        """The verdict table's rows: the headline figures with their n and interval, beside the data's, baselines'
        and published figures (gensci.workflows.verdicts.measured). Default: `headline` without intervals."""
        return [Headline(k, v) for k, v in self.headline(metrics).items() if not isinstance(v, (dict, list))]

    def verdicts(self, metrics: dict[str, Any]) -> list[Verdict]:
        """The judgements of an evaluation, each with its reason in words. Default: every headline figure with an
        interval against its published figure; domains add their own (mode collapse, bins within 2 sigma, ...)."""
        from gensci.workflows.verdicts import against_published

        return [v for v in map(against_published, self.headlines(metrics)) if v is not None]

    def verdict_text(self, metrics: dict[str, Any]) -> str:
        """What the verdict table was measured on (sample, steps, protocol), in a sentence or two (HTML)."""
        return ""

    def verdict_parts(self, metrics: dict[str, Any]) -> list[ReportSection]:
        """Tables that belong under the verdict (per condition, per temperature)."""
        return []

    def verdict(self, metrics: dict[str, Any]) -> ReportSection:
        """The report's first section: verdicts, headline table, `verdict_parts` (gensci.viz.report)."""
        return verdict_section(self.headlines(metrics), self.verdicts(metrics), self.verdict_text(metrics),
                               self.verdict_parts(metrics))

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
