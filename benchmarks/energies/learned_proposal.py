"""The seed's learned local proposal (gensci.mcmc.LearnedProposal) on the double-well target, untrained and trained
by S = E[p_acc ||x2 - x1||^2], against MALA with an adapted step: S per step, acceptance, and crossings between the
wells per 10^4 energy evaluations (a crossing: a chain's last-visited well, x1 < -1 or x1 > 1, changes). Training's
own evaluations are not counted in the trained row. The table of docs/energies.md, "The seed's learned local proposal".

    python benchmarks/energies/learned_proposal.py                # seeds 0 and 1, 256 chains, 1,000 training + 4,000 steps
    python benchmarks/energies/learned_proposal.py --train-steps 20 --steps 100 --chains 32             # seconds
"""

from __future__ import annotations

import torch

from gensci.data.targets import target
from gensci.mcmc import MALA, LearnedProposal, run_chains, train_learned_proposal
from gensci.mcmc.samplers import Counted

from shared import parser, print_report, start


def crossings(x1: torch.Tensor) -> int:
    """Moves between the wells in chains x1 [steps, B]: a chain's last-visited well (x1 < -1 or > 1) changes."""
    well = torch.zeros_like(x1[0])
    n = 0
    for row in x1:
        now = torch.where(row < -1, -1.0, torch.where(row > 1, 1.0, 0.0)).to(x1.dtype)
        n += int(((now != 0) & (well != 0) & (now != well)).sum())
        well = torch.where(now != 0, now, well)
    return n


def s_per_step(kernel: LearnedProposal, t, x: torch.Tensor, g: torch.Generator) -> float:
    """S = mean p_acc ||x2 - x1||^2 of one proposal from each state x."""
    with torch.no_grad():
        proposed, log_ratio = kernel.propose(x, Counted(t), g)  # log_ratio still lacks + U(x)
        p_acc = (log_ratio + t.energy(x)).clamp(max=0).exp()
        return float((p_acc * ((proposed.x - x) ** 2).sum(1)).mean())


def start_states(t, n: int, g: torch.Generator) -> torch.Tensor:
    """Chains at the bottom of either well, in the wells' exact proportion, so no chain starts on the barrier."""
    x0 = torch.zeros(n, 2, dtype=torch.float64)
    right = torch.rand(n, generator=g, dtype=torch.float64) < t.reference()["p_right"]
    x0[:, 0] = torch.where(right, 1.7, -1.8)
    return x0


def row(seed: int, name: str, r, s: str) -> list[str]:
    per_1e4 = crossings(r.samples[..., 0]) / r.counts.energy * 1e4
    return [str(seed), name, s, f"{r.acceptance:.2f}", f"{per_1e4:.2f}"]


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--chains", type=int, default=256)
    p.add_argument("--steps", type=int, default=4000, help="recorded steps per chain")
    p.add_argument("--train-steps", type=int, default=1000)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--probe", type=int, default=8, help="proposals per chain state for S")
    args = p.parse_args()
    load = start(args)
    t = target("double-well")
    rows = []
    for seed in args.seeds:
        g = torch.Generator().manual_seed(seed)
        kernel = LearnedProposal(2, scale=1.0, seed=seed)
        x0 = start_states(t, args.chains, g)
        s = s_per_step(kernel, t, x0.repeat(args.probe, 1), g)
        rows.append(row(seed, "learned, untrained", run_chains(t, x0, kernel, n_steps=args.steps, generator=g),
                        f"{s:.3f}"))
        fit = train_learned_proposal(kernel, t, start_states(t, args.chains, g), steps=args.train_steps, lr=args.lr,
                                     generator=g, progress=False)
        s = s_per_step(kernel, t, fit.state.x.repeat(args.probe, 1), g)
        rows.append(row(seed, "learned, trained", run_chains(t, fit.state.x, kernel, n_steps=args.steps, generator=g),
                        f"{s:.2f}"))
        r = run_chains(t, start_states(t, args.chains, g), MALA(0.5), n_steps=args.steps, warmup=500, generator=g)
        rows.append(row(seed, f"MALA (ε = {r.step_size:.3f}, adapted)", r, "-"))
    print_report(["seed", "kernel", "S per step", "acceptance", "crossings per 10⁴ energy evaluations"], rows, load,
                 [f"{args.chains} chains, {args.train_steps} training steps (lr {args.lr:g}), {args.steps} recorded "
                  "steps; MALA: 500 warm-up steps, counted."])


if __name__ == "__main__":
    main()
