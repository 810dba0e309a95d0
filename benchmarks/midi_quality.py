"""Quality of a trained MiDi run (molecules with their own bonds and charges) under both stability protocols.

    python benchmarks/midi_quality.py RUN [--n 1000] [--steps 100[,50,...]] [--threads 1] [--seed 0]
                                          [--checkpoint auto|best|last]
    python benchmarks/midi_quality.py RUN --curve       # the run's periodic evaluations as a table (no sampling)

For each step count: `gensci evaluate`'s measurement (gensci.workflows.molecules: n molecules sampled, seeded and
batched, scored by gensci.metrics.molecule_protocols against QM9's training split) with
- the predicted-bond protocol (MiDi, Vignac et al. 2023; keys ending in `_graph`): stability of the model's own
  bonds and formal charges, RDKit validity of the largest fragment, uniqueness, novelty, connectedness;
- EDM's protocol (no suffix): bonds inferred from the coordinates alone;
plus Wilson 95 % intervals of both molecule stabilities and seconds per molecule (sampling only: the network is
run once before timing, so torch.compile's first calls are not counted). Appends a table to
benchmarks/midi_quality.md (or --report).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from edm_quality import stability_interval  # noqa: E402  (Wilson 95 % interval, as EDM's benchmark)

from gensci import api  # noqa: E402
from gensci.methods.base import SamplingOptions  # noqa: E402
from gensci.workflows.base import EvalOptions, Run  # noqa: E402

KEYS = ["molecule_stability_graph", "mol_stab_graph_95ci", "atom_stability_graph", "validity_graph",
        "uniqueness_graph", "novelty_graph", "connected_graph", "molecule_stability", "mol_stab_95ci",
        "atom_stability", "validity", "seconds_per_molecule"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--steps", default="100")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--checkpoint", default="auto", choices=["auto", "best", "last"])
    ap.add_argument("--report", type=Path, default=Path(__file__).parent / "midi_quality.md")
    ap.add_argument("--curve", action="store_true", help="print the periodic evaluations of RUN/metrics.jsonl")
    args = ap.parse_args()
    if args.curve:
        print("\n".join(curve(Run(args.run))))
        return
    torch.set_num_threads(args.threads)
    run = Run(args.run)
    warm = run.method(checkpoint=args.checkpoint)  # compiles once per process: not sampling time
    for n in (3, 5):
        warm.sample(n, generator=torch.Generator().manual_seed(n), options=SamplingOptions(steps=2, batch_size=n))
    rows = []
    for steps in [int(s) for s in args.steps.split(",")]:
        m = api.evaluate(run, EvalOptions(n=args.n, steps=steps, seed=args.seed, checkpoint=args.checkpoint),
                         save=False)
        m["mol_stab_graph_95ci"] = stability_interval(m["molecule_stability_graph"], m["n_molecules"])
        m["mol_stab_95ci"] = stability_interval(m["molecule_stability"], m["n_molecules"])
        rows.append((steps, m))
        print(steps, {k: m.get(k) for k in KEYS}, flush=True)
    train = [r for r in run.history() if r.get("kind") == "train"]
    done = f"{train[-1]['step']} steps, {train[-1]['time'] / 60:.0f} min of training" if train else "untrained"
    lines = [
        f"## {run.config.name} ({run.config.method.objective}): {done}, checkpoint {rows[0][1].get('checkpoint')}",
        "",
        f"Command: `python benchmarks/midi_quality.py {args.run} --n {args.n} --steps {args.steps} --threads "
        f"{args.threads} --seed {args.seed}` ({time.strftime('%Y-%m-%d %H:%M')}). `_graph`: the model's own bonds "
        "and charges (MiDi's protocol); no suffix: bonds inferred from the coordinates (EDM's protocol).",
        "",
        "| sampling steps | molecules | " + " | ".join(KEYS) + " |",
        "|---|---|" + "---|" * len(KEYS),
    ]
    lines += [f"| {s} | {m['n_molecules']} | " + " | ".join(_fmt(m.get(k)) for k in KEYS) + " |" for s, m in rows]
    with args.report.open("a") as f:
        f.write("\n".join(lines) + "\n\n")
    print("\n".join(lines))


CURVE_KEYS = ["molecule_stability_graph", "atom_stability_graph", "validity_graph", "validity_x_uniqueness_graph",
              "molecule_stability", "atom_stability", "validity"]


def curve(run: Run) -> list[str]:
    """Quality against training time: the trainer's periodic evaluations (eval.periodic_n_samples molecules each,
    the run's sampling steps, a fixed seed), with Wilson 95 % intervals of the graph-protocol molecule stability."""
    lines = ["| step | training min | molecules | mol. stab. (graph), 95 % interval | " +
             " | ".join(CURVE_KEYS[1:]) + " |", "|---|---|---|---|" + "---|" * (len(CURVE_KEYS) - 1)]
    for r in run.history():
        if r.get("kind") != "eval" or "molecule_stability_graph" not in r:
            continue
        n = r.get("n_molecules", run.config.eval.periodic_n_samples)
        first = f"{r['molecule_stability_graph']:.3f} ({stability_interval(r['molecule_stability_graph'], n)})"
        lines.append(f"| {r['step']} | {r['time'] / 60:.0f} | {n} | {first} | " +
                     " | ".join(_fmt(r.get(k)) for k in CURVE_KEYS[1:]) + " |")
    return lines


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


if __name__ == "__main__":
    main()
