"""Flow proposals trained on GMM-40 by reverse KL, forward KL or both, at the same budget (steps x batch): modes
covered, ESS/N and log Z (exact 0) from importance sampling, training energy evaluations; then exact chains with the
first seed's forward-KL flow (IndependenceMH, FlowMALA) against MALA alone, all chains started in one mode. The GMM-40
table of docs/energies.md, "Flow proposals trained on the energy".

    python benchmarks/energies/flows_gmm40.py         # 2,000 steps x 256, seeds 0 and 1: minutes
    python benchmarks/energies/flows_gmm40.py --steps 50 --seeds 0 --importance 2000 --chain-steps 50   # seconds
"""

from __future__ import annotations

import torch

from gensci.data.targets import target
from gensci.mcmc import MALA, FlowMALA, IndependenceMH, run_chains
from gensci.mcmc.flows import FlowProposal, importance_sampling, train_flow
from gensci.metrics.sampling import mean_with_error

from shared import markdown_table, parser, print_report, start

# a loss as the command line names it: (train_flow's loss, forward_weight, the table's label)
LOSSES = {"reverse": ("reverse_kl", 1.0, "reverse KL"), "forward": ("forward_kl", 1.0, "forward KL"),
          "both": ("both", 1.0, "both, 1:1"), "both10": ("both", 10.0, "both, forward × 10")}


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def train(gmm, loss: str, seed: int, exact: torch.Tensor, args) -> tuple[FlowProposal, int]:
    name, weight, _ = LOSSES[loss]
    q = FlowProposal(gmm, flow="nsf", transforms=4, hidden=(64, 64), generator=seeded(seed))  # seeded weights
    # max_grad_norm: a reverse-KL batch with one sample deep in a tail can throw the weights far (train_flow)
    run = train_flow(q, gmm, name, steps=args.steps, batch=args.batch, lr=args.lr, samples=exact,
                     generator=seeded(200 + seed), forward_weight=weight, eval_every=args.steps, max_grad_norm=100.0,
                     progress=False)
    return q, run.energy_evaluations


def chain_rows(gmm, q: FlowProposal, args) -> list[list[str]]:
    x0 = gmm.means[:1].repeat(args.chains, 1).float()  # every chain starts in the same mode
    rows = []
    for name, kernel in (("IndependenceMH", IndependenceMH(q)), ("FlowMALA", FlowMALA(q, step_size=0.5)),
                         ("MALA", MALA(0.5))):
        r = run_chains(gmm, x0, kernel, n_steps=args.chain_steps, warmup=100, generator=seeded(300))
        m = mean_with_error(r.samples[..., 0])
        rows.append([name, f"{r.acceptance:.2f}", f"{gmm.modes_found(r.samples.reshape(-1, 2))} / 40",
                     f"{m['mean']:+.2f} ± {m['error']:.2f}", str(r.counts.energy)])
    return rows


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--steps", type=int, default=2000, help="training steps per flow")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="flow weights, data and training seeds")
    p.add_argument("--losses", nargs="+", choices=list(LOSSES), default=list(LOSSES))
    p.add_argument("--exact-samples", type=int, default=100_000, help="exact GMM-40 samples for the forward KL")
    p.add_argument("--importance", type=int, default=20_000, help="importance samples per flow")
    p.add_argument("--min-count", type=int, default=20, help="a mode counts as found with this many samples")
    p.add_argument("--chains", type=int, default=64, help="exact chains with the first seed's forward-KL flow")
    p.add_argument("--chain-steps", type=int, default=1000, help="recorded chain steps; 0 skips the chains")
    args = p.parse_args()
    load = start(args)
    gmm = target("gmm-40", seed=0)
    rows, forward_flow = [], None
    for seed in args.seeds:
        exact = gmm.sample(args.exact_samples, seeded(100 + seed)).float()
        for loss in args.losses:
            q, evaluations = train(gmm, loss, seed, exact, args)
            res = importance_sampling(q, gmm, args.importance, seeded(300 + seed))
            found = gmm.modes_found(res["samples"], args.min_count)
            rows.append([str(seed), LOSSES[loss][2], f"{found} / 40", f"{res['ess_fraction']:.3f}",
                         f"{res['log_z']:+.3f} ± {res['error']:.3f}", f"{evaluations:,}"])
            if loss == "forward" and forward_flow is None:
                forward_flow = q
    notes = [f"NSF 4 × 64·64, {args.steps} steps × {args.batch}, lr {args.lr:g}; {args.exact_samples:,} exact "
             f"samples for the forward KL; {args.importance:,} importance samples."]
    if args.chain_steps > 0:
        if forward_flow is None:
            forward_flow, _ = train(gmm, "forward", args.seeds[0], gmm.sample(
                args.exact_samples, seeded(100 + args.seeds[0])).float(), args)
        mean = gmm.means.mean(0)[0]
        table = markdown_table(["kernel", "acceptance", "modes visited", f"mean x₁ (exact {mean:+.2f})",
                              "energy evaluations"], chain_rows(gmm, forward_flow, args))
        notes.append(f"Exact chains with the seed-{args.seeds[0]} forward-KL flow ({args.chains} chains started in one "
                     f"mode, 100 warm-up + {args.chain_steps} steps):\n\n{table}")
    print_report(["seed", "loss", f"modes with ≥ {args.min_count} of {args.importance:,} samples", "ESS/N",
                  "log Z (exact 0)", "training energy evaluations"], rows, load, notes)


if __name__ == "__main__":
    main()
