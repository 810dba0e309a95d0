"""Speed of the MiDi method (BondEGNN) on CPU against gensci's EDM small config, measured in one process.

    python benchmarks/midi_speed.py --mode train --repeats 8 --threads 1 [--compile] [--variants a,b]
    python benchmarks/midi_speed.py --mode sample --repeats 3 --threads 1 [--compile] [--sample-batch 50]

Training mode: a whole train_step (corruption incl. equivariant OT for flow, forward, backward, AdamW) at batch 64
with QM9's size mix (EDM's training histogram, mean ~18 atoms; random positions/types/charges/bonds: speed does
not depend on the values), all variants on the same batches, interleaved, median over repeats; EDM small
(4 layers x 128, edge list) is timed the same way (EDM.train_step). Sampling mode: method.sample of
`--sample-batch` molecules with `--check-steps` steps, per molecule and network call, and extrapolated to 100
steps (100 network calls for MiDi; 101 for EDM, whose last step adds one). With 1 thread, CPU seconds
(time.process_time) are robust to other processes on the machine; with 2 threads, wall seconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from egnn_speed import INFO as EDM_INFO, QM9_HIST, timed  # noqa: E402  (the same size mix and timer as EDM's)

from gensci.config import TrainConfig  # noqa: E402
from gensci.methods.base import SamplingOptions  # noqa: E402
from gensci.methods.edm import EDM, EDMConfig  # noqa: E402
from gensci.methods.midi import MiDi, MiDiConfig  # noqa: E402
from gensci.testing import SimpleStepper  # noqa: E402

INFO = {"atom_types": ["H", "C", "N", "O", "F"], "charge_values": [-1, 0, 1],
        "bond_types": ["none", "single", "double", "triple"], "max_n_atoms": 29,
        "n_nodes_hist": EDM_INFO["n_nodes_hist"], "atom_type_marginal": [0.51, 0.35, 0.06, 0.08, 0.002],
        "charge_marginal": [0.001, 0.998, 0.001], "bond_type_marginal": [0.88, 0.11, 0.007, 0.003]}
# name -> MiDiConfig overrides; "m" = message width, "L" = layers; default: 6 layers, 128 wide, message 32, edge 32
VARIANTS = {
    "midi m32 (default)": {},
    "midi m64": {"message_nf": 64},
    "midi m128 (EGNN-width messages)": {"message_nf": 128},
    "midi m64 4L": {"message_nf": 64, "n_layers": 4},
    "midi m64 256 wide": {"message_nf": 64, "hidden_nf": 256},
    "midi m32 diffusion": {"objective": "diffusion"},
    "midi m32 self-cond": {"self_condition": True},
}


def qm9_like_batch(b: int, generator: torch.Generator) -> dict:
    ns, p = torch.tensor(list(QM9_HIST)), torch.tensor(list(QM9_HIST.values()), dtype=torch.float)
    sizes = ns[torch.multinomial(p, b, replacement=True, generator=generator)]
    mask = (torch.arange(29) < sizes[:, None]).float()
    x = torch.randn(b, 29, 3, generator=generator) * 1.5 * mask[..., None]
    x = (x - x.sum(1, keepdim=True) / sizes[:, None, None]) * mask[..., None]
    types = torch.randint(0, 5, (b, 29), generator=generator)
    bonds = (torch.rand(b, 29, 29, generator=generator) < 0.1).long().triu(1)
    real = mask.bool()
    bonds = (bonds + bonds.transpose(1, 2)) * (real.unsqueeze(1) & real.unsqueeze(2))
    return {"positions": x, "node_mask": mask, "atom_types": torch.where(real, types, -1),
            "formal_charges": torch.zeros(b, 29, dtype=torch.long), "bonds": bonds,
            "one_hot": torch.nn.functional.one_hot(types, 5).float() * mask[..., None],
            "charges": torch.tensor([1.0, 6, 7, 8, 9])[types][..., None] * mask[..., None]}


def build(name: str, compile: bool):
    torch.manual_seed(0)
    if name.startswith("edm"):
        return EDM(EDMConfig(hidden_nf=128, n_layers=4, egnn_impl="edges", compile=compile), EDM_INFO)
    return MiDi(MiDiConfig(**VARIANTS[name], compile=compile), INFO)


def chosen(args) -> list[str]:
    names = ["edm small (4L x 128)"] + list(VARIANTS)
    return [n for n in names if not args.variants or any(v in n for v in args.variants.split(","))]


def bench_train(args) -> None:
    gen = torch.Generator().manual_seed(0)
    steps = {}
    for name in chosen(args):
        method = build(name, args.compile)
        stepper = SimpleStepper(method.optimizers(TrainConfig(lr=1e-4)))
        steps[name] = (method, lambda b, m=method, s=stepper: m.train_step(b, 0, s))
        t = timed(lambda: steps[name][1](qm9_like_batch(64, gen)))  # warm-up (compilation with --compile)
        print(f"{name}: first step {t:.1f} s, {sum(p.numel() for p in method.parameters()) / 1e6:.2f} M parameters")
    wall, cpu = {k: [] for k in steps}, {k: [] for k in steps}
    loads = [os.getloadavg()[0]]
    for _ in range(args.repeats):
        batch = qm9_like_batch(64, gen)
        for name, (_, fn) in steps.items():
            wall[name].append(timed(lambda: fn(batch), cpu[name]))
        loads.append(os.getloadavg()[0])
    edm = [k for k in steps if k.startswith("edm")]
    print(f"\n## training step, batch 64, {torch.get_num_threads()} threads, {args.repeats} repeats, "
          f"compile {args.compile}; load average (1 min) {min(loads):.1f}-{max(loads):.1f}\n")
    print("| variant | wall s/step | CPU s/step | molecules/s (wall) | CPU vs EDM small | wall vs EDM small |")
    print("|---|---|---|---|---|---|")
    for name in steps:
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        ratio = (f"{c / statistics.median(cpu[edm[0]]):.2f}x | {w / statistics.median(wall[edm[0]]):.2f}x"
                 if edm else "- | -")
        print(f"| {name} | {w:.3f} | {c:.3f} | {64 / w:.0f} | {ratio} |")


def bench_sample(args) -> None:
    gen = torch.Generator().manual_seed(0)
    methods = {name: build(name, args.compile).eval() for name in chosen(args)}
    n, s = args.sample_batch, args.check_steps
    calls = lambda name: s + 1 if name.startswith("edm") else s  # noqa: E731

    def run(name):
        methods[name].sample(n, generator=gen, options=SamplingOptions(steps=s, batch_size=n))

    for name in methods:  # warm-up (compilation with --compile)
        timed(lambda: run(name))
    wall, cpu = {k: [] for k in methods}, {k: [] for k in methods}
    loads = [os.getloadavg()[0]]
    for _ in range(args.repeats):
        for name in methods:
            wall[name].append(timed(lambda: run(name), cpu[name]) / (n * calls(name)))
            cpu[name][-1] /= n * calls(name)
        loads.append(os.getloadavg()[0])
    print(f"\n## sampling, {n} molecules per batch, {s} steps per run, {torch.get_num_threads()} threads, "
          f"{args.repeats} repeats, compile {args.compile}; load average {min(loads):.1f}-{max(loads):.1f}\n")
    print("| variant | wall s/call/molecule | CPU s/call/molecule | wall s/molecule at 100 steps | "
          "CPU s/molecule at 100 steps |\n|---|---|---|---|---|")
    for name in methods:
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        k = 101 if name.startswith("edm") else 100
        print(f"| {name} | {w:.5f} | {c:.5f} | {w * k:.3f} | {c * k:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["train", "sample"], default="train")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--compile", action="store_true", help="torch.compile every network")
    parser.add_argument("--variants", default=None, help="comma-separated substrings of the variant names")
    parser.add_argument("--sample-batch", type=int, default=50, help="sampling mode: molecules per batch")
    parser.add_argument("--check-steps", type=int, default=10, help="sampling mode: steps per timed run")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}, {os.cpu_count()} CPUs")
    (bench_train if args.mode == "train" else bench_sample)(args)


if __name__ == "__main__":
    main()
