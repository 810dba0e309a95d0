"""The six galaxy presets trained with their stated CPU budgets, measured side by side.

    python benchmarks/galaxy_presets.py --threads 1 [--minutes-scale 1.0]

Writes benchmarks/galaxy_presets.md (table + the collapse question) and
benchmarks/out/galaxies/compare.html.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from gensci import api
from gensci.config import load_config
from gensci.workflows.base import EvalOptions

PRESETS = ["galaxy-vae", "galaxy-vae-fc", "galaxy-gan", "galaxy-acgan", "galaxy-wgan-gp", "galaxy-wgan-div"]
KEYS = ["fd_local", "kd_local", "precision", "recall", "density", "coverage", "duplicate_rate",
        "pixel_hist_distance", "power_spectrum_distance", "c2st_auc", "mode_collapse", "class_accuracy", "elbo"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--minutes-scale", type=float, default=1.0, help="multiply each preset's max_minutes")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/galaxies"))
    ap.add_argument("--presets", default=",".join(PRESETS))
    args = ap.parse_args()
    runs, rows = [], {}
    for name in args.presets.split(","):
        minutes = load_config(name).train.max_minutes * args.minutes_scale
        run_dir = args.out / name
        shutil.rmtree(run_dir, ignore_errors=True)
        t0 = time.process_time()
        run, result = api.train(name, run_dir, overrides=[f"train.threads={args.threads}"], max_minutes=minutes, progress=False)
        cpu = time.process_time() - t0
        metrics = api.evaluate(run, EvalOptions())
        api.report(run, metrics)
        runs.append(run)
        rows[name] = (result, cpu, metrics)
        print(name, result.steps, {k: metrics.get(k) for k in KEYS}, flush=True)
    table, page = api.compare(runs, args.out / "compare.html")
    lines = [
        "# Galaxy presets side by side",
        "",
        f"Command: `python benchmarks/galaxy_presets.py --threads {args.threads} --minutes-scale {args.minutes_scale:g}`  ",
        f"Date {time.strftime('%Y-%m-%d')}; 2-core CPU, torch threads {args.threads}; 64x64 simulated galaxies "
        "(3,000 training images); metrics on 1,000 samples vs the test images in the features of gensci's reference classifier.",
        "",
        "| preset | steps | train min | CPU min | " + " | ".join(KEYS) + " |",
        "|---|---|---|---|" + "---|" * len(KEYS),
    ]
    for name, (result, cpu, m) in rows.items():
        cells = [_fmt(m.get(k, "")) for k in KEYS]
        lines.append(f"| {name} | {result.steps} | {result.elapsed / 60:.1f} | {cpu / 60:.1f} | " + " | ".join(cells) + " |")
    gan = rows.get("galaxy-gan")
    wgans = [rows[n] for n in ("galaxy-wgan-gp", "galaxy-wgan-div") if n in rows]
    if gan and wgans:
        g = gan[2]
        lines += ["", "Does the plain GAN collapse more than the Wasserstein GANs (the blog's claim)?",
                  f"- plain GAN: coverage {_fmt(g['coverage'])}, duplicate rate {_fmt(g['duplicate_rate'])}, flag {g['mode_collapse']}"]
        for n in ("galaxy-wgan-gp", "galaxy-wgan-div"):
            if n in rows:
                w = rows[n][2]
                lines.append(f"- {n}: coverage {_fmt(w['coverage'])}, duplicate rate {_fmt(w['duplicate_rate'])}, flag {w['mode_collapse']}")
    lines += ["", f"Comparison page: `{page}` (not committed; rerun the command)."]
    Path("benchmarks/galaxy_presets.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _fmt(v) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


if __name__ == "__main__":
    main()
