"""Measure a trained SMILES VAE run: MOSES metrics on n samples with 95 % intervals, and latent optimisation.

    python benchmarks/smiles/smiles_vae.py RUN [--n 1000] [--seed 0] [--optimize logp --n-optimize 100] [--json OUT]

Intervals: Wilson score intervals for validity, unique@1000 and novelty (binomial proportions over the molecules
each is a fraction of); for FCD the spread over --replicates further independent draws of n molecules (seeds
seed+1, ...; a bootstrap that resamples molecules with replacement is biased upwards, since duplicates shrink the
activations' covariance). Latent optimisation: the mean RDKit-scored change of the property over the
molecules valid before and after, with a bootstrap interval over those molecules.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np
import torch

from gensci.chem.properties import canonical_smiles
from gensci.methods.base import SamplingOptions
from gensci.metrics.smiles import chemnet_activations, frechet_distance
from gensci.workflows.base import Run
from gensci.workflows.smiles import data_reference, data_train_set, draw_smiles, measure
from gensci.workflows.smiles_latent import optimize_molecules


def wilson(k: int, n: int, z: float = 1.96) -> list[float]:
    if n == 0:
        return [float("nan"), float("nan")]
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(centre - half, 4), round(centre + half, 4)]


def bootstrap(values: np.ndarray, statistic, n_boot: int = 200, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    stats = [statistic(values[rng.integers(0, len(values), len(values))]) for _ in range(n_boot)]
    return [round(float(np.percentile(stats, 2.5)), 4), round(float(np.percentile(stats, 97.5)), 4)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--optimize", default="logp")
    parser.add_argument("--n-optimize", type=int, default=100)
    parser.add_argument("--json", default=None)
    parser.add_argument("--replicates", type=int, default=4, help="further draws of n molecules for FCD's spread")
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    run = Run(args.run)
    method = run.method()
    smiles = draw_smiles(method, run.info, args.n, args.seed, SamplingOptions(batch_size=500))
    reference, train = data_reference(run.config.data), data_train_set(run.config.data)
    m = measure(smiles, reference, train)
    canonical = [c for c in map(canonical_smiles, smiles) if c is not None]
    first = canonical[:1000]
    distinct = set(canonical)
    m["validity_ci95"] = wilson(len(canonical), len(smiles))
    m["unique_at_1000_ci95"] = wilson(len(set(first)), len(first))
    m["novelty_ci95"] = wilson(len(distinct - train), len(distinct))
    fcds, validities = [], []
    for k in range(1, args.replicates + 1):
        more = draw_smiles(method, run.info, args.n, args.seed + k, SamplingOptions(batch_size=500))
        valid = [c for c in map(canonical_smiles, more) if c is not None]
        validities.append(len(valid) / len(more))
        if len(valid) >= 2:
            act = chemnet_activations(valid)
            fcds.append(frechet_distance(reference.fcd_mu, reference.fcd_sigma, act.mean(0), np.cov(act.T)))
    m["replicates"] = {"seeds": [args.seed + k for k in range(1, args.replicates + 1)],
                       "fcd": [round(f, 3) for f in fcds], "validity": validities}
    m["step"] = run.loaded_from
    if args.n_optimize:
        rows, summary = optimize_molecules(method, run.info, args.optimize, args.n_optimize, args.seed)
        p = args.optimize
        pairs = np.array([(r[f"start_{p}"], r[p]) for r in rows if r[f"start_{p}"] is not None and r[p] is not None])
        m["optimize"] = {"property": p, "summary": summary, "n": args.n_optimize, "n_valid_both": len(pairs),
                         "n_valid_after": sum(r[p] is not None for r in rows)}
        if len(pairs):
            diff = pairs[:, 1] - pairs[:, 0]
            m["optimize"] |= {"mean_before": round(float(pairs[:, 0].mean()), 4),
                              "mean_after": round(float(pairs[:, 1].mean()), 4),
                              "mean_change": round(float(diff.mean()), 4), "mean_change_ci95": bootstrap(diff, np.mean)}
    m["benchmark_seconds"] = round(time.perf_counter() - start, 1)
    text = json.dumps(m, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
