"""galaxy-diffusion: a short CPU training, then samplers side by side (time per sample, the image metrics).

    nice -n 10 python benchmarks/images/galaxy_diffusion.py [--minutes 6] [--out runs/bench-field-diffusion] [--n 64]

Trains `galaxy-diffusion` for --minutes of training time in a child process (`gensci train ... --set
train.threads=1`), then in this process (1 thread) draws --n samples with each of DDPM ancestral and DDIM at 50
steps (same seed, same class mix) and measures them with the image workflow's metrics against the test images;
DDIM at 50 steps and ancestral at 100 (the cost of 1000 steps follows per call) are timed on --n-full samples. Writes
benchmarks/images/README.md (a dated section at the top of its history).
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
from gensci.metrics.images import image_metrics
from gensci.workflows.base import Run
from gensci.workflows.images import draw, images_of, reference_net, trained_classes, value_range

KEYS = ["pixel_hist_distance", "power_spectrum_distance", "class_accuracy", "kd_local", "fd_local", "precision",
        "coverage", "duplicate_rate", "mode_collapse"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=4.0)
    ap.add_argument("--out", type=Path, default=Path("runs/bench-field-diffusion"))
    ap.add_argument("--n", type=int, default=24)
    ap.add_argument("--n-full", type=int, default=1)
    ap.add_argument("--reuse", action="store_true", help="measure an existing run without training")
    args = ap.parse_args()
    torch.set_num_threads(1)
    load = os.getloadavg()
    train_cmd = [sys.executable, "-m", "gensci", "train", "galaxy-diffusion", "--out", str(args.out), "--quiet",
                 "--max-minutes", str(args.minutes), "--set", "train.threads=1", "--set", "train.eval_every=null",
                 "--set", "train.log_every=5"]
    if not args.reuse:
        subprocess.run(train_cmd, check=True, env=os.environ | {"OMP_NUM_THREADS": "1"})
    run = Run(args.out)
    train = [r for r in run.history() if r.get("kind") == "train"]
    method, data = run.method(), run.data
    real, _ = images_of(data.test, trained_classes(data.info))
    judge = reference_net(data, run.config).judge()
    rows = {}
    for name, sampler, steps, n in [("DDPM ancestral, 50 steps", "ancestral", 50, args.n),
                                    ("DDIM (eta 0), 50 steps", "ddim", 50, args.n),
                                    ("DDIM (eta 0), 50 steps, timing", "ddim", 50, args.n_full),
                                    ("DDPM ancestral, 100 of 1000 steps, timing", "ancestral", 100, args.n_full)]:
        start = time.perf_counter()
        fake, labels = draw(method, n, seed=0, options=SamplingOptions(steps=steps, sampler=sampler, batch_size=n))
        seconds = time.perf_counter() - start
        row = {"samples": n, "s_per_sample": round(seconds / n, 3)}
        if n >= 16:
            m = image_metrics(fake, real, judge, labels=labels, value_range=value_range(data))
            row |= {k: m[k] for k in KEYS if k in m}
        rows[name] = row
        print(name, json.dumps(row), flush=True)
    write_md(args, train_cmd, train, rows, load, os.getloadavg())


def write_md(args, train_cmd, train, rows, load_before, load_after) -> None:
    steps = train[-1]["step"] if train else 0
    minutes = train[-1]["time"] / 60 if train else 0
    loss = train[-1].get("loss") if train else None
    cols = ["samples", "s_per_sample"] + KEYS
    lines = [
        f"### {time.strftime('%Y-%m-%d')}: galaxy-diffusion, a short CPU training, DDPM vs DDIM sampling",
        "",
        "Command: `nice -n 10 python benchmarks/images/galaxy_diffusion.py " + f"--minutes {args.minutes} --n {args.n} "
        f"--n-full {args.n_full}` (training: `{' '.join(['gensci'] + train_cmd[3:])}`; sampling and metrics in one "
        "process, 1 thread).",
        f"Machine: 2 shared CPU cores, load average {load_before[0]:.1f} before and {load_after[0]:.1f} after "
        "(other engineers' tests and a background training ran at the same time: absolute times are inflated; the "
        "ratios between rows were measured in one process, one after the other).",
        "",
        f"Training: {steps} steps of 32 images in {minutes:.1f} min (loss {loss if loss is None else round(loss, 4)}). "
        "This is far too short for good samples (DDPM trains for 800k steps); the numbers show that the pipeline runs "
        "and what sampling costs, not the model's quality.",
        "",
        "Metrics against the test images (gensci.metrics.images; feature metrics in the reference classifier's "
        "features; class_accuracy: samples classified as their requested class). Samples: same seed and class "
        "mix for every sampler.",
        "",
        "| sampler | " + " | ".join(cols) + " |",
        "|---|" + "---|" * len(cols),
    ]
    for name, row in rows.items():
        cells = [f"{row[c]:.4g}" if isinstance(row.get(c), float) else str(row.get(c, "")) for c in cols]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    part, ddim = rows.get("DDPM ancestral, 100 of 1000 steps, timing"), rows.get("DDIM (eta 0), 50 steps, timing")
    if part and ddim:
        per_call_anc, per_call_ddim = part["s_per_sample"] / 101, ddim["s_per_sample"] / 51  # + the final step
        full = per_call_anc * 1001
        lines += ["", f"Per network call at batch {part['samples']}: {per_call_anc:.3f} s (ancestral), "
                  f"{per_call_ddim:.3f} s (DDIM): a step costs one call either way. Ancestral sampling over all 1000 "
                  f"steps therefore costs about {full:.1f} s per sample (1001 calls x the measured ancestral call; "
                  f"not run in full to keep within the time limit), {full / ddim['s_per_sample']:.0f}x DDIM at 50 "
                  "steps. Rows without metrics are timed only."]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from common import add_to_history  # benchmarks/common.py: a dated section at the top of the history

    add_to_history(Path(__file__).with_name("README.md"), "\n".join(lines))


if __name__ == "__main__":
    main()
