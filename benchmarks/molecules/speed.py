"""Speed of molecule models on CPU: a whole training step, and sampling cost per molecule and network call, of every
model in one process on the same batches, against the first model and (--reference) the EDM reference code's work.

    python benchmarks/molecules/speed.py --mode train --models SPEC [SPEC ...] [--repeats 5] [--threads 1] [--reference]
    python benchmarks/molecules/speed.py --mode sample --models SPEC [SPEC ...] [--repeats 3] [--sample-batch 100]
                                         [--check-steps 10] [--at-steps 1000,500,250,100,50] [--reference]

SPEC is [LABEL=]PRESET[:key=value,...]: a preset's (or a YAML file's) model with method overrides, the values read
as `gensci train --set` reads them, e.g.
    "edm small=qm9-edm-small"  "midi m64=qm9-midi:message_nf=64"  "digress 9L=qm9-digress:n_layers=9,dx=256"
EDM's network variants are its own fields (egnn_impl=edges|dense|buckets, compile=true|false; MiDi has compile
too). Two keys belong to this harness, not to the method: batches=sorted (size-sorted batches, what a
size-bucketing loader would give) and autocast=bf16 (bf16 autocast around the step; needs CPU bf16 hardware).

Train mode: `method.train_step` (corruption, forward, backward, optimiser step; no clipping, which the trainer
owns) at --batch-size with the preset's optimiser, on batches of the preset's own data set (qm9 for EDM, qm9-bonds
for MiDi, qm9-graph for DiGress) drawn with seed 0 (models on the same data set get the same batches). Every model
takes one warm-up step (torch.compile compiles there; its seconds are printed), then the models run interleaved,
`--repeats` times; medians. Sample mode: `method.sample` of --sample-batch molecules with --check-steps steps,
per molecule and per network call (calls counted with a forward hook on the method's network at 2 and 3 steps,
so EDM's extra final call is counted, not assumed), extrapolated to --at-steps.
--reference: the plain dense EGNN over all 29 x 29 padded atom pairs that concatenates [h_i, h_j, d_ij, d0_ij]
as the EDM reference code does (ehoogeboom/e3_diffusion_for_molecules, egnn/egnn_new.py; `reference_forward`),
with the weights of the first EDM model: forward + backward of the denoiser on that model's batches padded to 29
atoms (train mode), one no-grad call per molecule at --reference-batch molecules padded to 29 (sample mode,
times EDM's S + 1 calls). Beside it, the reference code's own figures on the baseline machine
(../shared/baselines/edm_cpu.md: another CPU, so that ratio is across machines).
With 1 torch thread, CPU seconds (time.process_time) are robust to other jobs on the machine; wall seconds are not.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import add_to_history, command_line, load_average, run_main, timed  # noqa: E402

from gensci.config import load_config  # noqa: E402
from gensci.errors import UserError  # noqa: E402
from gensci.methods.base import SamplingOptions  # noqa: E402
from gensci.nets.egnn import EGNN, reference_forward  # noqa: E402
from gensci.registry import DATASETS, METHODS  # noqa: E402
from gensci.testing import SimpleStepper  # noqa: E402

# The EDM reference code on the baseline machine (../shared/baselines/edm_cpu.md, 2 threads, batch 64):
# (hidden_nf, n_layers) -> (name, s per training step, s per molecule sampled with 1000 steps)
REFERENCE_TABLE = {(256, 9): ("published", 11.4, 52.9), (128, 4): ("small", 1.36, 8.5)}
HARNESS_KEYS = {"batches": ("random", "sorted"), "autocast": ("none", "bf16")}


@dataclass
class Model:
    label: str
    method: torch.nn.Module
    data: object
    data_name: str
    train_config: object
    batches: str = "random"
    autocast: str = "none"
    wall: list = field(default_factory=list)
    cpu: list = field(default_factory=list)
    step: object = None  # train mode: step(r) runs one train_step on batch r
    calls: object = None  # sample mode: calls(S) = network calls of one sample() with S steps

    def context(self):
        return torch.autocast("cpu", dtype=torch.bfloat16) if self.autocast == "bf16" else nullcontext()

    @property
    def parameters(self) -> float:
        return sum(p.numel() for p in self.method.parameters()) / 1e6

    @property
    def edm_like(self) -> bool:
        return isinstance(getattr(self.method, "net", None), EGNN) and hasattr(self.method, "encode")


def split_top(text: str, sep: str = ",") -> list[str]:
    """Split at `sep` outside brackets (so list values such as [1,4,10] stay whole)."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(text):
        depth += (c in "[{(") - (c in "]})")
        if c == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return [p for p in parts + [text[start:]] if p]


def build(spec: str, cache: dict) -> Model:
    """A Model from SPEC ([LABEL=]PRESET[:key=value,...]), its data set loaded once per name (cache)."""
    head, _, rest = spec.partition(":")
    label, _, preset = head.rpartition("=")
    label, preset = label or spec, preset.strip()
    overrides, harness = [], {}
    for item in split_top(rest):
        key, eq, value = item.partition("=")
        if not eq:
            raise UserError(f"model {spec!r}: {item!r} is not key=value")
        if key in HARNESS_KEYS:
            if value not in HARNESS_KEYS[key]:
                raise UserError(f"model {spec!r}: {key} must be one of {', '.join(HARNESS_KEYS[key])}")
            harness[key] = value
        else:
            overrides.append(f"method.{key}={value}")
    config = load_config(preset, overrides)
    if config.data.name not in cache:
        cache[config.data.name] = DATASETS.get(config.data.name).load(config.data)
    data = cache[config.data.name]
    torch.manual_seed(0)
    method = METHODS.get(config.method.name)(config.method, data.info)
    return Model(label, method, data, config.data.name, config.train, **harness)


def draw_batches(data, k: int, size: int, generator: torch.Generator, order: str) -> list[dict]:
    """k training batches of `size` molecules at random rows; `sorted`: k * size rows sorted by atom count and cut
    into k batches of nearly equal sizes."""
    rows = torch.randint(0, len(data.train), (k * size,), generator=generator)
    if order == "sorted":
        sizes = data.collate(data.train.__getitems__(rows.tolist()))["node_mask"].sum(1)
        rows = rows[sizes.argsort(stable=True)]
    return [data.collate(data.train.__getitems__(rows[i * size:(i + 1) * size].tolist())) for i in range(k)]


def pad_atoms(batch: dict, n: int) -> dict:
    """The batch padded with zeros to n atoms per molecule (the reference code pads every molecule to 29)."""
    b, m = batch["node_mask"].shape
    out = {}
    for key, v in batch.items():
        if torch.is_tensor(v) and v.dim() >= 2 and v.shape[:2] == (b, m):
            pad = [0, 0] * (v.dim() - 2) + [0, n - m]
            v = torch.nn.functional.pad(v, pad)
        out[key] = v
    return out


def reference_call(method, batch: dict, grad: bool) -> None:
    """The EDM reference code's network work on `batch` padded to the data's largest molecule: its dense
    concatenating EGNN on a noised input at t = 0.5; with `grad`, forward + backward (a training step's bulk)."""
    z, mask = method.encode(pad_atoms(batch, method.max_n_atoms))
    z_t = 0.7 * z + 0.7 * method.noise(z.shape, mask)
    h = torch.cat([z_t[..., 3:], torch.full_like(z_t[..., :1], 0.5)], -1)
    with nullcontext() if grad else torch.inference_mode():
        h_out, x_out = reference_forward(method.net, h, z_t[..., :3], mask)
    if grad:
        (h_out.square().sum() + x_out.square().sum()).backward()
        method.zero_grad(set_to_none=True)


def bench_train(models: list[Model], args) -> list[str]:
    gen = torch.Generator().manual_seed(0)
    batches = {}  # (data set, order) -> the same batches for every model that trains on them
    for model in models:
        key = (model.data_name, model.batches)
        if key not in batches:
            batches[key] = draw_batches(model.data, args.repeats + 1, args.batch_size, gen, model.batches)
        stepper = SimpleStepper(model.method.optimizers(model.train_config))
        todo = batches[key]

        def step(r, m=model, s=stepper, todo=todo):
            with m.context():
                m.method.train_step(todo[r], r, s)
        model.step = step
        first = timed(lambda: step(0))  # warm-up: compilation with compile=true
        print(f"{model.label}: first step {first:.1f} s, {model.parameters:.2f} M parameters", flush=True)
    reference = next((m for m in models if m.edm_like), None) if args.reference else None
    ref_wall, ref_cpu = [], []
    if reference is not None:
        ref_batches = batches[(reference.data_name, reference.batches)]
        timed(lambda: reference_call(reference.method, ref_batches[0], grad=True))
    loads = [load_average()]
    for r in range(1, args.repeats + 1):
        for model in models:
            model.wall.append(timed(lambda: model.step(r), model.cpu))
        if reference is not None:
            ref_wall.append(timed(lambda: reference_call(reference.method, ref_batches[r], True), ref_cpu))
        loads.append(load_average())
    base_cpu, base_wall = statistics.median(models[0].cpu), statistics.median(models[0].wall)
    lines = [f"Training step, batch {args.batch_size}, {torch.get_num_threads()} threads, {args.repeats} repeats; "
             f"load average (1 min) {min(loads):.1f}-{max(loads):.1f}", ""]
    header = ["model", "parameters", "wall s/step", "CPU s/step", "molecules/s (wall)",
              f"CPU vs {models[0].label}", f"wall vs {models[0].label}"]
    if reference is not None:
        header += ["reference's work vs this (CPU)", "reference code's table vs this (wall, other machine)"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    if reference is not None:
        rc, rw = statistics.median(ref_cpu), statistics.median(ref_wall)
        lines.append(f"| reference's work (dense 29 x 29 EGNN, concatenated inputs, fwd + bwd; weights of "
                     f"{reference.label}) | {reference.parameters:.2f} M | {rw:.3f} | {rc:.3f} | "
                     f"{args.batch_size / rw:.1f} | {rc / base_cpu:.2f}x | {rw / base_wall:.2f}x | 1.00x | - |")
    for model in models:
        w, c = statistics.median(model.wall), statistics.median(model.cpu)
        cells = [model.label, f"{model.parameters:.2f} M", f"{w:.3f}", f"{c:.3f}", f"{args.batch_size / w:.1f}",
                 f"{c / base_cpu:.2f}x", f"{w / base_wall:.2f}x"]
        if reference is not None:
            table = REFERENCE_TABLE.get(edm_size(model)) if model.edm_like else None
            cells += [f"{rc / c:.2f}x", f"{table[1]} / {w:.3f} = {table[1] / w:.2f}x" if table else "-"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def edm_size(model: Model) -> tuple[int, int]:
    config = model.method.config
    return (config.hidden_nf, config.n_layers)


def count_calls(model: Model, steps: int) -> int:
    """Network calls of one `sample` with `steps` steps (a forward pre-hook on the method's network)."""
    net = getattr(model.method, "net", None)
    if not isinstance(net, torch.nn.Module):
        raise UserError(f"{model.label}: its method keeps no network in `.net`, so its calls cannot be counted")
    calls = []
    hook = net.register_forward_pre_hook(lambda *_: calls.append(1))
    try:
        with model.context():
            model.method.sample(2, generator=torch.Generator().manual_seed(0),
                                options=SamplingOptions(steps=steps, batch_size=2))
    finally:
        hook.remove()
    return len(calls)


def linear_calls(two: int, three: int):
    """calls(S) = a S + b through the counts at 2 and 3 steps (EDM's sampler makes S + 1 calls, MiDi's S)."""
    a = three - two
    return lambda steps: a * steps + two - 2 * a


def bench_sample(models: list[Model], args) -> list[str]:
    gen = torch.Generator().manual_seed(0)
    n, s = args.sample_batch, args.check_steps
    at = [int(v) for v in args.at_steps.split(",")]
    for model in models:
        model.method.eval()
        start = time.perf_counter()
        model.calls = linear_calls(count_calls(model, 2), count_calls(model, 3))  # also the warm-up (compilation)
        print(f"{model.label}: warm-up {time.perf_counter() - start:.1f} s; network calls for S steps: "
              f"{model.calls(1) - model.calls(0)} x S + {model.calls(0)}", flush=True)

    def run(model):
        with model.context():
            model.method.sample(n, generator=gen, options=SamplingOptions(steps=s, batch_size=n))

    reference = next((m for m in models if m.edm_like), None) if args.reference else None
    ref_wall, ref_cpu = [], []
    if reference is not None:
        ref_batches = draw_batches(reference.data, args.repeats + 1, args.reference_batch, gen, "random")
        timed(lambda: reference_call(reference.method, ref_batches[0], grad=False))
    loads = [load_average()]
    for r in range(args.repeats):
        for model in models:
            model.wall.append(timed(lambda: run(model), model.cpu) / (n * model.calls(s)))
            model.cpu[-1] /= n * model.calls(s)
        if reference is not None:
            ref_wall.append(timed(lambda: reference_call(reference.method, ref_batches[r + 1], False), ref_cpu)
                            / args.reference_batch)
            ref_cpu[-1] /= args.reference_batch
        loads.append(load_average())
    lines = [f"Sampling, {n} molecules per batch, {s} steps per timed run, {torch.get_num_threads()} threads, "
             f"{args.repeats} repeats; load average (1 min) {min(loads):.1f}-{max(loads):.1f}. "
             "CPU s per molecule at S steps = calls(S) x CPU s per call and molecule.", ""]
    header = ["model", "calls at S steps", "wall s/call/molecule", "CPU s/call/molecule",
              *[f"S={v}" for v in at], f"CPU vs {models[0].label} at equal S"]
    if reference is not None:
        header += ["reference's work vs this at equal S (CPU)", "reference code's table (1000 steps) vs this"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    base = statistics.median(models[0].cpu) * models[0].calls(at[0])
    rows = []
    if reference is not None:
        ref_per_call = statistics.median(ref_cpu)
        ref_at = {v: ref_per_call * reference.calls(v) for v in at}
        rows.append([f"reference's work (dense 29 x 29 EGNN, batch {args.reference_batch} padded to 29; weights "
                     f"of {reference.label})", f"as {reference.label}", f"{statistics.median(ref_wall):.5f}",
                     f"{ref_per_call:.5f}", *[f"{ref_at[v]:.3f}" for v in at],
                     f"{ref_at[at[0]] / base:.2f}x", "1.00x", "-"])
    for model in models:
        per_call = statistics.median(model.cpu)
        cpu_at = {v: per_call * model.calls(v) for v in at}
        row = [model.label, f"{model.calls(1) - model.calls(0)} x S + {model.calls(0)}",
               f"{statistics.median(model.wall):.5f}", f"{per_call:.5f}", *[f"{cpu_at[v]:.3f}" for v in at],
               f"{cpu_at[at[0]] / base:.2f}x"]
        if reference is not None:
            table = REFERENCE_TABLE.get(edm_size(model)) if model.edm_like else None
            vs_table = (", ".join(f"{table[2] / cpu_at[v]:.1f}x at {v}" for v in (1000, 100) if v in cpu_at)
                        if table else "-")
            row += [f"{ref_at[at[0]] / cpu_at[at[0]]:.1f}x", vs_table or "-"]
        rows.append(row)
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=["train", "sample"], default="train")
    ap.add_argument("--models", nargs="+", required=True, help="[LABEL=]PRESET[:key=value,...]; the first is the "
                                                                "baseline of the ratio columns")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--batch-size", type=int, default=64, help="train mode: molecules per step (the presets': 64)")
    ap.add_argument("--sample-batch", type=int, default=100, help="sample mode: molecules per batch")
    ap.add_argument("--check-steps", type=int, default=10, help="sample mode: steps per timed run")
    ap.add_argument("--at-steps", default="1000,500,250,100,50", help="sample mode: step counts to extrapolate to")
    ap.add_argument("--reference", action="store_true", help="add the EDM reference code's work (see above)")
    ap.add_argument("--reference-batch", type=int, default=10, help="sample mode: molecules per reference call "
                                                                    "(the baseline table's 10)")
    ap.add_argument("--report", type=Path, default=None,
                    help="also insert the tables as a dated section into this report's history "
                         "(e.g. benchmarks/molecules/README.md)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    bf16 = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    machine = (f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}, "
               f"{os.cpu_count()} CPUs, bf16 hardware {bf16}")
    print(machine, flush=True)
    cache: dict = {}
    models = [build(spec, cache) for spec in args.models]
    lines = (bench_train if args.mode == "train" else bench_sample)(models, args)
    print("\n" + "\n".join(lines))
    if args.report:
        add_to_history(args.report, "\n".join([f"### {time.strftime('%Y-%m-%d %H:%M')}: {args.mode} speed", "",
                                               f"`{command_line()}` ({machine})", "", *lines]))


if __name__ == "__main__":
    run_main(main)
