"""The table of the weights that ship with gensci, from their manifests (the current table of
benchmarks/weights/README.md and of the docs' "Shipped weights" section).

    python benchmarks/weights/table.py [--folder src/gensci/weights] [--commands]

One row per shipped name: the method, training steps, wall and CPU minutes, the size of the weights, the sample
size of the recorded metrics and the domain's headline figures (its workflow's `headline`). --commands adds, per
name, the command that trained the weights and the one that exported them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gensci.workflows.shipped import ShippedRun, shipped_names, weights_dir


def _short(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def rows(folder: Path) -> list[str]:
    lines = ["| name | method | steps | training min (wall) | CPU min | weights MB | n | headline (n samples, seed 0) |",
             "|---|---|---|---|---|---|---|---|"]
    for name in shipped_names(folder):
        run = ShippedRun(name, folder=folder)
        m = run.manifest
        headline = run.workflow.headline(m["metrics"])
        figures = ", ".join(f"{k} {_short(v)}" for k, v in headline.items() if not isinstance(v, (dict, list)))
        lines.append(f"| `{name}` | {run.config.method.name} | {m['steps']:,} | {m.get('training_minutes')} | "
                     f"{m.get('cpu_minutes') if m.get('cpu_minutes') is not None else 'n/a'} | "
                     f"{m['bytes'] / 1e6:.1f} | {m.get('n_samples', '?')} | {figures} |")
    return lines


def commands(folder: Path) -> list[str]:
    out = []
    for name in shipped_names(folder):
        m = ShippedRun(name, folder=folder).manifest
        out += [f"- `{name}`: trained with `{m['command']}`; exported with `{m.get('export_command', '?')}`"
                + (f"; CPU time: {m['cpu_note']}" if m.get("cpu_note") else "")]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folder", type=Path, default=None, help="default: the installed package's gensci/weights")
    ap.add_argument("--commands", action="store_true", help="also list each model's training and export commands")
    args = ap.parse_args()
    folder = args.folder or weights_dir()
    print("\n".join(rows(folder) + ([""] + commands(folder) if args.commands else [])))


if __name__ == "__main__":
    main()
