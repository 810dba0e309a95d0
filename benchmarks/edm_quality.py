"""Quality of a trained EDM run against the number of sampling steps.

    python benchmarks/edm_quality.py RUN --steps 1000,500,250,100,50 --n 200 [--threads 2]

For each step count: samples n molecules (seeded, batched), measures EDM's validation
(stability, validity, uniqueness, novelty) and the wall time per molecule, and gives the
Wilson 95 % interval of molecule stability (so "equal stability at fewer steps" can be
judged against the sampling noise of n molecules). Appends a table to benchmarks/edm_quality.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from scipy.stats import binomtest

from gensci import api
from gensci.workflows.base import EvalOptions, Run

KEYS = ["atom_stability", "molecule_stability", "mol_stab_95ci", "validity", "validity_x_uniqueness", "novelty", "connected", "nll", "seconds_per_molecule"]


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
        m["mol_stab_95ci"] = stability_interval(m["molecule_stability"], m["n_molecules"])
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


def stability_interval(fraction: float, n: int) -> str:
    """Wilson 95 % interval of a fraction of n molecules, e.g. '0.006-0.029'."""
    ci = binomtest(round(fraction * n), n).proportion_ci(confidence_level=0.95, method="wilson")
    return f"{ci.low:.3f}-{ci.high:.3f}"


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


if __name__ == "__main__":
    main()
