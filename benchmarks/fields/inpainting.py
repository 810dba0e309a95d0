"""Inpainting benchmark of a diffusion run on fields or images (`gensci evaluate RUN --input --mask`).

    python benchmarks/fields/inpainting.py RUN [--n-maps 8] [--fraction 0.5] [--n 16] [--steps S] [--sampler NAME]
                                        [--measurement-noise s]
                                        [--seed 0] [--threads 1] [--report benchmarks/fields/README.md]

Draws the first --n-maps maps of the run's test split (the truth) and a random-pixel mask hiding --fraction of the
pixels (gensci.ops.pixel_masks.random_pixel_mask, seeded), writes them to RUN/inpainting_input/{maps,mask}.npz, runs
`gensci evaluate RUN --input ... --mask ... --json` (K = --n DPS posterior samples per map) and inserts a table
(RMSE on hidden pixels of the posterior mean, of the Gaussian conditional-mean baseline, of biharmonic inpainting
and of mean fill; 90 %
interval coverage and what a calibrated sampler with the same K would get; wall seconds, load average) with the
exact command into --report's history (a dated section at its top).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from gensci.ops.pixel_masks import random_pixel_mask
from gensci.workflows.base import Run

KEYS = ["inpainting_rmse", "baseline_inpainting_rmse", "biharmonic_inpainting_rmse", "lognormal_inpainting_rmse",
        "exact_posterior_rmse_at_k", "mean_fill_rmse", "coverage_90", "coverage_90_if_calibrated", "baseline_coverage_90", "n_maps", "samples_per_map", "masked_fraction", "measurement_noise", "sampler", "sampling_steps"]


def write_input(run: Path, n_maps: int, fraction: float, seed: int) -> tuple[Path, Path]:
    maps = Run(run).data.test.tensors["x"][:n_maps]
    mask = random_pixel_mask(len(maps), maps.shape[-1], 1 - fraction, torch.Generator().manual_seed(seed))
    folder = run / "inpainting_input"
    folder.mkdir(exist_ok=True)
    np.savez(folder / "maps.npz", images=maps.numpy())
    np.savez(folder / "mask.npz", mask=mask.numpy()[:, 0].astype(np.uint8))
    return folder / "maps.npz", folder / "mask.npz"


def input_parser(doc: str) -> argparse.ArgumentParser:
    """The arguments that choose the run, its test maps and the mask (write_input), with --seed and --report."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("--n-maps", type=int, default=8)
    ap.add_argument("--fraction", type=float, default=0.5, help="hidden fraction of the pixels")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--report", type=Path, default=Path(__file__).with_name("README.md"))
    return ap


def main() -> None:
    ap = input_parser(__doc__)
    ap.add_argument("--n", type=int, default=16, help="posterior samples per map")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--sampler", default=None, help="the run's default when not given")
    ap.add_argument("--measurement-noise", type=float, default=None)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    maps, mask = write_input(args.run, args.n_maps, args.fraction, args.seed)
    command = ["gensci", "evaluate", str(args.run), "--input", str(maps), "--mask", str(mask), "--n", str(args.n),
               "--seed", str(args.seed), "--json"]
    command += ["--steps", str(args.steps)] if args.steps else []
    command += ["--sampler", args.sampler] if args.sampler else []
    command += ["--measurement-noise", str(args.measurement_noise)] if args.measurement_noise is not None else []
    env = os.environ | {"OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    start = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, env=env)
    if out.returncode:
        sys.exit(out.stderr.strip() or out.stdout.strip())
    seconds, load = time.perf_counter() - start, os.getloadavg()[0]
    metrics = json.loads(out.stdout)
    row = [f"{metrics[k]:.4g}" if isinstance(metrics.get(k), float) else str(metrics.get(k)) for k in KEYS]
    text = [f"### {time.strftime('%Y-%m-%d')}: inpainting, {args.run.name}: {args.n_maps} test maps, "
            f"{args.fraction:.0%} of pixels hidden at random, K = {args.n}", "",
            "```", " ".join(shlex.quote(a) for a in ["python", *sys.argv]), "# which ran:",
            " ".join(shlex.quote(a) for a in command), "```", "",
            "| " + " | ".join(KEYS + ["wall_s", "load_1min"]) + " |", "|" + "---|" * (len(KEYS) + 2),
            "| " + " | ".join(row + [f"{seconds:.0f}", f"{load:.1f}"]) + " |", "",
            f"RMSE in the data's units on hidden pixels; figure: {metrics.get('figure')}.", ""]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from common import add_to_history  # benchmarks/common.py: a dated section at the top of the history

    add_to_history(args.report, "\n".join(text))
    print("\n".join(text))


if __name__ == "__main__":
    main()
