"""Quality of a trained DiGress run (2D molecular graphs with their own bonds and formal charges).

    python benchmarks/digress_quality.py RUN [--n 1000] [--steps 500[,100,...]] [--threads 1] [--seed 0]
                                             [--checkpoint auto|best|last]

For each step count: `gensci evaluate`'s measurement (gensci.workflows.molecules: n graphs sampled, seeded and
batched, scored by gensci.metrics.molecule_protocols against QM9's training split under the predicted-bond protocol,
keys ending in `_graph`: RDKit validity of the largest fragment, uniqueness among the valid ones, novelty,
connectedness; no stability, which needs explicit hydrogens) with Wilson 95 % intervals of validity (over n) and
uniqueness (over the valid ones), the element and size distances to the training split, and CPU seconds per graph
(sampling only). Appends a table to benchmarks/digress_quality.md (or --report).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from edm_quality import stability_interval  # noqa: E402  (Wilson 95 % interval of a fraction of n)

from gensci import api  # noqa: E402
from gensci.workflows.base import EvalOptions, Run  # noqa: E402

KEYS = ["validity_graph", "validity_95ci", "uniqueness_graph", "uniqueness_95ci", "validity_x_uniqueness_graph",
        "novelty_graph", "connected_graph", "n_charged_graph", "atom_type_tv", "n_atoms_tv", "cpu_s_per_graph"]


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
    with args.report.open("a") as f:
        f.write("\n".join(lines) + "\n\n")
    print("\n".join(lines))


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


if __name__ == "__main__":
    main()
