"""Quality of a trained EDM run against the number of sampling steps.

    python benchmarks/edm_quality.py RUN --steps 1000,500,250,100,50 --n 200 [--threads 2]

For each step count: samples n molecules (seeded, batched), measures EDM's validation
(stability, validity, uniqueness, novelty) and the wall time per molecule. Appends a
table to benchmarks/edm_quality.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from gensci import api
from gensci.workflows.base import EvalOptions, Run

KEYS = ["atom_stability", "molecule_stability", "validity", "validity_x_uniqueness", "novelty", "connected", "nll", "seconds_per_molecule"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path)
    ap.add_argument("--steps", default="1000,500,250,100,50")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--report", type=Path, default=Path("benchmarks/edm_quality.md"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    run = Run(args.run)
    train = [r for r in run.history() if r.get("kind") == "train"]
    rows = []
    for steps in [int(s) for s in args.steps.split(",")]:
        m = api.evaluate(run, EvalOptions(n=args.n, steps=steps), save=False)
        rows.append((steps, m))
        print(steps, {k: m.get(k) for k in KEYS}, flush=True)
    lines = [
        f"## {run.config.name}: {train[-1]['step']} steps, {train[-1]['time'] / 60:.0f} min of training",
        "",
        f"Command: `python benchmarks/edm_quality.py {args.run} --steps {args.steps} --n {args.n} --threads {args.threads}` "
        f"({time.strftime('%Y-%m-%d %H:%M')}, torch threads {args.threads})",
        "",
        "| sampling steps | " + " | ".join(KEYS) + " |",
        "|---|" + "---|" * len(KEYS),
    ]
    for steps, m in rows:
        lines.append(f"| {steps} | " + " | ".join(_fmt(m.get(k)) for k in KEYS) + " |")
    with args.report.open("a") as f:
        f.write("\n".join(lines) + "\n\n")
    print("\n".join(lines))


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


if __name__ == "__main__":
    main()
