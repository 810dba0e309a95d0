"""Quality of a trained MiDi run (molecules with their own bonds and charges) under both stability protocols.

    python benchmarks/midi_quality.py RUN [--n 1000] [--steps 100[,50,...]] [--threads 1] [--seed 0]
                                          [--checkpoint auto|best|last] [--batch 100]

For each step count: samples n molecules (seeded, batched) and measures
- the predicted-bond protocol (MiDi, Vignac et al. 2023; gensci.metrics.graph): stability of the model's own bonds
  and formal charges, RDKit validity of the largest fragment, uniqueness, novelty against the training split's
  graphs, connectedness;
- EDM's protocol (gensci.metrics.molecules): bonds inferred from the coordinates alone, stability, validity,
  uniqueness, novelty against EDM's QM9 training SMILES;
- Wilson 95 % intervals of both molecule stabilities, and wall seconds per molecule (sampling only).
Appends a table to benchmarks/midi_quality.md (or --report).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from edm_quality import stability_interval  # noqa: E402  (Wilson 95 % interval, as EDM's benchmark)

from gensci.chem.rdmol import smiles_from_graph  # noqa: E402
from gensci.methods.base import SamplingOptions  # noqa: E402
from gensci.metrics.graph import evaluate_graphs, graphs_from_padded  # noqa: E402
from gensci.metrics.molecules import evaluate_molecules  # noqa: E402
from gensci.workflows.base import Run  # noqa: E402
from gensci.workflows.molecules import to_molecules  # noqa: E402

KEYS = ["molecule_stability_graph", "mol_stab_graph_95ci", "atom_stability_graph", "validity_graph",
        "uniqueness_graph", "novelty_graph", "connected_graph", "molecule_stability", "mol_stab_95ci",
        "atom_stability", "validity", "seconds_per_molecule"]


def training_smiles(run: Run) -> set[str]:
    """Canonical SMILES of the training split's graphs (atoms, bonds, formal charges), as metrics.graph makes them."""
    train, types = run.data.train, run.data.info["atom_types"]
    batch = train.__getitems__(list(range(len(train))))[0]
    out = set()
    for symbols, charges, bonds in graphs_from_padded(batch["atom_types"], batch["formal_charges"], batch["bonds"],
                                                      batch["node_mask"], types):
        smiles = smiles_from_graph(symbols, bonds, charges)
        if smiles is not None:
            out.add(smiles)
    return out


def edm_reference(info: dict):
    """EDM's QM9 training SMILES (bonds from distances) for the coordinates-only novelty, on QM9 with H."""
    if not str(info.get("dataset", "")).startswith("qm9") or info.get("remove_h"):
        return None
    from gensci.workflows.molecule_files import qm9_reference_smiles

    return qm9_reference_smiles(False)


def measure(run: Run, method, n: int, steps: int, seed: int, batch: int, graph_ref, edm_ref) -> dict:
    info = run.data.info
    for warm in (3, 5):  # torch.compile's first calls (when the run compiles) are not sampling time
        method.sample(warm, generator=torch.Generator(device=method.device).manual_seed(warm),
                      options=SamplingOptions(steps=2, batch_size=warm))
    generator = torch.Generator(device=method.device).manual_seed(seed)
    start = time.perf_counter()
    samples = method.sample(n, generator=generator, options=SamplingOptions(steps=steps, batch_size=batch))
    seconds = (time.perf_counter() - start) / n
    samples = {k: v.cpu() for k, v in samples.items()}
    graphs = graphs_from_padded(samples["atom_types"], samples["formal_charges"], samples["bonds"],
                                samples["node_mask"], info["atom_types"])
    out = evaluate_graphs(graphs, graph_ref)
    out |= evaluate_molecules(to_molecules(samples, info["atom_types"]), edm_ref)
    out["mol_stab_graph_95ci"] = stability_interval(out["molecule_stability_graph"], n)
    out["mol_stab_95ci"] = stability_interval(out["molecule_stability"], n)
    out["seconds_per_molecule"] = seconds
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--steps", default="100")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=100, help="molecules sampled together")
    ap.add_argument("--checkpoint", default="auto", choices=["auto", "best", "last"])
    ap.add_argument("--report", type=Path, default=Path(__file__).parent / "midi_quality.md")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    run = Run(args.run)
    method = run.method(checkpoint=args.checkpoint)
    t0 = time.perf_counter()
    graph_ref, edm_ref = training_smiles(run), edm_reference(run.data.info)
    print(f"reference SMILES: {len(graph_ref)} training graphs ({time.perf_counter() - t0:.0f} s)", flush=True)
    rows = []
    for steps in [int(s) for s in args.steps.split(",")]:
        m = measure(run, method, args.n, steps, args.seed, args.batch, graph_ref, edm_ref)
        rows.append((steps, m))
        print(steps, {k: m.get(k) for k in KEYS}, flush=True)
    train = [r for r in run.history() if r.get("kind") == "train"]
    done = f"{train[-1]['step']} steps, {train[-1]['time'] / 60:.0f} min of training" if train else "untrained"
    lines = [
        f"## {run.config.name} ({run.config.method.objective}): {done}, checkpoint {run.loaded_from}",
        "",
        f"Command: `python benchmarks/midi_quality.py {args.run} --n {args.n} --steps {args.steps} --threads "
        f"{args.threads} --seed {args.seed}` ({time.strftime('%Y-%m-%d %H:%M')}). `_graph`: the model's own bonds "
        "and charges (MiDi's protocol); no suffix: bonds inferred from the coordinates (EDM's protocol).",
        "",
        "| sampling steps | molecules | " + " | ".join(KEYS) + " |",
        "|---|---|" + "---|" * len(KEYS),
    ]
    lines += [f"| {s} | {args.n} | " + " | ".join(_fmt(m.get(k)) for k in KEYS) + " |" for s, m in rows]
    with args.report.open("a") as f:
        f.write("\n".join(lines) + "\n\n")
    print("\n".join(lines))


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


if __name__ == "__main__":
    main()
