"""What no sampler can beat on lensing inpainting: the exact posterior mean and the mean of K exact draws.

    python benchmarks/fields/inpainting_bounds.py RUN [--n-maps 8] [--fraction 0.5] [--k 64] [--measurement-noise 0.1]
                                           [--seed 0] [--report benchmarks/fields/README.md]

Draws the same test maps and random-pixel mask as benchmarks/fields/inpainting.py (its `write_input`) and measures,
on the hidden pixels, without sampling the run's model: the linear Gaussian baseline (gensci.ops.kriging), the
conditional mean in log space (the exact posterior mean of a shifted lognormal field: the lowest expected error of
any estimator) and the expected error of the mean of K exact posterior draws (gensci.workflows.inpainting
`lognormal_bounds`). Inserts a table with the command into --report's history (a dated section at its top).
"""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

import numpy as np

from gensci.metrics.inpainting import hidden_rmse
from gensci.ops.kriging import gaussian_conditional, periodic_covariance
from gensci.workflows.base import Run
from gensci.workflows.inpainting import lognormal_bounds

sys.path.insert(0, str(Path(__file__).parent))
from inpainting import input_parser, write_input  # noqa: E402


def main() -> None:
    ap = input_parser(__doc__)
    ap.add_argument("--k", type=int, default=64, help="posterior samples per map of the sampler compared")
    ap.add_argument("--measurement-noise", type=float, default=0.1)
    args = ap.parse_args()
    maps_file, mask_file = write_input(args.run, args.n_maps, args.fraction, args.seed)
    run = Run(args.run)
    truth = np.load(maps_file)["images"].astype(np.float64)
    mask = np.load(mask_file)["mask"][:, None].astype(np.float64)
    train = run.data.train.tensors["x"].numpy()
    linear, _ = gaussian_conditional(truth, mask, *periodic_covariance(train), args.measurement_noise)
    bounds = lognormal_bounds(run.info, truth, mask, train, args.measurement_noise, args.k)
    if not bounds:
        sys.exit(f"{args.run}: not a one-cosmology lensing run without shape noise; no exact posterior to compare")
    row = {"baseline_inpainting_rmse": hidden_rmse(truth, mask, linear)} | bounds
    text = [f"### {time.strftime('%Y-%m-%d')}: inpainting bounds, {args.run.name}: the exact posterior on {args.n_maps} "
            f"test maps, {args.fraction:.0%} hidden, K = {args.k}", "", "```", " ".join(shlex.quote(a) for a in ["python", *sys.argv]), "```", "",
            "| " + " | ".join(row) + " |", "|" + "---|" * len(row), "| " + " | ".join(f"{v:.4f}" for v in row.values()) + " |", ""]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from common import add_to_history  # benchmarks/common.py: a dated section at the top of the history

    add_to_history(args.report, "\n".join(text))
    print("\n".join(text))


if __name__ == "__main__":
    main()
