"""Quality of a trained DiGress run (2D molecular graphs with their own bonds and formal charges).

    python benchmarks/digress_quality.py RUN [--n 1000] [--steps 500[,100,...]] [--threads 1] [--seed 0]
                                             [--checkpoint auto|best|last]

For each step count: `gensci evaluate`'s measurement (gensci.workflows.molecules: n graphs sampled, seeded and
batched, scored by gensci.metrics.molecule_protocols against QM9's training split under the predicted-bond protocol,
keys ending in `_graph`: RDKit validity of the largest fragment, uniqueness among the valid ones, novelty,
connectedness; no stability, which needs explicit hydrogens) with Wilson 95 % intervals of validity and connectedness
(over n), uniqueness (over the valid ones) and novelty (over the unique valid ones), the element and size distances to
the training split, wall seconds per graph (sampling only), CPU seconds per graph (sampling and scoring) and the load
average at the end. Appends a table to benchmarks/digress_quality.md (or --report).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from edm_quality import stability_interval  # noqa: E402  (Wilson 95 % interval of a fraction of n)

from gensci import api  # noqa: E402
from gensci.workflows.base import EvalOptions, Run  # noqa: E402

KEYS = ["validity_graph", "validity_95ci", "uniqueness_graph", "uniqueness_95ci", "novelty_graph", "novelty_95ci",
        "connected_graph", "connected_95ci", "validity_x_uniqueness_graph", "n_charged_graph", "atom_type_tv",
        "n_atoms_tv", "seconds_per_molecule", "cpu_s_per_graph", "load_1min"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--steps", default="500")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--checkpoint", default="auto", choices=["auto", "best", "last"])
    ap.add_argument("--report", type=Path, default=Path(__file__).parent / "digress_quality.md")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    run = Run(args.run)
    rows = []
    for steps in [int(s) for s in args.steps.split(",")]:
        cpu = time.process_time()
        m = api.evaluate(run, EvalOptions(n=args.n, steps=steps, seed=args.seed, checkpoint=args.checkpoint),
                         save=False)
        m["cpu_s_per_graph"] = (time.process_time() - cpu) / m["n_molecules"]  # includes scoring (small)
        m["validity_95ci"] = stability_interval(m["validity_graph"], m["n_molecules"])
        m["uniqueness_95ci"] = stability_interval(m["uniqueness_graph"], max(m["n_valid_graph"], 1))
        if m.get("novelty_graph") is not None:  # novel among the unique valid ones
            m["novelty_95ci"] = stability_interval(m["novelty_graph"], max(m["n_unique_graph"], 1))
        m["connected_95ci"] = stability_interval(m["connected_graph"], m["n_molecules"])
        m["load_1min"] = os.getloadavg()[0]
        rows.append((steps, m))
        print(steps, {k: m.get(k) for k in KEYS}, flush=True)
    train = [r for r in run.history() if r.get("kind") == "train"]
    done = f"{train[-1]['step']} steps, {train[-1]['time'] / 60:.0f} min of training" if train else "untrained"
    lines = [
        f"## {run.config.name}: {done}, checkpoint {rows[0][1].get('checkpoint')}",
        "",
        f"Command: `python benchmarks/digress_quality.py {args.run} --n {args.n} --steps {args.steps} --threads "
        f"{args.threads} --seed {args.seed}` ({time.strftime('%Y-%m-%d %H:%M')}). The model's own bonds and charges "
        "(predicted-bond protocol, heavy atoms: validity, uniqueness, novelty; no stability without hydrogens).",
        "",
        "| sampling steps | graphs | " + " | ".join(KEYS) + " |",
        "|---|---|" + "---|" * len(KEYS),
    ]
    lines += [f"| {s} | {m['n_molecules']} | " + " | ".join(_fmt(m.get(k)) for k in KEYS) + " |" for s, m in rows]
    lines += ["", *curve(run)]
    with args.report.open("a") as f:
        f.write("\n".join(lines) + "\n\n")
    print("\n".join(lines))


def curve(run: Run) -> list[str]:
    """The training curve as a markdown table: per periodic evaluation, the step, training minutes, the mean training
    loss over the records since the previous one, and validity (Wilson interval) and uniqueness (validity x
    uniqueness / validity) of the periodic samples (eval.periodic_n_samples graphs, 100 steps: the molecule workflow's
    periodic_eval records no novelty or connectedness)."""
    history = run.history()
    rows = ["| step | training min | train loss (mean since last) | periodic graphs | validity (95 % CI) | uniqueness |",
            "|---|---|---|---|---|---|"]
    losses, minutes = [], 0.0
    for r in history:
        if r.get("kind") == "train":
            losses.append(r["loss"])
            minutes = r["time"] / 60
        elif r.get("kind") == "eval" and "validity_graph" in r:
            n, valid = run.config.eval.periodic_n_samples, r["validity_graph"]
            loss = sum(losses) / len(losses) if losses else float("nan")
            unique = r["validity_x_uniqueness_graph"] / valid if valid else float("nan")
            rows.append(f"| {r['step']} | {minutes:.1f} | {loss:.3f} | {n} | {valid:.3f} "
                        f"({stability_interval(valid, n)}) | {unique:.3f} |")
            losses = []
    return rows


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


if __name__ == "__main__":
    main()
