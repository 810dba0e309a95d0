"""Speed of the EDM denoiser (EGNN) on CPU: training step variants and sampling time per molecule.

    python benchmarks/egnn_speed.py --config published|small --repeats N [--threads T] [--compile] [--bf16]
    python benchmarks/egnn_speed.py --mode sample --config published --repeats N

Training mode times forward + backward of the denoiser at batch 64 with QM9's real size mix (sizes drawn from
EDM's training histogram, mean ~18 of 29 atoms), all variants on the same batches, interleaved, median over
repeats:
  reference     plain dense EGNN over all 29 x 29 padded pairs, concatenating [h_i, h_j, d] (the reference's work)
  dense-trim    split first layer, dense [B, N, N, H] on the batch trimmed to its largest molecule
  dense-sorted  the same on size-sorted batches (64 molecules of nearly equal size)
  buckets       dense per group of similar sizes inside the network (groups chosen per batch)
  edges         split first layer, edge list over real pairs only (gensci's default)
  edges+compile torch.compile of the edge-list network (--compile; compile time reported; "buckets" is not
                compiled: its per-group shapes make torch.compile recompile)
  edges+bf16    bf16 autocast, fp32 master weights (--bf16; needs CPU bf16 hardware, else very slow)
  edm-step      a whole EDM.train_step (--impl, compiled with --compile; AdamW amsgrad step included)
Sampling mode times one denoiser call (no grad) for the reference (padded to 29, batch 10 as the baseline) and
for edges (batch 10 and 100), and extrapolates to seconds per molecule for S reverse steps ((S + 1) calls),
checked against one end-to-end EDM.sample run.
Reference figures: ../shared/baselines/edm_cpu.md (11.4 s/step published, 1.36 s small; 52.9 s/molecule).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from gensci.methods.base import SamplingOptions
from gensci.config import TrainConfig
from gensci.methods.edm import EDM, EDMConfig
from gensci.nets.egnn import reference_forward
from gensci.testing import SimpleStepper

# EDM configs/datasets_config.py qm9_with_h n_nodes: the training split's atom-count histogram
QM9_HIST = {22: 3393, 17: 13025, 23: 4848, 21: 9970, 19: 13832, 20: 9482, 16: 10644, 13: 3060, 15: 7796,
            25: 1506, 18: 13364, 12: 1689, 11: 807, 24: 539, 14: 5136, 26: 48, 7: 16, 10: 362, 8: 49,
            9: 124, 27: 266, 4: 4, 29: 25, 6: 9, 5: 5, 3: 1}
INFO = {"atom_types": ["H", "C", "N", "O", "F"], "atomic_numbers": [1, 6, 7, 8, 9], "max_n_atoms": 29,
        "n_nodes_hist": {str(k): v for k, v in QM9_HIST.items()}}
CONFIGS = {"published": dict(hidden_nf=256, n_layers=9), "small": dict(hidden_nf=128, n_layers=4)}
REFERENCE = {"published": (11.4, 52.9), "small": (1.36, 8.5)}  # s/step at batch 64, s/molecule at 1000 steps


def qm9_like_batch(b: int, generator: torch.Generator, sizes: torch.Tensor | None = None) -> dict:
    """Random molecules with QM9's size mix, in the data's batch format (padded to 29)."""
    if sizes is None:
        ns, p = torch.tensor(list(QM9_HIST)), torch.tensor(list(QM9_HIST.values()), dtype=torch.float)
        sizes = ns[torch.multinomial(p, b, replacement=True, generator=generator)]
    mask = (torch.arange(29) < sizes[:, None]).float()
    x = torch.randn(b, 29, 3, generator=generator) * 1.5 * mask[..., None]
    x = (x - x.sum(1, keepdim=True) / sizes[:, None, None]) * mask[..., None]
    types = torch.randint(0, 5, (b, 29), generator=generator)
    return {"positions": x, "one_hot": torch.nn.functional.one_hot(types, 5).float() * mask[..., None],
            "charges": torch.tensor([1.0, 6, 7, 8, 9])[types][..., None] * mask[..., None], "node_mask": mask}


def sorted_batches(b: int, k: int, generator) -> list[dict]:
    """k batches cut from k*b size-sorted molecules (what a size-bucketing loader would give)."""
    ns, p = torch.tensor(list(QM9_HIST)), torch.tensor(list(QM9_HIST.values()), dtype=torch.float)
    sizes = ns[torch.multinomial(p, b * k, replacement=True, generator=generator)].sort().values
    return [qm9_like_batch(b, generator, sizes[i * b : (i + 1) * b]) for i in range(k)]


def denoiser_step(method: EDM, batch: dict, forward=None, autocast: bool = False) -> None:
    """Forward + backward of the denoiser on a noised batch (what dominates a training step)."""
    z, mask = method.encode(batch)
    z_t = 0.7 * z + 0.7 * method.noise(z.shape, mask)
    h = torch.cat([z_t[..., 3:], torch.full_like(z_t[..., :1], 0.5)], -1)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        h_out, x_out = (method.net if forward is None else forward)(h, z_t[..., :3], mask)
    (h_out.float().square().sum() + x_out.square().sum()).backward()
    method.zero_grad(set_to_none=True)


def timed(fn, cpu: list | None = None) -> float:
    """Wall seconds of fn(); appends the process CPU seconds to `cpu` (robust to other processes on the
    machine when torch runs one thread)."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    if cpu is not None:
        cpu.append(time.process_time() - c0)
    return time.perf_counter() - t0


def bf16_hardware() -> bool:
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def bench_train(args) -> None:
    torch.manual_seed(0)
    cfg = EDMConfig(**CONFIGS[args.config])
    method = EDM(cfg, INFO)
    gen = torch.Generator().manual_seed(0)

    def impl(name: str, sorted_batch: bool = False, compile: bool = False):
        def run(b, s):
            method.net.impl, method.net.compile = name, compile
            denoiser_step(method, s if sorted_batch else b)
            method.net.impl, method.net.compile = "edges", False
        return run

    variants = {
        "reference": lambda b, s: denoiser_step(method, b, lambda h, x, m: reference_forward(method.net, h, x, m)),
        "dense-trim": impl("dense"),
        "dense-sorted": impl("dense", sorted_batch=True),
        "buckets": impl("buckets"),
        "edges": impl("edges"),
    }
    notes = []
    if args.compile:
        method.net.compile = True
        t = timed(lambda: denoiser_step(method, qm9_like_batch(64, gen)))
        method.net.compile = False
        notes.append(f"torch.compile (edges): first call (compilation) {t:.0f} s")
        variants["edges+compile"] = impl("edges", compile=True)
    if args.bf16:
        notes.append(f"CPU bf16 hardware (mkldnn): {bf16_hardware()}")
        variants["edges+bf16"] = lambda b, s: denoiser_step(method, b, autocast=True)
    trainer = EDM(cfg.model_copy(update={"egnn_impl": args.impl, "compile": args.compile}), INFO)
    stepper = SimpleStepper(trainer.optimizers(TrainConfig(lr=1e-4)))
    variants["edm-step"] = lambda b, s: trainer.train_step(b, 0, stepper)
    if args.variants:
        keep = args.variants.split(",")
        variants = {k: v for k, v in variants.items() if k in keep or k == "reference"}
        if "reference" not in keep:
            variants.pop("reference")
    for fn in variants.values():  # warm-up
        fn(qm9_like_batch(64, gen), sorted_batches(64, 1, gen)[0])
    times, cpu = {k: [] for k in variants}, {k: [] for k in variants}
    loads = [os.getloadavg()[0]]
    sorted_list = sorted_batches(64, args.repeats, gen)
    for r in range(args.repeats):
        batch = qm9_like_batch(64, gen)
        for name, fn in variants.items():
            times[name].append(timed(lambda: fn(batch, sorted_list[r]), cpu[name]))
        loads.append(os.getloadavg()[0])
    ref_step = REFERENCE[args.config][0]
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\n## training, config {args.config} ({cfg.n_layers} layers, {cfg.hidden_nf} hidden), batch 64, "
          f"{torch.get_num_threads()} threads, {args.repeats} repeats")
    print(f"load average (1 min) during the run: {min(loads):.1f}-{max(loads):.1f}; " + "; ".join(notes))
    cpu_med = {k: statistics.median(v) for k, v in cpu.items()}
    print("\n| variant | median s/step (wall) | min | CPU s/step | molecules/s (wall) | vs reference, wall | "
          f"vs reference, CPU | vs baseline {ref_step} s/step |\n|---|---|---|---|---|---|---|---|")
    for name, m in med.items():
        versus = (f"{med['reference'] / m:.2f}x | {cpu_med['reference'] / cpu_med[name]:.2f}x"
                  if "reference" in med else "- | -")
        print(f"| {name} | {m:.3f} | {min(times[name]):.3f} | {cpu_med[name]:.3f} | {64 / m:.1f} | {versus} | "
              f"{ref_step / m:.2f}x |")


def bench_sample(args) -> None:
    torch.manual_seed(0)
    method = EDM(EDMConfig(**CONFIGS[args.config]), INFO).eval()
    gen = torch.Generator().manual_seed(0)

    def call(batch, forward=None, pad_to_29=False, impl="edges", compile=False):
        method.net.impl, method.net.compile = impl, compile
        z, mask = method.encode(batch)
        if not pad_to_29:  # gensci's sampler works on the batch trimmed to its largest molecule
            n = int(mask.sum(1).max())
            z, mask = z[:, :n], mask[:, :n]
        h = torch.cat([z[..., 3:], torch.full_like(z[..., :1], 0.5)], -1)
        with torch.inference_mode():
            (method.net if forward is None else forward)(h, z[..., :3], mask)

    ref = lambda h, x, m: reference_forward(method.net, h, x, m)  # noqa: E731
    variants = {"reference (batch 10, padded to 29)": (10, lambda b: call(b, ref, True))}
    for size in map(int, args.sample_batches.split(",")):
        variants[f"edges (batch {size})"] = (size, lambda b: call(b))
        variants[f"buckets (batch {size})"] = (size, lambda b: call(b, impl="buckets"))
        if args.compile:
            variants[f"edges+compile (batch {size})"] = (size, lambda b: call(b, compile=True))
    if args.compile:
        t = timed(lambda: call(qm9_like_batch(10, gen), compile=True))
        print(f"torch.compile (edges, no grad): first call (compilation) {t:.0f} s")
    times, cpu = {k: [] for k in variants}, {k: [] for k in variants}
    loads = [os.getloadavg()[0]]
    for _ in range(args.repeats):
        for name, (b, fn) in variants.items():
            batch = qm9_like_batch(b, gen)
            times[name].append(timed(lambda: fn(batch), cpu[name]) / b)
            cpu[name][-1] /= b
        loads.append(os.getloadavg()[0])
    steps = (1000, 500, 250, 100, 50)
    print(f"\n## sampling, config {args.config}, {torch.get_num_threads()} threads, {args.repeats} repeats; "
          f"load average {min(loads):.1f}-{max(loads):.1f}")
    print("seconds per molecule = (S + 1) denoiser calls x median CPU seconds per call and molecule\n")
    print("| variant | wall s/call/molecule | CPU s/call/molecule | " + " | ".join(f"S={s}" for s in steps)
          + " | vs baseline 1000 steps |")
    print("|---|---|---|" + "---|" * len(steps) + "---|")
    base = REFERENCE[args.config][1]
    for name in variants:
        per = statistics.median(cpu[name])
        cells = " | ".join(f"{per * (s + 1):.2f}" for s in steps)
        ratios = f"{base / (per * 1001):.1f}x at 1000, {base / (per * 101):.0f}x at 100"
        print(f"| {name} | {statistics.median(times[name]):.4f} | {per:.4f} | {cells} | {ratios} |")
    method.net.impl, method.net.compile = method.config.egnn_impl, method.config.compile
    c = []
    t = timed(lambda: method.sample(100, generator=gen, options=SamplingOptions(steps=args.check_steps)), c)
    print(f"\nend-to-end check ({method.config.egnn_impl}): EDM.sample(100 molecules, {args.check_steps} steps) "
          f"took {t:.1f} s wall, {c[0]:.1f} s CPU = {c[0] / 100 / (args.check_steps + 1):.4f} CPU s/call/molecule")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", choices=list(CONFIGS), default="published")
    parser.add_argument("--mode", choices=["train", "sample"], default="train")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--compile", action="store_true", help="add the torch.compile variant")
    parser.add_argument("--impl", default="edges", choices=["edges", "dense", "buckets"], help="edm-step's EGNN")
    parser.add_argument("--bf16", action="store_true", help="add the bf16 autocast variant")
    parser.add_argument("--variants", default=None, help="training mode: comma-separated subset of the variants")
    parser.add_argument("--sample-batches", default="10,100", help="sampling mode: molecules per denoiser call")
    parser.add_argument("--check-steps", type=int, default=20, help="sampling mode: steps of the end-to-end check")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}, "
          f"{os.cpu_count()} CPUs, bf16 hardware {bf16_hardware()}")
    (bench_train if args.mode == "train" else bench_sample)(args)


if __name__ == "__main__":
    main()
