"""Forward-backward correctors for a lattice-diffusion run's sampler (an experiment; not in the sampler).

    python benchmarks/lattices/lattice_corrector.py RUN LABELS N VARIANT [VARIANT ...]

LABELS: temperature indices, comma-separated (e.g. 5,7); N lattices per temperature (seed 0). Each VARIANT is
STEPS:K:LO:HI[:DELTA]: STEPS ancestral steps; after each step that lands at s with LO <= abar_s <= HI, K times:
noise the lattice forward to u = s + DELTA (default: the step's own t) and take the reverse step from u back to s
(with an exact denoiser each round trip would leave the marginal at s unchanged, a Gibbs-like move). Prints the
energy per spin ± its standard error against the data's, and the seconds per variant (benchmarks/lattices/README.md,
section "Training on the data's symmetries, and the exact denoiser").
"""

from __future__ import annotations

import sys
import time

import torch

from gensci.methods.diffusion import discrete
from gensci.methods.diffusion.samplers import time_grid
from gensci.ops.ising import energy
from gensci.workflows.base import Run


@torch.no_grad()
def sample(method, label: int, n: int, steps: int, k: int, lo: float, hi: float, delta: int, generator) -> torch.Tensor:
    x = discrete.sample_prior(method.uniform, (n, *method.shape), generator)
    grid = time_grid(method.config.timesteps, steps)
    posterior = method.posterior(torch.full((n,), label))

    def back(x, t, s):
        return method.reverse_chain(x, [t, s], posterior, generator)

    for t, s in zip(grid[:-1], grid[1:]):
        x = back(x, t, s)
        if s > 0 and lo <= float(method.abar[s]) <= hi:
            u = s + delta if delta else t
            for _ in range(k):
                x = back(discrete.sample_noisy(x, method.abar[u] / method.abar[s], method.uniform, generator), u, s)
    return method.values[x]


def main() -> None:
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    torch.set_num_threads(1)
    run = Run(sys.argv[1])
    method = run.method().eval()
    labels, n, variants = [int(v) for v in sys.argv[2].split(",")], int(sys.argv[3]), sys.argv[4:]
    temperatures, test = run.info["temperatures"], run.data.test.tensors
    print("| T | data E | " + " | ".join(variants) + " |\n" + "|---" * (len(variants) + 2) + "|")
    for label in labels:
        data = energy(test["x"][test["label"] == label][:, 0])
        row = [f"{temperatures[label]}", f"{data.mean():.3f}"]
        for variant in variants:
            steps, k, lo, hi, *delta = variant.split(":")
            start = time.perf_counter()
            e = energy(sample(method, label, n, int(steps), int(k), float(lo), float(hi),
                              int(delta[0]) if delta else 0, torch.Generator().manual_seed(0))[:, 0])
            row.append(f"{e.mean():.3f} ± {e.std() / len(e) ** 0.5:.3f} ({time.perf_counter() - start:.0f} s)")
        print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
