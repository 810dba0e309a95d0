"""The property evaluators of EDM's conditional protocol: train, export, time, and the label-only baselines.

    python benchmarks/conditional/train_evaluator.py train PROP [--epochs E] [--resume] [--out DIR] [--device D]
        [--limit-train N --limit-eval M]          (tiny runs; default run folder benchmarks/runs/qm9-property-PROP)
    python benchmarks/conditional/train_evaluator.py export PROP [--run DIR] [--folder src/gensci/weights/evaluators]
    python benchmarks/conditional/train_evaluator.py time [--batches 200]     (CPU seconds per batch -> per epoch)
    python benchmarks/conditional/train_evaluator.py baselines                (naive and #atoms from the labels)

PROP is one of alpha, gap, homo, lumo, mu, Cv. Training is gensci.workflows.property_evaluator.train_evaluator
(resumable: rerun with --resume after a stop); export writes PROP.safetensors + PROP.json, which
`gensci evaluate FILE --properties PROP` and gensci.workflows.property_evaluator.score_conditional use. Run with
OMP_NUM_THREADS=1 on a shared CPU. Results: benchmarks/conditional/README.md.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from gensci.workflows import property_evaluator as pe

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import command_line, load_average, run_main  # noqa: E402  (benchmarks/common.py)

CPU_BUDGET_EPOCHS = 18  # about 1.5 CPU-hours per property on this machine (README: "CPU budget")


def train(args) -> None:
    run = Path(args.out) if args.out else pe.run_dir_of(args.property)
    config = None
    if not args.resume:
        config = pe.EvaluatorConfig(property=args.property, epochs=args.epochs, device=args.device,
                                    limit_train=args.limit_train, limit_eval=args.limit_eval)
    line = pe.train_evaluator(run, config, resume=args.resume, progress=not args.quiet)
    print(line)


def export(args) -> None:
    run = Path(args.run) if args.run else pe.run_dir_of(args.property)
    config = pe.EvaluatorConfig(**yaml.safe_load((run / "config.yaml").read_text()))
    limits = "".join(f" --{k.replace('_', '-')} {v}" for k, v in config.model_dump().items()
                     if k.startswith("limit_") and v is not None)
    config_cmd = (f"python benchmarks/conditional/train_evaluator.py train {args.property} --epochs {config.epochs}"
                  f"{limits} --out {run}")
    path = pe.export_evaluator(run, Path(args.folder) if args.folder else None,
                               command=f"OMP_NUM_THREADS=1 {config_cmd}; {command_line()}")
    print(path)


def time_epoch(args) -> None:
    """CPU seconds per training batch (batch 96, the full first half's shapes) and an epoch's extrapolation, the
    validation pass (17,748 molecules, forward only) included."""
    config = pe.EvaluatorConfig(property="alpha", limit_eval=2000)
    data = pe.evaluator_data(config)
    train = data["train"]
    torch.manual_seed(0)
    net = config.net()
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
    order = torch.randperm(len(train["y"]), generator=torch.Generator().manual_seed(0))
    warmup = 5
    for b in range(args.batches + warmup):
        if b == warmup:
            cpu0, wall0, load0 = time.process_time(), time.perf_counter(), load_average()
        idx = order[b * config.batch_size:(b + 1) * config.batch_size]
        loss = (net(train["one_hot"][idx], train["positions"][idx], train["node_mask"][idx]) - train["y"][idx]).abs()
        optimizer.zero_grad()
        loss.mean().backward()
        optimizer.step()
    cpu_batch, wall_batch = (time.process_time() - cpu0) / args.batches, (time.perf_counter() - wall0) / args.batches
    c0 = time.process_time()
    pe._predict(net, data["valid"], config.eval_batch_size, torch.device("cpu"))
    cpu_valid = (time.process_time() - c0) / len(data["valid"]["y"]) * 17_748
    n_batches = math.ceil(50_000 / config.batch_size)
    epoch = cpu_batch * n_batches + cpu_valid
    print(f"{command_line()}\ntorch threads {torch.get_num_threads()}, load {load0:.2f} -> {load_average():.2f}\n"
          f"train batch: {cpu_batch * 1000:.0f} ms CPU ({wall_batch * 1000:.0f} ms wall) over {args.batches} batches; "
          f"{n_batches} batches/epoch -> {cpu_batch * n_batches / 60:.1f} CPU-min; validation pass "
          f"{cpu_valid / 60:.1f} CPU-min; epoch {epoch / 60:.1f} CPU-min; 1.5 CPU-hours = {5400 / epoch:.1f} epochs")


def baselines(args) -> None:
    """EDM's naive and #atoms baselines from the labels alone: naive with a perfect evaluator (the second half
    against its own shuffled labels, mean of 5 seeds), #atoms = the first half's per-count median on the second."""
    from gensci.data import qm9
    from gensci.metrics import properties as m

    arrays = qm9.load_arrays()
    first, second = qm9.split_rows("train", "first_half"), qm9.split_rows("train", "second_half")
    n1, n2 = arrays["n_atoms"][first], arrays["n_atoms"][second]
    print(f"{command_line()}\n| property | naive | EDM naive | ratio | #atoms | EDM #atoms | ratio | unit |\n"
          "|---|---|---|---|---|---|---|---|")
    for name in pe.PROPERTIES:
        unit, scale = m.EDM_UNITS[name]
        y2 = m.edm_values(name, arrays[name][second], n2)
        naive = float(np.mean([m.naive_mae(y2, y2, seed=s) for s in range(5)])) * scale
        medians = m.n_atoms_medians(n1, arrays[name][first])
        atoms = m.mae(m.n_atoms_predict(medians, n2), arrays[name][second]) * scale
        edm_naive, edm_atoms = m.PUBLISHED["naive"][name], m.PUBLISHED["n_atoms"][name]
        print(f"| {name} | {naive:.4g} | {edm_naive:g} | {naive / edm_naive:.3f} | {atoms:.4g} | {edm_atoms:g} | "
              f"{atoms / edm_atoms:.3f} | {unit} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train (or --resume) one property's evaluator")
    p.add_argument("property", choices=pe.PROPERTIES)
    p.add_argument("--epochs", type=int, default=CPU_BUDGET_EPOCHS, help="EDM: 1000; default: the CPU budget")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--out", help="run folder (default benchmarks/runs/qm9-property-PROP)")
    p.add_argument("--device", default="auto")
    p.add_argument("--limit-train", type=int)
    p.add_argument("--limit-eval", type=int)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(fn=train)
    p = sub.add_parser("export", help="ship a finished evaluator (safetensors + manifest)")
    p.add_argument("property", choices=pe.PROPERTIES)
    p.add_argument("--run", help="run folder (default benchmarks/runs/qm9-property-PROP)")
    p.add_argument("--folder", help="destination (default src/gensci/weights/evaluators)")
    p.set_defaults(fn=export)
    p = sub.add_parser("time", help="CPU time of an epoch, extrapolated from --batches batches")
    p.add_argument("--batches", type=int, default=200)
    p.set_defaults(fn=time_epoch)
    p = sub.add_parser("baselines", help="naive and #atoms baselines from the labels, against EDM's table")
    p.set_defaults(fn=baselines)
    args = parser.parse_args()
    args.fn(args)


if __name__ == "__main__":
    run_main(main)
