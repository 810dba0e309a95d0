"""The mode-collapse flag on synthetic cases with known answers (the table in
gensci.metrics.images.mode_collapse's docstring).

    python benchmarks/images/mode_collapse_cases.py [--n 600] [--threads 1]

600 "samples" per case against the 600 simulated 64x64 test galaxies, in the features of the
galaxies' reference network (seed 0, default recipe; trained once and cached):
real training images; the same blurred (5x5 box); with strong pixel noise (sigma 0.1, clipped to
the declared [0, 1] as a generator's output would be); only ellipticals; 50 images copied 12 times;
5 images copied 120 times. Inserts a dated section into the history of benchmarks/images/README.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from gensci.config import load_config
from gensci.metrics.images import MAX_DUPLICATES, MIN_CLASSIFIABLE, collapse_reason, image_metrics
from gensci.workflows.base import load_data
from gensci.workflows.images import reference_net, value_range


def cases(train_x: torch.Tensor, train_y: torch.Tensor, n: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    real = train_x[torch.randperm(len(train_x), generator=g)[:n]]
    noisy = (real + 0.1 * torch.randn(real.shape, generator=g)).clamp(0, 1)
    return {
        "real training images": real,
        "blurred (5x5 box)": torch.nn.functional.avg_pool2d(real, 5, 1, 2, count_include_pad=False),
        "strong pixel noise (sigma 0.1)": noisy,
        "only ellipticals": train_x[train_y == 1][:n],
        "50 images copied": real[:50].repeat(n // 50, 1, 1, 1),
        "5 images copied": real[:5].repeat(n // 5, 1, 1, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    config = load_config("galaxy-gan")
    data = load_data(config)
    ref = reference_net(data, config)
    real_test = data.test.tensors["x"][: args.n]
    rows = []
    for name, x in cases(data.train.tensors["x"], data.train.tensors["label"], args.n).items():
        m = image_metrics(x, real_test, ref.judge(), value_range=value_range(data))
        mix = ", ".join(f"{c:.2f}" for c in m["class_mix"])
        arms = (["duplicates"] if m["duplicate_rate"] > MAX_DUPLICATES else []) + \
               [f"class {k} dropped" for k in m["dropped_classes"]]
        flag = f"yes: {', '.join(arms)}" if m["mode_collapse"] else ("no" if m["precision"] >= MIN_CLASSIFIABLE else
                                                                      "no (classes not judged)")
        rows.append(f"| {name} | {m['precision']:.2f} | {m['coverage']:.2f} | {m['duplicate_rate']:.2f} | {mix} | {flag} |")
        print(rows[-1], "|", collapse_reason(m), flush=True)
    real_mix = ", ".join(f"{c:.2f}" for c in m["class_mix_real"])
    lines = [
        f"### {time.strftime('%Y-%m-%d')}: the mode-collapse flag on synthetic cases",
        "",
        f"Command: `python benchmarks/images/mode_collapse_cases.py --n {args.n} --threads {args.threads}`  ",
        f"Date {time.strftime('%Y-%m-%d')}. {args.n} images per case against the first {args.n} simulated 64x64 test "
        f"galaxies (data seed 0); features of the galaxies' reference network (seed 0, held-out accuracy "
        f"{ref.accuracy:.3f}, chance {ref.chance:.3f}). Real test mix as the network sees it: {real_mix}. "
        "Flag = duplicate rate > 0.2, or a real class generated at under a fifth of its real rate (judged when at "
        "least half of the samples lie in the real feature manifold, precision >= 0.5).",
        "",
        "| samples | precision | coverage | duplicate rate | class mix (barred, elliptical, spiral) | flag |",
        "|---|---|---|---|---|---|",
        *rows,
    ]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from common import add_to_history  # benchmarks/common.py: a dated section at the top of the history

    add_to_history(Path(__file__).with_name("README.md"), "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
