"""The six galaxy presets trained with their stated CPU budgets, measured side by side.

    python benchmarks/galaxy_presets.py --threads 1 [--minutes-scale 1.0] [--presets a,b@36,...] [--reuse]

A preset written `name@M` is trained for M minutes instead of its own budget (run dir `name-Mmin`);
`--reuse` takes run directories already under --out instead of training them again (and their saved
evaluation.json when it is newer than the last checkpoint), so the presets can be trained in
separate processes (or on separate cores) and tabulated together.

Writes benchmarks/galaxy_presets.md (table + the collapse question) and
benchmarks/out/galaxies/compare.html.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import torch

from gensci import api
from gensci.config import load_config
from gensci.metrics.images import collapse_reason
from gensci.workflows.base import EvalOptions, Run

PRESETS = ["galaxy-vae", "galaxy-vae-fc", "galaxy-gan", "galaxy-acgan", "galaxy-wgan-gp", "galaxy-wgan-div"]
KEYS = ["fd_local", "kd_local", "precision", "recall", "density", "coverage", "duplicate_rate",
        "pixel_hist_distance", "power_spectrum_distance", "c2st_auc", "class_mix_distance", "mode_collapse",
        "class_accuracy", "elbo"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--minutes-scale", type=float, default=1.0, help="multiply each preset's max_minutes")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/galaxies"))
    ap.add_argument("--presets", default=",".join(PRESETS), help="comma-separated; name@M trains M minutes")
    ap.add_argument("--reuse", action="store_true", help="evaluate existing run dirs under --out, do not train")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    runs, rows = [], {}
    for spec in args.presets.split(","):
        preset, _, forced = spec.partition("@")
        minutes = float(forced) if forced else load_config(preset).train.max_minutes * args.minutes_scale
        name = f"{preset}-{forced}min" if forced else preset
        run_dir = args.out / name
        if args.reuse:
            run = Run(run_dir)
            last = [r for r in run.history() if r.get("kind") == "train"][-1]
            steps, elapsed, cpu = last["step"], last["time"], float("nan")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)
            t0 = time.process_time()
            run, result = api.train(preset, run_dir, overrides=[f"train.threads={args.threads}"], max_minutes=minutes,
                                    progress=False)
            steps, elapsed, cpu = result.steps, result.elapsed, time.process_time() - t0
        saved = api.saved_evaluation(run) if args.reuse and _evaluated_after_training(run) else None
        metrics = saved or api.evaluate(run, EvalOptions())
        if saved is None:
            api.report(run, metrics)
        runs.append(run)
        rows[name] = (steps, elapsed, cpu, metrics)
        print(name, steps, {k: metrics.get(k) for k in KEYS}, flush=True)
    table, page = api.compare(runs, args.out / "compare.html")
    lines = [
        "# Galaxy presets side by side",
        "",
        f"Command: `python benchmarks/galaxy_presets.py --threads {args.threads} --minutes-scale {args.minutes_scale:g} "
        f"--presets {args.presets}{' --reuse' if args.reuse else ''}`  ",
        f"Date {time.strftime('%Y-%m-%d')}; 2-core CPU, torch threads {args.threads}; 64x64 simulated galaxies "
        "(3,000 training images); metrics on 1,000 samples vs the test images in the features of gensci's reference classifier.",
        "",
        "| preset | steps | train min | CPU min | " + " | ".join(KEYS) + " |",
        "|---|---|---|---|" + "---|" * len(KEYS),
    ]
    for name, (steps, elapsed, cpu, m) in rows.items():
        cells = [_fmt(m.get(k, "")) for k in KEYS]
        lines.append(f"| {name} | {steps} | {elapsed / 60:.1f} | {cpu / 60:.1f}".replace("nan", "-") + " | " + " | ".join(cells) + " |")
    gans = [n for n in rows if n.startswith(("galaxy-gan", "galaxy-wgan"))]
    if gans:
        lines += ["", "Mode collapse, run by run (the blog's claim: the plain GAN collapses, the Wasserstein GANs do not):"]
        for n in gans:
            m = rows[n][3]
            lines.append(f"- {n}: {'COLLAPSE' if m['mode_collapse'] else 'no collapse'} - "
                         f"{collapse_reason(m['precision'], m['coverage'], m['duplicate_rate'])}; "
                         f"class mix {[round(c, 2) for c in m['class_mix']]} (distance {_fmt(m['class_mix_distance'])})")
    lines += ["", f"Comparison page: `{page}` (not committed; rerun the command)."]
    Path("benchmarks/galaxy_presets.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _evaluated_after_training(run: Run) -> bool:
    evaluation, last = run.path / "evaluation.json", run.path / "checkpoints" / "last.pt"
    return evaluation.exists() and evaluation.stat().st_mtime > last.stat().st_mtime


def _fmt(v) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


if __name__ == "__main__":
    main()
