"""Why galaxy-wgan-div did not learn: its critic's first steps under three Adam settings, and what the
generators produce. Reads run directories made by `gensci train galaxy-wgan-div ...` (the commands are in
benchmarks/images/README.md, section "Why galaxy-wgan-div did not learn") and prints markdown.

    python benchmarks/images/wgan_div.py NAME=RUN_DIR [NAME=RUN_DIR ...] [--steps 20,40,80,120,160,200] [--evaluate]

Per run: the critic's Wasserstein estimate E[D(real)] - E[D(fake)], the div penalty k E||grad D||^p and
the critic's gradient norm at the logged steps; with --evaluate also the image metrics of its last
checkpoint (1,000 samples) and the spread of 64 samples (mean pixel standard deviation over z: 0 when
every z gives the same image).
"""

from __future__ import annotations

import argparse

import torch

from gensci import api
from gensci.workflows.base import EvalOptions, Run


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+", help="NAME=RUN_DIR")
    ap.add_argument("--steps", default="20,40,80,120,160,200")
    ap.add_argument("--evaluate", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    steps = [int(s) for s in args.steps.split(",")]
    runs = {name: Run(path) for name, _, path in (r.partition("=") for r in args.runs)}
    print("| run | " + " | ".join(f"step {s}: W / div / |grad D|" for s in steps) + " |")
    print("|---|" + "---|" * len(steps))
    for name, run in runs.items():
        logs = {r["step"]: r for r in run.history() if r.get("kind") == "train"}
        cells = [f"{logs[s]['wasserstein']:.2f} / {logs[s]['div']:.3g} / {logs[s]['grad_norm/discriminator']:.3g}"
                 if s in logs else "-" for s in steps]
        print(f"| {name} | " + " | ".join(cells) + " |")
    if not args.evaluate:
        return
    print("\n| run | checkpoint | pixel std over z | precision | coverage | duplicate rate | kd_local | flag |")
    print("|---|---|---|---|---|---|---|---|")
    for name, run in runs.items():
        method = run.method()
        x = method.sample(64, generator=torch.Generator().manual_seed(0))["x"]
        m = api.evaluate(run, EvalOptions())
        print(f"| {name} | {run.loaded_from} | {float(x.std(0).mean()):.4f} | {m['precision']:.3f} | {m['coverage']:.3f} | "
              f"{m['duplicate_rate']:.3f} | {m['kd_local']:.3f} | {m['mode_collapse']} |", flush=True)


if __name__ == "__main__":
    main()
