"""DDIM on a field-diffusion run with its steps placed along other time grids: is the grid what DDIM-50 lacks?

`python benchmarks/fields/ddim_time_grid.py RUN --power 1 2 0.75 0.5 --steps 50 --n 64` runs `gensci evaluate RUN --json
--sampler ddim --steps S --n N --seed 0` once per power p, in this process, with the sampler's times t_k =
round(T (k / S)^p) (k = S .. 0, repeats dropped) instead of the even grid (p = 1, gensci's). p = 2 is the DDIM
paper's "quadratic" selection (Song et al. 2021, appendix D.2: more steps at low noise); p < 1 puts more at high
noise. Prints a markdown table of the `*_within_2sigma` verdicts. One thread.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json

import torch

import gensci.methods.field_diffusion as field_diffusion
from gensci.cli import app


def power_grid(power: float):
    def grid(timesteps: int, steps: int | None = None) -> list[int]:
        steps = timesteps if steps is None else int(steps)
        return sorted({round(timesteps * (k / steps) ** power) for k in range(steps + 1)}, reverse=True)
    return grid


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run")
    ap.add_argument("--power", type=float, nargs="+", default=[1.0, 2.0])
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--n", type=int, default=64)
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows = []
    for power in args.power:
        field_diffusion.time_grid = power_grid(power)
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            app(["evaluate", args.run, "--json", "--sampler", "ddim", "--steps", str(args.steps), "--n", str(args.n),
                 "--seed", "0"])
        metrics = json.loads(out.getvalue())
        metrics = metrics.get("metrics", metrics)
        keys = [k for k in metrics if k.endswith("_within_2sigma")]
        if not rows:
            rows += ["| p | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
        rows.append(f"| {power:g} | " + " | ".join(f"{metrics[k]:.2f}" for k in keys) + " |")
        print(rows[-1], flush=True)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
