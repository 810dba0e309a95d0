"""tau_int of |m| (and of the energy per spin) for Metropolis, heat-bath and Wolff on the Ising target at beta_c,
per energy evaluation (= per sweep; a Wolff move counts |cluster| / L^2), at L = 8 and 16: critical slowing down for
the local kernels, not for Wolff. The figures of docs/energies.md, "Spins".

    python benchmarks/energies/spins.py               # 32 chains, 500 warm-up; 2,000 steps at L = 8, 3,000 at 16
"""

from __future__ import annotations

import math

import torch

from gensci.data.targets import target
from gensci.mcmc import HeatBath, SpinMetropolis, Wolff, run_chains
from gensci.mcmc.spins import random_spins
from gensci.metrics.sampling import integrated_time

from shared import parser, print_report, start

BETA_C = 0.5 * math.log(1 + math.sqrt(2))  # Onsager 1944: the square lattice's critical coupling


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--sizes", type=int, nargs="+", default=[8, 16], help="lattice sides L (even)")
    p.add_argument("--steps", type=int, nargs="+", default=[2000, 3000], help="recorded steps, one per size")
    p.add_argument("--warmup", type=int, default=500)
    p.add_argument("--chains", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    if len(args.steps) != len(args.sizes):
        p.error(f"--steps needs one value per size ({len(args.sizes)}), got {len(args.steps)}")
    load = start(args)
    rows = []
    for size, n in zip(args.sizes, args.steps):
        t = target("ising", L=size, beta=BETA_C)
        for kernel in (SpinMetropolis, HeatBath, Wolff):
            g = torch.Generator().manual_seed(args.seed)
            r = run_chains(t, random_spins(args.chains, size, g), kernel(), n_steps=n, warmup=args.warmup,
                           generator=g)
            obs = t.observables(r.samples.flatten(0, 1))
            # energy evaluations per step and chain; run_chains counts one more per chain for the start state
            per_step = (r.counts.energy - args.chains) / (args.chains * (n + args.warmup))
            tau_m = integrated_time(obs["abs_magnetisation"].view(n, -1))
            tau_e = integrated_time(obs["energy_per_spin"].view(n, -1))
            rows.append([str(size), kernel.__name__, str(n), f"{per_step:.3f}", f"{tau_m:.2f}",
                         f"{tau_m * per_step:.1f}", f"{tau_e * per_step:.1f}"])
    print_report(["L", "kernel", "steps", "energy evaluations per step", "τ_int(\\|m\\|) in steps",
                  "τ_int(\\|m\\|) per energy evaluation", "τ_int(e) per energy evaluation"], rows, load,
                 [f"β_c = {BETA_C:.4f}, {args.chains} chains from random spins, {args.warmup} warm-up steps, "
                  f"seed {args.seed}."])


if __name__ == "__main__":
    main()
