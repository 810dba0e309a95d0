"""Ship a trained run's weights inside gensci: measure them, then write NAME.safetensors + NAME.json.

    python benchmarks/ship_weights.py RUN NAME --command "the command that trained RUN" [--n 1000] [--steps S]
                                      [--checkpoint auto|best|last] [--threads 1] [--folder src/gensci/weights]

The manifest records the data, the training steps and minutes (from RUN/metrics.jsonl), the command, and
`gensci evaluate`'s metrics on --n samples (seed 0) with the protocol(s) they follow. `gensci sample NAME`,
`gensci evaluate NAME` and `gensci demo` then use the weights without training.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from edm_quality import stability_interval  # noqa: E402  (Wilson 95 % interval)

from gensci import api  # noqa: E402
from gensci.workflows.base import EvalOptions, Run  # noqa: E402
from gensci.workflows.shipped import export_weights  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("name")
    ap.add_argument("--command", required=True, help="the command that trained the run (recorded verbatim)")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=None, help="sampling steps (default: the run's eval.sampling_steps)")
    ap.add_argument("--checkpoint", default="auto", choices=["auto", "best", "last"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--folder", type=Path, default=None, help="default: the installed package's gensci/weights")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    run = Run(args.run)
    metrics = api.evaluate(run, EvalOptions(n=args.n, steps=args.steps, checkpoint=args.checkpoint), save=False)
    for key in ("molecule_stability", "molecule_stability_graph"):
        if key in metrics:
            metrics[f"{key}_95ci"] = stability_interval(metrics[key], metrics["n_molecules"])
    train = [r for r in run.history() if r.get("kind") == "train"]
    data = run.config.data
    record = {
        "data": f"{data.name} ({', '.join(f'{k}={v}' for k, v in data.model_dump().items() if k != 'name')})",
        "steps": train[-1]["step"] if train else None,
        "training_minutes": round(train[-1]["time"] / 60, 1) if train else None,
        "command": args.command,
        "metrics": metrics,
        "metrics_note": (f"gensci evaluate on {metrics.get('n_molecules', args.n)} samples, seed 0; protocols "
                         f"{metrics.get('protocols', '')}; *_95ci: Wilson 95 % intervals"),
    }
    path = export_weights(run, args.name, record, folder=args.folder, checkpoint=args.checkpoint)
    print(path)
    print({k: metrics[k] for k in ("molecule_stability_graph", "validity_graph", "molecule_stability", "validity")
           if k in metrics})


if __name__ == "__main__":
    main()
