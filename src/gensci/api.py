"""The Python API: what the CLI wires together, callable from a notebook.

    from gensci import api
    run, result = api.train("radio-dae", out="runs/radio", max_minutes=5)
    metrics = api.evaluate(run)
    html = api.report(run, metrics)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gensci.config import ExperimentConfig, load_config, with_overrides
from gensci.errors import ConfigError, UserError
from gensci.files import atomic_write
from gensci.progress import Progress
from gensci.train.checkpoint import checkpoint_candidates
from gensci.train.lock import run_lock
from gensci.train.trainer import Trainer, TrainResult
from gensci.viz.report import ReportSection
from gensci.workflows.base import (EvalOptions, Run, SampleOptions, build_method, check_run_fits, load_data,
                                   workflow_for)
from gensci.workflows.shipped import open_run


def resolve_config(
    target: str | Path | ExperimentConfig,
    overrides: list[str] = (),
    seed: int | None = None,
    max_steps: int | None = None,
    max_minutes: float | None = None,
) -> ExperimentConfig:
    """A preset name, YAML file, run directory or config object with the `key=value` overrides, seed and budgets
    applied, validated. A config object is copied, never changed in place."""
    extra = list(overrides)
    if max_steps is not None:
        extra.append(f"train.max_steps={max_steps}")
    if max_minutes is not None:
        extra.append(f"train.max_minutes={max_minutes}")
    if isinstance(target, ExperimentConfig):
        return with_overrides(target.model_dump(mode="json"), extra, seed, f"config {target.name!r}")
    return load_config(target, extra, seed)


def train(
    target: str | Path | ExperimentConfig,
    out: str | Path | None = None,
    resume: bool = False,
    overrides: list[str] = (),
    seed: int | None = None,
    max_steps: int | None = None,
    max_minutes: float | None = None,
    progress: bool | None = None,
) -> tuple[Run, TrainResult]:
    """Train a preset, YAML file or config into a run directory (resuming it when asked)."""
    if not isinstance(target, ExperimentConfig):
        is_run = Path(target).is_dir() and (Path(target) / "config.yaml").exists()
        if resume and is_run and out is None:
            out = target
    config = resolve_config(target, overrides, seed, max_steps, max_minutes)
    if progress is not None:
        config.train.progress = progress
    run_dir = Path(out) if out is not None else Path("runs") / config.name
    check_run_fits(config)  # before anything is loaded or created: a mismatch is one line naming the key
    with run_lock(run_dir):  # one training per run directory at a time (gensci.train.lock)
        return _train_locked(config, run_dir, resume)


def _train_locked(config: ExperimentConfig, run_dir: Path, resume: bool) -> tuple[Run, TrainResult]:
    existing = checkpoint_candidates(run_dir / "checkpoints")
    if resume and not existing:
        raise ConfigError(f"--resume: {run_dir} has no checkpoint to resume from")
    if not resume and existing:
        raise ConfigError(f"{run_dir} already holds a trained run; pass --resume to continue it or --out for a new one")
    with Progress(f"preparing {config.name} (data, references):", stages=True, enabled=config.train.progress):
        data = load_data(config)  # simulators, parsing, caches: minutes the first time
        workflow = workflow_for(config)
        workflow.prepare(data, config)
    trainer = Trainer(config, run_dir, lambda info: build_method(config, info), data, workflow.periodic_eval,
                      select=workflow.selection(config))
    if trainer.dist.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        for sub in ("checkpoints", "samples", "figures"):
            (run_dir / sub).mkdir(exist_ok=True)
        atomic_write(run_dir / "config.yaml", config.to_yaml())
    try:
        result = trainer.fit(resume=resume)
    finally:
        trainer.close()
    return Run(run_dir), result


def evaluate(run: Run | str | Path, options: EvalOptions | None = None, save: bool = True) -> dict[str, Any]:
    """Measure a run (a run directory, or the name of shipped weights)."""
    run = run if isinstance(run, Run) else open_run(run)
    options = options or EvalOptions()
    with _heartbeat("evaluate", run):
        metrics = run.workflow.evaluate(run, options)
    metrics["verdicts"] = verdicts_of(run, metrics, inpainting=options.mask is not None)
    if save:  # an inpainting benchmark (--input --mask) is kept apart from the run's sample evaluation
        name = "inpainting.json" if options.mask is not None else "evaluation.json"
        atomic_write(run.out / name, json.dumps(metrics, indent=2))
    return metrics


def sample(run: Run | str | Path, options: SampleOptions | None = None) -> list[Path]:
    """Draw samples from a run (a run directory, or the name of shipped weights)."""
    run = run if isinstance(run, Run) else open_run(run)
    options = options or SampleOptions()
    if (options.condition or options.atoms is not None) and run.workflow.domain != "molecules":
        given = "--condition" if options.condition else "--atoms"  # never silently ignored by another domain
        raise UserError(f"{given} applies to molecule models; {run.path} is a {run.workflow.domain or 'other'} run")
    with _heartbeat("sample", run):
        return run.workflow.sample(run, options)


def evaluate_conditional(run: Run | str | Path, options: EvalOptions | None = None, conditional=None,
                         save: bool = True) -> dict[str, Any]:
    """EDM's conditional protocol on a property-conditional molecule model (gensci.workflows.conditional); the
    metrics are written to RUN/conditional.json, beside evaluation.json."""
    from gensci.workflows.conditional import RESULT_FILE, ConditionalOptions

    run = run if isinstance(run, Run) else open_run(run)
    with _heartbeat("evaluate", run):
        metrics = run.workflow.evaluate_conditional(run, options or EvalOptions(), conditional or ConditionalOptions())
    if save:
        atomic_write(run.out / RESULT_FILE, json.dumps(metrics, indent=2))
    return metrics


def compare(runs: list[Run | str | Path], out_file: str | Path) -> tuple[ReportSection, Path]:
    """Several runs on the same data side by side: the table, and an HTML page with figures."""
    from gensci.viz.report import page

    opened = [r if isinstance(r, Run) else Run(r) for r in runs]
    metrics = [saved_evaluation(r) or evaluate(r) for r in opened]
    workflow = opened[0].workflow
    table = workflow.compare_table(opened, metrics)
    figures = workflow.compare_sections(opened, metrics, Path(out_file).parent / "compare_figures")
    atomic_write(out_file, page("gensci: comparison", ", ".join(r.path.name for r in opened), [table, *figures]))
    return table, Path(out_file)


def saved_evaluation(run: Run) -> dict[str, Any] | None:
    f = run.out / "evaluation.json"
    return json.loads(f.read_text()) if f.exists() else None


def report(run: Run | str | Path, metrics: dict[str, Any] | None = None) -> Path:
    """Write RUN/report.html (figures in RUN/figures and embedded) and return its path."""
    from gensci.viz.report import write_run_report

    run = run if isinstance(run, Run) else open_run(run)
    metrics = metrics if metrics is not None else saved_evaluation(run)
    if metrics is None:
        metrics = evaluate(run)
    from gensci.workflows.inpainting import inpainting_section

    with _heartbeat("report", run):
        sections = [run.workflow.verdict(metrics), *run.workflow.report(run, metrics), *inpainting_section(run)]
        return write_run_report(run, metrics, sections)


def _heartbeat(command: str, run: Run) -> Progress:
    """Off a terminal, "evaluate NAME: 0:00:20 elapsed" every 10 s while no inner task (sampling, a metric pass)
    reports: no command stays silent for longer (gensci.progress)."""
    return Progress(f"{command} {getattr(run, 'name', run.path.name)}:", stages=True)


def verdicts_of(run: Run, metrics: dict[str, Any], inpainting: bool = False) -> dict[str, dict[str, Any]]:
    """{name: {"verdict", "ok", "reason"}}: the workflow's judgements of an evaluation (or of an inpainting
    benchmark), each with its reason, for evaluation.json and `gensci evaluate --json`."""
    from gensci.workflows.inpainting import inpainting_verdicts

    found = inpainting_verdicts(metrics) if inpainting else run.workflow.verdicts(metrics)
    return {v.name: v.as_json() for v in found}
