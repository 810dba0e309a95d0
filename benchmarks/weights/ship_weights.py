"""Ship a trained run's weights inside gensci: measure them, then write NAME.safetensors + NAME.json.

    python benchmarks/weights/ship_weights.py RUN NAME --command "the command that trained RUN"
        [--cpu-minutes M --cpu-note "where M comes from"] [--n N] [--steps S] [--checkpoint auto|best|last]
        [--metrics EVALUATION.json] [--threads 1] [--folder src/gensci/weights]

Any family works: the weights are the EMA weights of the run's checkpoint (gensci.workflows.shipped.export_weights);
the metrics are `gensci evaluate`'s (gensci.api.evaluate, seed 0) on --n samples (default: the run's
eval.n_samples, the preset's sample size), or those of a saved `gensci evaluate RUN --json` output (--metrics).
The manifest records the data, the training steps and minutes (from RUN/metrics.jsonl), the CPU minutes, the
command that trained the run and this script's own command line. `gensci sample NAME`, `gensci evaluate NAME`
and `gensci presets` then see the weights. The shipped weights and their figures: benchmarks/weights/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from gensci import api
from gensci.workflows.base import EvalOptions, Run
from gensci.workflows.shipped import export_weights

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import command_line, wilson_interval  # noqa: E402  (benchmarks/common.py)

STABILITY = ("molecule_stability", "molecule_stability_graph", "validity", "validity_graph")  # fractions of molecules


def sample_count(metrics: dict[str, Any], asked: int) -> int:
    """How many samples the metrics were measured on, as the workflow reports it (molecules, per-condition
    rounding), else the number asked for."""
    for key in ("n_molecules", "n_samples", "n_generated"):
        if isinstance(metrics.get(key), int):
            return metrics[key]
    return asked


def training_record(run: Run, checkpoint: str) -> dict[str, Any]:
    """Data, steps (the checkpoint's) and training minutes (wall clock to that step, from metrics.jsonl) of a run."""
    from gensci.train.checkpoint import load_checkpoint

    step = (load_checkpoint(run.checkpoint_path(checkpoint)).get("state") or {}).get("step")
    times = [r["time"] for r in run.history() if "time" in r and (step is None or r.get("step", 0) <= step)]
    data = run.config.data
    return {
        "data": f"{data.name} ({', '.join(f'{k}={v}' for k, v in data.model_dump().items() if k != 'name')})",
        "steps": step,
        "training_minutes": round(max(times) / 60, 1) if times else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("name")
    ap.add_argument("--command", required=True, help="the command that trained the run (recorded verbatim)")
    ap.add_argument("--cpu-minutes", type=float, default=None, help="CPU minutes of the training (/usr/bin/time)")
    ap.add_argument("--cpu-note", default="", help="where --cpu-minutes comes from")
    ap.add_argument("--n", type=int, default=None, help="samples to evaluate (default: the run's eval.n_samples)")
    ap.add_argument("--steps", type=int, default=None, help="sampling steps (default: the run's)")
    ap.add_argument("--checkpoint", default="auto", choices=["auto", "best", "last"])
    ap.add_argument("--metrics", type=Path, default=None,
                    help="a saved `gensci evaluate RUN --json` output to record instead of evaluating again")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--folder", type=Path, default=None, help="default: the installed package's gensci/weights")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    scratch = tempfile.TemporaryDirectory()  # the evaluation's sample files: not the run's, not shipped
    run = Run(args.run, out=scratch.name)
    start = time.perf_counter()
    if args.metrics is not None:
        metrics = json.loads(args.metrics.read_text())
        how = f"`gensci evaluate {args.run} --json` saved in {args.metrics.name}"
    else:
        n = args.n or run.config.eval.n_samples
        metrics = api.evaluate(run, EvalOptions(n=n, steps=args.steps, checkpoint=args.checkpoint), save=False)
        how = f"gensci evaluate (gensci.api.evaluate) on {args.threads} thread(s), seed 0"
    metrics.pop("sample_files", None)  # paths in the scratch folder
    n = sample_count(metrics, args.n or run.config.eval.n_samples)
    for key in STABILITY:
        if isinstance(metrics.get(key), float) and "n_molecules" in metrics:
            metrics[f"{key}_95ci"] = wilson_interval(metrics[key], metrics["n_molecules"])
    record = training_record(run, args.checkpoint) | {
        "cpu_minutes": args.cpu_minutes,
        "cpu_note": args.cpu_note,
        "command": args.command,
        "export_command": command_line(),
        "n_samples": n,
        "metrics": metrics,
        "metrics_note": (f"{how}, {n} samples"
                         + (f"; protocols {metrics['protocols']}" if "protocols" in metrics else "")
                         + ("; *_95ci: Wilson 95 % intervals" if any(k.endswith("_95ci") for k in metrics) else "")),
    }
    path = export_weights(run, args.name, record, folder=args.folder, checkpoint=args.checkpoint)
    print(path, f"({path.with_suffix('.safetensors').stat().st_size / 1e6:.1f} MB of weights, "
                f"{time.perf_counter() - start:.0f} s)")
    print(json.dumps(run.workflow.headline(metrics)))


if __name__ == "__main__":
    main()
