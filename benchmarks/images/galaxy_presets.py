"""The six galaxy presets trained by their step budgets, measured side by side.

    python benchmarks/images/galaxy_presets.py [--presets a,b,...] [--seeds 0] [--repeat galaxy-gan@1] [--jobs 2]
                                               [--reuse]

Each preset trains for its own `train.max_steps` (its `max_minutes` is only a safety cap) in a
child process `gensci train PRESET --seed S --set train.threads=1`, at most `--jobs` at a time;
the CPU time of each child is measured. `--repeat name@S` also trains that preset with seed S (the
seed-to-seed spread: how reproducible a row is; the same seed gives the same losses on a CPU).
Run directories are --out/NAME-seedS; `--reuse` evaluates existing ones without training.
Then every run is evaluated (1,000 samples vs the test images) in this process.

Inserts a dated section into the history of benchmarks/images/README.md and writes --out/compare.html.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch

from gensci import api
from gensci.config import load_config
from gensci.metrics.images import collapse_reason
from gensci.workflows.base import EvalOptions, Run

PRESETS = ["galaxy-vae", "galaxy-vae-fc", "galaxy-gan", "galaxy-acgan", "galaxy-wgan-gp", "galaxy-wgan-div"]
KEYS = ["precision", "coverage", "duplicate_rate", "class_mix_distance", "fd_local", "kd_local", "c2st_auc",
        "pixel_hist_distance", "power_spectrum_distance", "class_accuracy", "elbo", "mode_collapse"]


def train_all(jobs: list[tuple], parallel: int) -> dict[Path, float]:
    """Train (preset, seed, run_dir[, overrides]) in child processes, `parallel` at a time, longest
    budget first; CPU seconds per run."""
    pending, running, cpu = sorted(jobs, key=lambda j: -(load_config(j[0]).train.max_steps or 0)), {}, {}
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    while pending or running:
        while pending and len(running) < parallel:
            preset, seed, run_dir, *overrides = pending.pop(0)
            shutil.rmtree(run_dir, ignore_errors=True)
            cmd = [sys.executable, "-m", "gensci", "train", preset, "--out", str(run_dir), "--seed", str(seed),
                   "--quiet", "--set", "train.threads=1"] + [a for o in (overrides[0] if overrides else []) for a in ("--set", o)]
            print(" ".join(cmd[1:]), flush=True)
            proc = subprocess.Popen(cmd, env=env)
            running[proc.pid] = (proc, run_dir)
        pid, status, usage = os.wait4(-1, 0)
        if pid in running:
            proc, run_dir = running.pop(pid)
            proc.returncode = os.waitstatus_to_exitcode(status)
            if proc.returncode:
                raise SystemExit(f"training {run_dir} failed with exit code {proc.returncode}")
            cpu[run_dir] = usage.ru_utime + usage.ru_stime
    return cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--presets", default=",".join(PRESETS))
    ap.add_argument("--seeds", default="0", help="comma-separated seeds for every preset")
    ap.add_argument("--repeat", default="", help="comma-separated name@seed: extra runs of one preset")
    ap.add_argument("--jobs", type=int, default=2, help="trainings at a time (1 thread each)")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/galaxies"))
    ap.add_argument("--reuse", action="store_true", help="evaluate existing run dirs under --out, do not train")
    args = ap.parse_args()
    torch.set_num_threads(1)
    jobs = [(p, int(s), args.out / f"{p}-seed{s}") for p in args.presets.split(",") for s in args.seeds.split(",")]
    jobs += [(p, int(s), args.out / f"{p}-seed{s}") for p, _, s in (r.partition("@") for r in args.repeat.split(",") if r)]
    record = args.out / "training.json"  # how the runs were trained, for --reuse
    if args.reuse:
        training = json.loads(record.read_text())
    else:
        load_before = os.getloadavg()[0]
        cpu = train_all(jobs, args.jobs)
        training = {"command": " ".join(sys.argv[1:]), "date": time.strftime("%Y-%m-%d"), "load_before": load_before,
                    "load_after": os.getloadavg()[0], "cpu_seconds": {str(k.name): v for k, v in cpu.items()}}
        record.write_text(json.dumps(training, indent=1))
    rows = {}
    for preset, seed, run_dir in jobs:
        run = Run(run_dir)
        metrics = api.evaluate(run, EvalOptions())
        api.report(run, metrics)
        last = [r for r in run.history() if r.get("kind") == "train"][-1]
        rows[run_dir.name] = (preset, seed, last["step"], last["time"], training["cpu_seconds"].get(run_dir.name), metrics)
        print(run_dir.name, last["step"], {k: metrics.get(k) for k in KEYS}, flush=True)
    _, page = api.compare([Run(d) for _, _, d in jobs], args.out / "compare.html")
    write_markdown(args, rows, training, page)


def write_markdown(args, rows: dict, training: dict, page) -> None:
    ref = next(iter(rows.values()))[5]
    lines = [
        f"### {time.strftime('%Y-%m-%d')}: galaxy presets side by side",
        "",
        f"Command: `python benchmarks/images/galaxy_presets.py {training['command']}`"
        f"{' (evaluated again with --reuse on ' + time.strftime('%Y-%m-%d') + ')' if args.reuse else ''}  ",
        f"Trained {training['date']}; 2-core CPU shared with other work (load average {training['load_before']:.1f} at the "
        f"start, {training['load_after']:.1f} at the end), {args.jobs} trainings at a time, 1 torch thread each. Every run stops at its "
        "preset's `train.max_steps` (the minutes are what that took here, under that load). 64x64 simulated galaxies "
        "(3,000 training images), data seed 0; metrics on 1,000 samples vs the 600 test images; feature metrics in "
        f"the reference network's features (held-out accuracy {ref.get('reference_accuracy', float('nan')):.3f}, "
        f"chance {ref.get('reference_chance', float('nan')):.3f}).",
        "",
        "| run | seed | steps | train min | CPU min | " + " | ".join(KEYS) + " |",
        "|---|---|---|---|---|" + "---|" * len(KEYS),
    ]
    for name, (preset, seed, steps, elapsed, cpu, m) in rows.items():
        cpu_text = f"{cpu / 60:.1f}" if cpu is not None else "-"
        lines.append(f"| {preset} | {seed} | {steps} | {elapsed / 60:.1f} | {cpu_text} | " + " | ".join(_fmt(m.get(k, "")) for k in KEYS) + " |")
    lines += ["", "Reproducibility: the same seed gives the same losses and samples on a CPU (README, Training); from seed to "
              "seed (the spread a reader should allow for each row):"]
    for preset in dict.fromkeys(r[0] for r in rows.values()):
        runs = [r for r in rows.values() if r[0] == preset]
        if len(runs) > 1:
            spread = ", ".join(f"{k} {min(r[5][k] for r in runs):.3g}-{max(r[5][k] for r in runs):.3g}"
                               for k in ("precision", "coverage", "duplicate_rate", "kd_local", "class_mix_distance"))
            lines.append(f"- {preset}, seeds {', '.join(str(r[1]) for r in runs)}: {spread}")
    lines += ["", "Mode collapse (diversity only: duplicate rate > 0.2, or a real class generated at under a fifth of its real rate,"
              " judged when precision >= 0.5):"]
    for name, (*_, m) in rows.items():
        mix = [round(c, 2) for c in m.get("class_mix", [])]
        lines.append(f"- {name}: {'COLLAPSE' if m.get('mode_collapse') else 'no collapse'} - {collapse_reason(m)}; class mix {mix}")
    lines += ["", f"Comparison page: `{page}` (not committed; rerun the command)."]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from common import add_to_history  # benchmarks/common.py: a dated section at the top of the history

    add_to_history(Path(__file__).with_name("README.md"), "\n".join(lines))
    print("\n".join(lines))


def _fmt(v) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


if __name__ == "__main__":
    main()
