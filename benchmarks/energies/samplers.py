"""Random-walk Metropolis, MALA, HMC and HMC with jittered steps on the 2-D double well U = 2 (x1^2 - 1)^2 + x2^2/2
(a 2 kT barrier at x1 = 0): adapted step size, acceptance, tau_int of x1 and of U, ESS of x1 per energy + gradient
evaluation (warm-up included). The table of docs/energies.md, "Results so far".

    python benchmarks/energies/samplers.py            # 16 chains, 1,000 warm-up + 5,000 recorded steps, float64
"""

from __future__ import annotations

import torch

from gensci.mcmc import HMC, MALA, RandomWalkMetropolis, run_chains
from gensci.metrics.sampling import integrated_time

from shared import parser, print_report, start


class TwoKTDoubleWell:
    """U = 2 (x1^2 - 1)^2 + x2^2 / 2: a symmetric well with a 2 kT barrier, not the registered "double-well" target
    (Noé et al.'s x1^4 - 6 x1^2 + x1 + x2^2/2, whose barrier no local sampler crosses in a short run)."""

    has_gradient = True

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        return 2 * (x[:, 0] ** 2 - 1) ** 2 + 0.5 * x[:, 1] ** 2

    def grad_energy(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([8 * x[:, 0] * (x[:, 0] ** 2 - 1), x[:, 1]], 1)


def kernels(jitter: float) -> list[tuple[str, object]]:
    # initial step sizes only: each is adapted during warm-up (dual averaging) and then frozen
    return [("random-walk Metropolis", RandomWalkMetropolis(0.5)), ("MALA", MALA(0.5)),
            ("HMC, 10 leapfrog steps", HMC(0.2, 10)), (f"the same with jitter {jitter}", HMC(0.2, 10, jitter=jitter))]


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--chains", type=int, default=16)
    p.add_argument("--steps", type=int, default=5000, help="recorded steps per chain")
    p.add_argument("--warmup", type=int, default=1000)
    p.add_argument("--jitter", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0, help="start states from seed, chains from seed + 1")
    args = p.parse_args()
    load = start(args)
    x0 = torch.randn(args.chains, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(args.seed))
    rows = []
    for name, kernel in kernels(args.jitter):
        r = run_chains(TwoKTDoubleWell(), x0, kernel, n_steps=args.steps, warmup=args.warmup,
                       generator=torch.Generator().manual_seed(args.seed + 1))
        x1 = r.samples[..., 0]
        tau = integrated_time(x1)
        evaluations = r.counts.energy + r.counts.gradient
        rows.append([name, f"{r.step_size:.3f}", f"{r.acceptance:.3f}", f"{tau:.1f}",
                     f"{integrated_time(r.energies):.1f}", f"{x1.numel() / tau / evaluations:.2e}"])
    print_report(["sampler", "adapted ε", "acceptance", "τ_int(x₁)", "τ_int(U)",
                  "ESS per energy + gradient evaluation"], rows, load,
                 [f"{args.chains} chains in float64, {args.warmup} warm-up and {args.steps} recorded steps, "
                  f"seed {args.seed}."])


if __name__ == "__main__":
    main()
