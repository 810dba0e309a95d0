"""The `gensci` command line: wiring only (config -> data -> method -> trainer -> outputs)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Generative models of scientific data, judged by the data's statistics.")
err = Console(stderr=True, soft_wrap=True)  # an error stays one line, however long
out = Console()

DEMO_WEIGHTS = "qm9-midi"  # shipped weights of the best molecule model


def _fail(message: str, code: int = 2) -> None:
    from rich.markup import escape

    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)  # brackets in a message are text
    raise typer.Exit(code)


def _guard(fn):
    """Turn the project's user errors into one clear line and exit code 2; an outcome that failed (OutcomeError)
    first prints the paths it wrote and exits 1; anything else is a bug and keeps its traceback."""
    import functools

    from gensci.errors import OutcomeError, UserError

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except OutcomeError as e:
            for path in e.paths:
                out.print(str(path))
            _fail(str(e), e.exit_code)
        except UserError as e:
            _fail(str(e))

    return wrapper


@app.command()
def presets() -> None:
    """List the built-in experiments (presets); "weights: shipped" marks those whose trained weights come with
    gensci (`gensci sample NAME`, `gensci evaluate NAME` without training)."""
    import yaml

    from gensci.registry import preset_names, preset_text
    from gensci.workflows.shipped import shipped_names

    shipped = set(shipped_names())
    table = Table("preset", "weights", "description", box=None)
    for name in preset_names():
        table.add_row(name, "shipped" if name in shipped else "",
                      (yaml.safe_load(preset_text(name)) or {}).get("description", ""))
    out.print(table)


@app.command()
def datasets() -> None:
    """List the built-in data sets and loaders."""
    from gensci.registry import DATASETS

    table = Table("dataset", "description", box=None)
    for name in DATASETS.names():
        table.add_row(name, DATASETS.summary(name))
    out.print(table)


@app.command()
@_guard
def train(
    target: str = typer.Argument(..., help="preset name, config YAML, or a run directory (with --resume)"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="run directory (default runs/NAME)"),
    max_steps: Optional[int] = typer.Option(None, help="stop after this many optimisation steps"),
    max_minutes: Optional[float] = typer.Option(None, help="stop after this much training time"),
    seed: Optional[int] = typer.Option(None, help="seed (same seed, same losses on CPU)"),
    set_: list[str] = typer.Option([], "--set", help="override a config field: key=value (e.g. train.lr=3e-4)"),
    resume: bool = typer.Option(False, help="continue the run from its last checkpoint"),
    quiet: bool = typer.Option(False, help="no progress bar"),
) -> None:
    """Train a model; writes config.yaml, metrics.jsonl and checkpoints/ into the run directory."""
    from gensci import api

    run, result = api.train(target, out_dir, resume, set_, seed, max_steps, max_minutes, progress=not quiet)
    if _is_main():
        for note in result.notes:
            err.print(note, highlight=False)
        loss = result.last_logs.get("loss")
        err.print(
            f"trained {result.steps} steps in {result.elapsed / 60:.1f} min (stopped by {result.stopped_by})"
            + (f", loss {loss:.4g}" if loss is not None else "")
        )
        out.print(str(run.path))


@app.command()
@_guard
def sample(
    run: str = typer.Argument(..., help="run directory, or the name of shipped weights (e.g. a preset name)"),
    n: Optional[int] = typer.Option(None, help="number of samples"),
    input: Optional[Path] = typer.Option(None, "--input", help="your own data to transform (e.g. traces to denoise)"),
    out_file: Optional[Path] = typer.Option(None, "--out", help="output file (format from its suffix); nothing else "
                                            "is written. Default: RUN/samples/, or runs/shipped/NAME/samples/ for "
                                            "shipped weights"),
    steps: Optional[int] = typer.Option(None, help="sampling steps (default: the run's method.sampling_steps)"),
    chain: bool = typer.Option(False, help="write the denoising trajectory (PNG strip + GIF)"),
    until_stable: bool = typer.Option(False, help="with --chain: retry until the final molecule is stable; exits 1 "
                                      "(keeping the last chain) when --max-tries chains never are"),
    class_label: Optional[int] = typer.Option(None, "--class", help="class to generate (conditional models)"),
    seed: int = typer.Option(0, help="sampling seed"),
    sampler: Optional[str] = typer.Option(None, help="diffusion sampler (default: the run's method.sampler)"),
    batch_size: Optional[int] = typer.Option(None, help="samples drawn together"),
    max_tries: int = typer.Option(100, help="with --until-stable: give up after this many chains"),
    checkpoint: str = typer.Option("auto", help="best | last | auto (best.pt when the run kept one)"),
    guidance: Optional[float] = typer.Option(None, help="classifier-free guidance (0 unconditional, 1 conditional, "
                                             "> 1 sharper; default: the run's method.guidance)"),
    mask: Optional[Path] = typer.Option(None, "--mask", help="with --input: npz `mask` of observed pixels (1); "
                                        "writes posterior samples filling the rest (DPS)"),
    measurement_noise: Optional[float] = typer.Option(None, help="with --input: measurement noise std (data units)"),
    prototype: Optional[str] = typer.Option(None, help="SMILES models: --n valid variations of this molecule, "
                                            "ranked by similarity"),
    optimize: Optional[str] = typer.Option(None, help="SMILES models: latent optimisation of a property "
                                           "(logp, qed, sa), each molecule re-scored by RDKit"),
    search: str = typer.Option("gradient", help="with --optimize: gradient (ascent on the property head, --n "
                               "molecules) or bo (Gaussian-process Bayesian optimisation of the RDKit score, --n rounds)"),
    condition: list[str] = typer.Option([], "--condition", help="property-conditional molecule models: NAME=VALUE "
                                        "(repeatable, e.g. alpha=73.5 mu=2.0; properties not given are marginalised)"),
    atoms: Optional[int] = typer.Option(None, "--atoms", help="molecules: the atom count of every sample (default: "
                                        "drawn from the training data, given the --condition values)"),
) -> None:
    """Draw samples from a trained run (for a denoiser: denoise the test split or --input; for a diffusion model:
    posterior samples given --input images and their --mask, or super-resolve --input without a mask)."""
    from gensci import api
    from gensci.workflows.base import SampleOptions
    from gensci.workflows.shipped import open_run

    opened = open_run(run)
    options = SampleOptions(n=n, input=input, out=out_file, steps=steps, chain=chain, until_stable=until_stable,
                            class_label=class_label, seed=seed, batch_size=batch_size, sampler=sampler,
                            max_tries=max_tries, checkpoint=checkpoint, guidance=guidance, mask=mask,
                            measurement_noise=measurement_noise, prototype=prototype, optimize=optimize, search=search,
                            condition=_conditions(condition), atoms=atoms)
    paths = api.sample(opened, options)
    _say_checkpoint(opened)
    for message in opened.workflow.messages:
        err.print(message, highlight=False)
    for p in paths:
        out.print(str(p))


@app.command()
@_guard
def evaluate(
    target: Optional[Path] = typer.Argument(None, help="run directory, shipped weights' name, or a molecule file (XYZ/SDF, or .smi: one SMILES per line)"),
    dataset: Optional[str] = typer.Option(None, help="evaluate a built-in data set itself: qm9 (EDM's protocol), "
                                          "qm9-bonds (both protocols), qm9-graph (predicted-bond protocol)"),
    split: str = typer.Option("train", help="with --dataset: train|valid|test"),
    limit: Optional[int] = typer.Option(None, help="with --dataset: a random N molecules of the split (drawn with "
                                        "--seed)"),
    remove_h: bool = typer.Option(False, "--remove-h", help="with --dataset qm9: heavy atoms only"),
    reference: Optional[Path] = typer.Option(None, help="with a molecule file: novelty against this file instead of QM9 train (.smi: instead of the MOSES sets)"),
    n: Optional[int] = typer.Option(None, help="number of samples to evaluate"),
    steps: Optional[int] = typer.Option(None, help="sampling steps (default: the run's eval.sampling_steps when set, "
                                        "else its method.sampling_steps, as `gensci sample`)"),
    seed: int = typer.Option(0, help="sampling seed (with --dataset --limit: the seed of the random subset)"),
    sampler: Optional[str] = typer.Option(None, help="diffusion sampler (default: the run's eval.sampler when set, "
                                          "else its method.sampler)"),
    checkpoint: str = typer.Option("auto", help="best | last | auto (best.pt when the run kept one)"),
    guidance: Optional[float] = typer.Option(None, help="classifier-free guidance (conditional diffusion)"),
    input: Optional[Path] = typer.Option(None, "--input", help="with --mask: npz `images` of complete maps; an "
                                         "inpainting benchmark of a diffusion run (--n posterior samples per map)"),
    mask: Optional[Path] = typer.Option(None, "--mask", help="with --input: npz `mask` of observed pixels (1)"),
    measurement_noise: Optional[float] = typer.Option(None, help="with --input: measurement noise std (data units)"),
    xtb: bool = typer.Option(False, "--xtb", help="with an XYZ/SDF file: also each molecule's HOMO-LUMO gap and "
                             "dipole by GFN2-xTB at its geometry, raw and calibrated to QM9's DFT (needs "
                             "`pip install 'gensci[xtb]'`)"),
    properties: Optional[str] = typer.Option(None, "--properties", help="with an XYZ/SDF file: QM9 properties of each "
                                             "molecule predicted by the shipped evaluators, e.g. alpha,mu (alpha, gap, "
                                             "homo, lumo, mu, Cv)"),
    conditional: bool = typer.Option(False, "--conditional", help="a property-conditional molecule model: EDM's "
                                     "protocol (one property at a time, --n molecules each, (value, atom count) drawn "
                                     "from the training half; MAE against the property evaluators with baselines); "
                                     "writes conditional.json, samples and figures"),
    condition_properties: Optional[str] = typer.Option(None, "--condition-properties", help="with --conditional: "
                                                       "only these conditioned properties, e.g. alpha,gap"),
    xtb_per_target: Optional[int] = typer.Option(None, "--xtb-per-target", help="with --conditional: also the GFN2-xTB "
                                                 "check of gap and mu, N molecules at each of five requested values "
                                                 "(and 5 N unconditional ones); the benchmark uses 100"),
    evaluators: Optional[Path] = typer.Option(None, "--evaluators", help="with --conditional: folder of property "
                                              "evaluators (default: the shipped ones)"),
    as_json: bool = typer.Option(False, "--json", help="print exactly one JSON object on stdout"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="folder for evaluation.json and the evaluated samples; "
                                           "nothing else is written. Default: the run directory, or "
                                           "runs/shipped/NAME for shipped weights"),
) -> None:
    """Measure a run, a molecule file or a data set; the statistics a scientist would check. With --input and
    --mask: how well a diffusion run fills in the hidden pixels (RMSE, a Gaussian baseline's, 90 % coverage)."""
    from gensci import api
    from gensci.workflows.base import EvalOptions
    from gensci.workflows.shipped import open_run, shipped_names

    if out_dir is not None and (dataset is not None or (target is not None and target.is_file())):
        _fail("--out is where a run's evaluation goes; evaluating a data set or a file writes nothing")
    if xtb and (dataset is not None or target is None or not target.is_file()
                or target.suffix.lower() in (".smi", ".smiles", ".txt")):
        _fail("--xtb scores the 3D molecules of an XYZ/SDF file: give one")
    if properties is not None and (dataset is not None or target is None or not target.is_file()
                                   or target.suffix.lower() in (".smi", ".smiles", ".txt")):
        _fail("--properties predicts the QM9 properties of the 3D molecules of an XYZ/SDF file: give one")
    if not conditional and (condition_properties or xtb_per_target is not None or evaluators is not None):
        _fail("--condition-properties, --xtb-per-target and --evaluators go with --conditional")
    if conditional and (dataset is not None or target is None or target.is_file()):
        _fail("--conditional evaluates a property-conditional model: give a run directory or shipped weights")
    if dataset is not None:
        from gensci.workflows.molecule_files import evaluate_dataset

        metrics = evaluate_dataset(dataset, split=split, limit=limit, remove_h=remove_h, seed=seed)
    elif target is None:
        _fail("give a run directory, a molecule file, or --dataset NAME")
    elif target.is_dir() or (not target.exists() and str(target) in shipped_names()):
        from gensci.files import file_stamps, written_since

        run = open_run(target, out_dir)
        before = file_stamps(run.out)
        options = EvalOptions(n=n, steps=steps, seed=seed, sampler=sampler, checkpoint=checkpoint, guidance=guidance,
                              input=input, mask=mask, measurement_noise=measurement_noise)
        if conditional:
            from gensci.workflows.conditional import ConditionalOptions

            metrics = api.evaluate_conditional(run, options, ConditionalOptions(
                condition_properties.split(",") if condition_properties else None, xtb_per_target, evaluators))
        else:
            metrics = api.evaluate(run, options)
        _say_checkpoint(run)
        for path in written_since(before, run.out):  # stderr: --json keeps stdout one object
            err.print(f"wrote {path}", highlight=False)
    elif target.exists() and target.suffix.lower() in (".smi", ".smiles", ".txt"):
        from gensci.workflows.smiles import evaluate_smiles_file

        metrics = evaluate_smiles_file(target, reference=reference)
    elif target.exists():
        from gensci.workflows.molecule_files import evaluate_file, xtb_file

        xtb_metrics = xtb_file(target) if xtb else {}  # first: a missing tblite or a 2D file fails at once
        property_metrics = {}
        if properties is not None:  # likewise: a bad name, a missing evaluator or a 2D file fails at once
            from gensci.workflows.molecule_files import properties_file

            property_metrics = properties_file(target, properties)
        metrics = evaluate_file(target, reference=reference) | xtb_metrics | property_metrics
    else:
        _fail(f"{target}: no such run directory, shipped weights or file (shipped: {', '.join(shipped_names()) or 'none'})")
    _print_metrics(metrics, as_json)


@app.command()
@_guard
def report(run: Path = typer.Argument(..., help="run directory")) -> None:
    """Write RUN/report.html (evaluating the run first if it has not been) and print its path."""
    from gensci import api

    out.print(str(api.report(run)))


@app.command()
@_guard
def compare(
    runs: list[Path] = typer.Argument(..., help="run directories on the same data"),
    out_file: Path = typer.Option(Path("compare.html"), "--out", help="HTML page to write"),
) -> None:
    """Put several runs side by side: a table here and an HTML page."""
    from gensci import api

    section, path = api.compare(runs, out_file)
    columns = section.columns or []
    table = Table("run", *columns, box=None, title=section.title)
    for name, row in (section.table or {}).items():
        table.add_row(name, *[_short(row.get(c, "")) for c in columns])
    out.print(table)
    out.print(str(path))


@app.command()
@_guard
def demo(
    out_dir: Path = typer.Option(Path("runs/demo"), "--out", help="where samples, figures and the report go"),
    n: int = typer.Option(200, help="molecules to sample and evaluate"),
    steps: Optional[int] = typer.Option(None, help="sampling steps (default: the model's)"),
    weights: str = typer.Option(DEMO_WEIGHTS, help="shipped weights to use"),
) -> None:
    """The main job on built-in data, in a few minutes and without training: molecules with bonds from the shipped
    QM9 model, one molecule watched as it is made, the batch measured against QM9, and a report."""
    from gensci import api
    from gensci.workflows.base import EvalOptions, SampleOptions
    from gensci.errors import OutcomeError
    from gensci.workflows.shipped import ShippedRun

    run = ShippedRun(weights, out=out_dir)
    info = run.manifest
    err.print(f"[bold]gensci demo[/]: shipped weights {weights} ({info.get('steps')} training steps, "
              f"{info.get('training_minutes')} minutes of training; trained with: {info.get('command')})", highlight=False)
    err.print(f"one denoising chain until its molecule is stable, then {n} molecules sampled and measured")
    try:
        samples = api.sample(run, SampleOptions(chain=True, until_stable=True, steps=steps, max_tries=20))
    except OutcomeError as gave_up:  # the demo goes on with the last chain it drew
        err.print(str(gave_up), highlight=False)
        samples = gave_up.paths
    for message in run.workflow.messages:
        err.print(message, highlight=False)
    metrics = api.evaluate(run, EvalOptions(n=n, steps=steps))  # writes the n molecules it measured as SDF
    samples += sorted(run.samples_dir.glob("*.sdf"), key=lambda p: p.stat().st_mtime)[-1:]
    path = api.report(run, metrics)
    table = Table("measure", "value", title=f"demo: {weights}, {n} molecules", box=None)
    for k, v in run.workflow.headline(metrics).items():
        table.add_row(k, _short(v))
    out.print(table)
    out.print(f"samples: {', '.join(str(s) for s in samples)}")
    out.print(f"report:  {path}")
    out.print(f"train it yourself: gensci train {run.config.name}  (docs/domains/ says how long it takes)")


def _conditions(given: list[str]) -> dict[str, float] | None:
    """--condition NAME=VALUE options -> {name: value}; a malformed or repeated one is a user error."""
    from gensci.errors import UserError

    out: dict[str, float] = {}
    for item in given:
        name, sep, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = None
        if not sep or not name.strip() or number is None:
            raise UserError(f"--condition expects NAME=VALUE with a number, e.g. alpha=73.5; got {item!r}")
        if name.strip() in out:
            raise UserError(f"--condition {name.strip()} is given twice")
        out[name.strip()] = number
    return out or None


def _say_checkpoint(run) -> None:
    """Which checkpoint sampling/evaluation used (stderr, so --json output stays one object)."""
    from gensci.workflows.shipped import ShippedRun

    loaded = getattr(run, "loaded_from", None)
    if loaded:  # shipped weights come from the package, not from the folder their outputs go to
        err.print(f"using {loaded}" + ("" if isinstance(run, ShippedRun) else f" of {run.path}"), highlight=False)


def _short(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _print_metrics(metrics: dict, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(metrics) + "\n")
        return
    table = Table("measure", "value", box=None)
    for k, v in metrics.items():
        table.add_row(k, _short(v) if not isinstance(v, (dict, list)) else json.dumps(v)[:80])
    out.print(table)


def _is_main() -> bool:
    import os

    return int(os.environ.get("RANK", 0)) == 0


def main() -> None:
    from gensci.registry import load_plugins

    load_plugins()
    app()


if __name__ == "__main__":
    main()
