"""Spread of EDM's NLL estimate against the times t per molecule (method.nll_t_samples, method.nll_t_sampling).

    python benchmarks/molecules/edm_nll_variance.py RUN --molecules 100 --seeds 8 --k 1,2,4,8 [--checkpoint last]
                                                    [--threads 1]

A trained run's model (EMA weights), a seeded random subset of its test split, and for each way of drawing t
(uniform, importance) and each K: the NLL of every molecule under `seeds` generator seeds. Reports the mean NLL,
the per-molecule std over seeds (the noise of one molecule's estimate), the std over seeds of the subset's mean
NLL (the noise of the reported figure), the network calls per molecule (K + 1), the measured seconds per
molecule, std^2 x calls (lower is better at equal cost) and the spread of the molecules' NLLs (std across molecules
of their seed-averaged estimates: the part of a subset's mean that more t samples cannot remove). Inserts a dated
section with the table into the history of benchmarks/molecules/README.md (or --report).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import add_to_history, command_line  # noqa: E402

from gensci.workflows.base import Run  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path)
    ap.add_argument("--molecules", type=int, default=100)
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--k", default="1,2,4,8")
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--checkpoint", default="last", choices=["last", "best"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--report", type=Path, default=Path(__file__).with_name("README.md"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    run = Run(args.run)
    method, test = run.method(checkpoint=args.checkpoint), run.data.test
    rows = torch.randperm(len(test), generator=torch.Generator().manual_seed(0))[: args.molecules]
    rows = rows.sort().values.tolist()
    batches = [{k: v.to(method.device) for k, v in test.__getitems__(rows[i : i + args.batch_size])[0].items()}
               for i in range(0, len(rows), args.batch_size)]
    lines = [f"### {time.strftime('%Y-%m-%d')}: EDM NLL estimator, {args.run.name}, {run.loaded_from}, EMA weights: "
             f"{len(rows)} test molecules x {args.seeds} seeds, `uptime`: {os.getloadavg()[0]:.1f}", "",
             f"`{command_line()}`", "",
             "| nll_t_sampling | nll_t_samples K | calls / molecule | mean NLL | per-molecule std | std of the mean | "
             "std^2 x calls (per molecule) | s / molecule | spread across molecules |", "|---|---|---|---|---|---|---|---|---|"]
    for sampling, k in [(s, int(v)) for s in ("uniform", "importance") for v in args.k.split(",")]:
        method.config.nll_t_samples, method.config.nll_t_sampling = k, sampling
        start = time.perf_counter()
        draws = torch.stack([torch.cat([method.log_likelihood(b, torch.Generator(device=method.device).manual_seed(s))
                                        for b in batches]) for s in range(args.seeds)]).double()  # [seeds, molecules]
        seconds = (time.perf_counter() - start) / draws.numel()
        per_molecule = float(draws.std(0).mean())
        lines.append(f"| {sampling} | {k} | {k + 1} | {float(draws.mean()):.2f} | {per_molecule:.2f} | "
                     f"{float(draws.mean(1).std()):.2f} | {per_molecule**2 * (k + 1):.0f} | {seconds:.4f} | "
                     f"{float(draws.mean(0).std()):.1f} |")
        print(lines[-1], flush=True)
    add_to_history(args.report, "\n".join(lines))


if __name__ == "__main__":
    main()
