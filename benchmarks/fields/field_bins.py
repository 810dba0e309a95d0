"""Which bins of a lensing run's verdicts fail: per bin, (generated - real) / sigma of each field statistic.

    gensci sample RUN --n 500 --sampler dpmpp2m --steps 50 --seed 0 --out maps.npz
    python benchmarks/fields/field_bins.py RUN maps.npz

The statistics and sigma are those of `gensci evaluate` (gensci.metrics.fields.field_metrics against the run's test
maps); a bin fails its verdict where |z| > 2. Prints one line per statistic with the bins' centres (ell, kappa /
pixel std, threshold nu, peak height), so a systematic miss (a tail, a scale) shows apart from scatter.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from gensci.metrics.fields import field_metrics
from gensci.workflows.base import Run


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path)
    ap.add_argument("samples", type=Path, help="maps [N, 1, S, S] written by gensci sample (key images)")
    args = ap.parse_args()
    run = Run(args.run)
    generated = np.load(args.samples)["images"]
    real = run.data.test.tensors["x"].numpy()
    flat = lambda m: m.reshape(len(m), *m.shape[-2:])  # noqa: E731
    metrics, comparisons, (_, real_stats) = field_metrics(flat(generated), flat(real), run.data.info["pixel_arcmin"])
    print(f"{len(generated)} generated vs {len(real)} test maps:",
          ", ".join(f"{k} {v:.3g}" for k, v in metrics.items()))
    centres = {"power": ("ell", real_stats.ell), "pdf": ("kappa/std", real_stats.pixel_centres / real.std()),
               "v0": ("nu", real_stats.nu), "v1": ("nu", real_stats.nu), "v2": ("nu", real_stats.nu),
               "peaks": ("height", real_stats.peak_centres)}
    np.set_printoptions(precision=1, suppress=True, linewidth=200)
    for name, c in comparisons.items():
        label, where = centres[name]
        z = (c.generated - c.real) / c.sigma
        print(f"{name}: {int((np.abs(z) <= 2).sum())}/{z.size} within; z {z}")
        print(f"  {label} {np.asarray(where, np.float64)}")


if __name__ == "__main__":
    main()
