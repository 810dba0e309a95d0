"""Fields and lattices: the yardstick's sanity check (the data against a second independent draw of it)
and short preset runs evaluated with the new keys. Results and commands: benchmarks/fields/README.md (lensing) and
benchmarks/lattices/README.md (Ising).

    python benchmarks/fields/fields.py data                      # simulate (cached), data vs second draw
    python benchmarks/fields/fields.py run ising-dcgan lensing-vae --max-steps 300   # train + evaluate presets

Each step prints one JSON line; times are wall-clock on this machine (report `uptime` beside them).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from gensci import api
from gensci.config import load_config, validate
from gensci.metrics.fields import field_metrics
from gensci.metrics.lattices import lattice_metrics
from gensci.workflows.base import load_data


def split_by_label(split) -> dict[int, np.ndarray]:
    x, y = split.tensors["x"][:, 0].numpy(), split.tensors["label"].numpy()
    return {int(c): x[y == c] for c in np.unique(y)}


def second_draw(preset: str, seed: int, overrides: list[str]):
    """The preset's data config with another seed and a token training split: an independent test split."""
    cfg = load_config(preset, overrides)
    data = cfg.data.model_dump() | {"seed": seed}
    data |= {"n_per_temperature": 1, "n_valid_per_temperature": 1} if data["name"] == "ising" else {
        "n_per_cosmology": 1, "n_valid_per_cosmology": 1}
    return validate({"data": data, "method": cfg.method.model_dump()})


def data_vs_data(preset: str, overrides: list[str]) -> dict:
    cfg = load_config(preset, overrides)
    t0 = time.time()
    first = load_data(cfg)
    t1 = time.time()
    second = load_data(second_draw(preset, 1, overrides))
    t2 = time.time()
    a, b = split_by_label(second.test), split_by_label(first.test)
    if cfg.data.name == "ising":
        temps = first.info["temperatures"]
        metrics, _ = lattice_metrics({temps[c]: v.astype(np.int8) for c, v in a.items()},
                                     {temps[c]: v.astype(np.int8) for c, v in b.items()})
        extra = {"autocorrelation": first.info["autocorrelation"]}
    else:
        scale, pixel = first.info["kappa_scale"], first.info["pixel_arcmin"]
        metrics = {c: field_metrics(a[c] * scale, b[c] * scale, pixel)[0] for c in b}
        metrics = metrics[0] if len(metrics) == 1 else metrics
        extra = {"model": first.info["model"]}
    return {"preset": preset, "data_vs_second_draw": metrics, "simulate_s": round(t1 - t0, 1),
            "second_draw_s": round(t2 - t1, 1), "n_test": {int(c): len(v) for c, v in b.items()}} | extra


def train_and_evaluate(preset: str, out: Path, threads: int, max_steps: int | None, overrides: list[str]) -> dict:
    torch.set_num_threads(threads)
    t0 = time.time()
    overrides = [f"train.threads={threads}", "train.progress=false"] + ([f"train.max_steps={max_steps}"] if max_steps else []) + overrides
    run, result = api.train(preset, out=out / preset, overrides=overrides)
    t1 = time.time()
    metrics = api.evaluate(run)
    api.report(run, metrics)
    return {"preset": preset, "steps": result.steps, "train_s": round(t1 - t0, 1), "evaluate_report_s": round(time.time() - t1, 1),
            "metrics": {k: v for k, v in metrics.items() if k != "by_condition"}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["data", "run"])
    parser.add_argument("presets", nargs="*", default=["lensing-vae", "ising-dcgan"])
    parser.add_argument("--out", type=Path, default=Path("runs/bench-fields"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-steps", type=int, default=None, help="run: stop earlier than the preset")
    parser.add_argument("--set", action="append", default=[], help="config override key=value (all presets)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for preset in args.presets:
        result = (data_vs_data(preset, args.set) if args.what == "data"
                  else train_and_evaluate(preset, args.out, args.threads, args.max_steps, args.set))
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
