"""Speed of DiGress (the qm9-digress preset) on CPU, against the qm9-midi preset's model, measured in one process.

    python benchmarks/digress_speed.py --mode train --repeats 8 --threads 1 [--variants a,b] [--compile-midi]
    python benchmarks/digress_speed.py --mode sample --repeats 3 --threads 1 [--sample-batch 250] [--check-steps 10]

Training mode: a whole train_step (corruption, extra features, forward, backward, AdamW) at the presets' batch (64)
on real training batches drawn at random (qm9-graph's heavy-atom graphs for DiGress, qm9-bonds' molecules with
hydrogens for MiDi: each model on the data its preset trains on), all variants on the same batches, interleaved,
median over repeats. Variants: the preset; the preset with the reference's dropout 0.1; the published size (9 layers,
256 wide); qm9-midi's model (flow matching, BondEGNN 6 x 128; eager unless --compile-midi, its preset compiles).
Sampling mode: method.sample of --sample-batch graphs with --check-steps steps, per graph and network call, and
times 100 and 500 calls. With 1 thread, CPU seconds (time.process_time) are robust to other processes on the machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from egnn_speed import timed  # noqa: E402  (wall seconds; CPU seconds appended)

from gensci.config import TrainConfig, load_config  # noqa: E402
from gensci.methods.base import SamplingOptions  # noqa: E402
from gensci.registry import DATASETS, METHODS  # noqa: E402
from gensci.testing import SimpleStepper  # noqa: E402

VARIANTS = {  # name -> (preset, method overrides)
    "digress preset (4L x 128)": ("qm9-digress", {}),
    "digress preset + dropout 0.1": ("qm9-digress", {"dropout": 0.1}),
    "digress published (9L x 256)": ("qm9-digress", {"n_layers": 9, "dx": 256, "de": 64, "dy": 64, "n_head": 8,
                                                      "ff_x": 256, "ff_e": 128, "ff_y": 128, "mlp_x": 256,
                                                      "mlp_e": 128, "mlp_y": 128, "dropout": 0.1}),
    "qm9-midi (BondEGNN 6L x 128)": ("qm9-midi", {}),
}


def build(name: str, compile_midi: bool, data_cache: dict):
    preset, overrides = VARIANTS[name]
    config = load_config(preset)
    if preset not in data_cache:
        data_cache[preset] = DATASETS.get(config.data.name).load(config.data)
    data = data_cache[preset]
    if config.method.name == "midi":
        overrides = overrides | {"compile": compile_midi}
    method_config = type(config.method)(**(config.method.model_dump() | overrides))
    torch.manual_seed(0)
    return METHODS.get(config.method.name)(method_config, data.info), data


def batches(data, n: int, size: int, generator: torch.Generator) -> list[dict]:
    rows = torch.randint(0, len(data.train), (n, size), generator=generator)
    return [data.collate(data.train.__getitems__(r.tolist())) for r in rows]


def chosen(args) -> list[str]:
    return [n for n in VARIANTS if not args.variants or any(v in n for v in args.variants.split(","))]


def bench_train(args) -> None:
    gen, cache, runs = torch.Generator().manual_seed(0), {}, {}
    for name in chosen(args):
        method, data = build(name, args.compile_midi, cache)
        stepper = SimpleStepper(method.optimizers(TrainConfig(lr=1e-4)))
        todo = batches(data, args.repeats + 1, 64, gen)
        runs[name] = (method, stepper, todo)
        t = timed(lambda: method.train_step(todo[0], 0, stepper))  # warm-up (compilation with --compile-midi)
        print(f"{name}: first step {t:.1f} s, {sum(p.numel() for p in method.parameters()) / 1e6:.2f} M parameters",
              flush=True)
    wall, cpu = {k: [] for k in runs}, {k: [] for k in runs}
    loads = [os.getloadavg()[0]]
    for r in range(1, args.repeats + 1):
        for name, (method, stepper, todo) in runs.items():
            wall[name].append(timed(lambda: method.train_step(todo[r], r, stepper), cpu[name]))
        loads.append(os.getloadavg()[0])
    ref = statistics.median(cpu[chosen(args)[0]])
    print(f"\n## training step, batch 64, {torch.get_num_threads()} threads, {args.repeats} repeats, "
          f"MiDi compiled: {args.compile_midi}; load average (1 min) {min(loads):.1f}-{max(loads):.1f}\n")
    print("| variant | parameters | wall s/step | CPU s/step | graphs/s (CPU) | CPU vs first row |")
    print("|---|---|---|---|---|---|")
    for name, (method, _, _) in runs.items():
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        params = sum(p.numel() for p in method.parameters()) / 1e6
        print(f"| {name} | {params:.2f} M | {w:.3f} | {c:.3f} | {64 / c:.0f} | {c / ref:.2f}x |")


def bench_sample(args) -> None:
    gen, cache = torch.Generator().manual_seed(0), {}
    methods = {name: build(name, args.compile_midi, cache)[0].eval() for name in chosen(args)}
    n, s = args.sample_batch, args.check_steps

    def run(name):
        methods[name].sample(n, generator=gen, options=SamplingOptions(steps=s, batch_size=n))

    for name in methods:  # warm-up
        timed(lambda: run(name))
    wall, cpu = {k: [] for k in methods}, {k: [] for k in methods}
    loads = [os.getloadavg()[0]]
    for _ in range(args.repeats):
        for name in methods:
            wall[name].append(timed(lambda: run(name), cpu[name]) / (n * s))
            cpu[name][-1] /= n * s
        loads.append(os.getloadavg()[0])
    print(f"\n## sampling, {n} graphs per batch, {s} steps per run, {torch.get_num_threads()} threads, "
          f"{args.repeats} repeats; load average {min(loads):.1f}-{max(loads):.1f}\n")
    print("| variant | CPU s/call/graph | CPU s/graph, 100 steps | CPU s/graph, 500 steps | wall s/graph, 500 steps |")
    print("|---|---|---|---|---|")
    for name in methods:
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        print(f"| {name} | {c:.5f} | {c * 100:.3f} | {c * 500:.3f} | {w * 500:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["train", "sample"], default="train")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--variants", default=None, help="comma-separated substrings of the variant names")
    parser.add_argument("--compile-midi", action="store_true", help="torch.compile MiDi's network (as its preset)")
    parser.add_argument("--sample-batch", type=int, default=250, help="sampling mode: graphs per batch")
    parser.add_argument("--check-steps", type=int, default=10, help="sampling mode: steps per timed run")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}, {os.cpu_count()} CPUs")
    (bench_train if args.mode == "train" else bench_sample)(args)


if __name__ == "__main__":
    main()
