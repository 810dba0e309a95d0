"""Issue 11's targets for a trained field or lattice run: the physics verdicts of `gensci evaluate` per sampler,
and the time to sample at 50 steps (--time-sampler). Inserts a dated section into the history of the topic's report:
benchmarks/fields/README.md for field runs, benchmarks/lattices/README.md for lattice runs (or --report).

    python benchmarks/fields/field_targets.py RUN [--n 500] [--sampler ddim:50 ancestral:1000:50 ...] [--time-batch 50]

Each --sampler is NAME:STEPS[:N] (N samples; default --n) and runs
`gensci evaluate RUN --json --sampler NAME --steps STEPS --n N --seed 0` in a child process at one thread; NAME
`default` leaves --sampler out (the method's own sampler: lattice-diffusion has only one).
Timing: --time-sampler (default ddim) at 50 steps on --time-batch samples in this process, at 1 and 2 threads,
seconds per sample.
The verdicts' yardstick is the test data's own sample variance for n generated items (sigma grows as n shrinks),
so rows with different N are comparable only roughly; the table gives N.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from gensci.methods.base import SamplingOptions
from gensci.workflows.base import Run

FIELD_KEYS = ["power_spectrum_within_2sigma", "pdf_within_2sigma", "minkowski_within_2sigma",
              "peak_counts_within_2sigma", "pixel_ks"]
LATTICE_KEYS = ["observables_within_2sigma", "abs_m_within_2sigma", "energy_within_2sigma",
                "specific_heat_within_2sigma", "susceptibility_within_2sigma", "binder_within_2sigma",
                "correlation_within_2sigma", "sign_balance", "sign_balance_data"]


def evaluate(run: Path, sampler: str, steps: int, n: int, guidance: float | None) -> tuple[list[str], dict, float]:
    cmd = (["gensci", "evaluate", str(run), "--json"] + (["--sampler", sampler] if sampler != "default" else [])
           + ["--steps", str(steps), "--n", str(n), "--seed", "0"]
           + (["--guidance", str(guidance)] if guidance is not None else []))
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "gensci", *cmd[1:]], check=True, capture_output=True, text=True,
                         env=os.environ | {"OMP_NUM_THREADS": "1"}).stdout
    return cmd, json.loads(out), time.perf_counter() - start


def time_sampler(run: Path, batch: int, threads: int, sampler: str) -> float:
    torch.set_num_threads(threads)
    sampler = None if sampler == "default" else sampler
    method = Run(run).method()
    condition = 0 if "conditional" in method.capabilities else None  # the first class (temperature, cosmology)
    method.sample(2, condition, options=SamplingOptions(steps=2, sampler=sampler, batch_size=2))  # warm-up
    start = time.perf_counter()
    method.sample(batch, condition, torch.Generator().manual_seed(0),
                  SamplingOptions(steps=50, sampler=sampler, batch_size=batch))
    return (time.perf_counter() - start) / batch


def per_temperature(command: str, table: dict | None) -> list[str]:
    """A lattice run's observables per temperature: generated / Monte Carlo ± 2 sigma, * when within."""
    if not table:
        return []
    names = list(next(iter(table.values())))
    lines = ["", f"Per temperature, `{command}`: generated / Monte Carlo ± 2σ (* within):", "",
             "| T | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for t, observables in table.items():
        cells = [f"{o['generated']:.4g} / {o['data']:.4g} ± {2 * o['sigma']:.2g}"
                 + (" *" if abs(o["generated"] - o["data"]) <= 2 * o["sigma"] else "") for o in observables.values()]
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--sampler", nargs="+", default=["ddim:50"])
    ap.add_argument("--guidance", type=float, default=None, help="classifier-free guidance (conditional runs)")
    ap.add_argument("--time-batch", type=int, default=50, help="0: no timing")
    ap.add_argument("--time-sampler", default="ddim", help="the sampler timed at 50 steps")
    ap.add_argument("--report", type=Path, default=None, help="default: the fields or lattices report, by the run")
    args = ap.parse_args()
    load_before = os.getloadavg()[0]
    history = [r for r in Run(args.run).history() if r.get("kind") == "train"]
    rows = []
    for spec in args.sampler:
        name, steps, *n = spec.split(":")
        cmd, metrics, wall = evaluate(args.run, name, int(steps), int(n[0]) if n else args.n, args.guidance)
        rows.append((" ".join(cmd), metrics, wall))
        print(json.dumps({"sampler": spec, "wall_s": round(wall), **{k: v for k, v in metrics.items()
                                                                     if not isinstance(v, dict)}}), flush=True)
    timing = {t: time_sampler(args.run, args.time_batch, t, args.time_sampler) for t in (1, 2)} if args.time_batch else {}
    keys = LATTICE_KEYS if "observables_within_2sigma" in rows[0][1] else FIELD_KEYS
    last = history[-1] if history else {}
    lines = [f"### {time.strftime('%Y-%m-%d')}: {args.run.name}", "",
             f"`python benchmarks/fields/field_targets.py {args.run} --n {args.n} --sampler {' '.join(args.sampler)} "
             f"--time-batch {args.time_batch}" + (f" --guidance {args.guidance}" if args.guidance is not None else "") + "`",
             "",
             f"Run: {last.get('step')} steps in {last.get('time', 0) / 60:.0f} min of training (wall clock, one "
             f"thread; config in {args.run}/config.yaml). Load average {load_before:.1f} before, "
             f"{os.getloadavg()[0]:.1f} after (2 cores).", "",
             "| evaluate command | n | " + " | ".join(keys) + " | wall s |", "|---|---|" + "---|" * (len(keys) + 1)]
    for cmd, m, wall in rows:
        cells = [f"{m[k]:.3g}" if isinstance(m.get(k), float) else str(m.get(k, "")) for k in keys]
        lines.append(f"| `{cmd}` | {m.get('n_samples', '')} | " + " | ".join(cells) + f" | {wall:.0f} |")
    for cmd, m, _ in rows:
        lines += per_temperature(cmd, m.get("by_temperature"))
    if timing:
        lines += ["", f"{args.time_sampler}, 50 steps, batch {args.time_batch}: " + ", ".join(
            f"{s:.3f} s per sample at {t} thread{'s' if t > 1 else ''}" for t, s in timing.items()) + "."]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from common import add_to_history  # benchmarks/common.py: a dated section at the top of the history

    topic = "lattices" if keys is LATTICE_KEYS else "fields"
    add_to_history(args.report or Path(__file__).resolve().parents[1] / topic / "README.md", "\n".join(lines))


if __name__ == "__main__":
    main()
