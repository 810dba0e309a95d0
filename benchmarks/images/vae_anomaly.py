"""VAE anomaly detection on simulated galaxies, one class held out at a time: the raw score (-ELBO)
against the complexity-corrected one (Serrà et al. 2020: -ELBO minus the PNG length in nats).

    python benchmarks/images/vae_anomaly.py [--preset galaxy-vae] [--classes 0,1,2] [--seed 0] [--jobs 2] [--reuse]

For each class k, `gensci train PRESET --set data.held_out_classes=[k]` (its max_steps, 1 thread,
`--jobs` trainings at a time), then the test split (200 images per class: 400 of the trained classes,
200 of the held-out one) is scored. Inserts a dated section into the history of benchmarks/images/README.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from galaxy_presets import train_all
from gensci import api
from gensci.metrics.anomaly import anomaly_auroc
from gensci.workflows.base import EvalOptions, Run

CLASS_NAMES = ["barred spiral", "elliptical", "spiral"]


def auroc_interval(scores: np.ndarray, is_anomaly: np.ndarray, n_boot: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95 % bootstrap interval of the AUROC (images resampled with replacement, seeded)."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n_boot):
        idx = rng.integers(len(scores), size=len(scores))
        if is_anomaly[idx].all() or not is_anomaly[idx].any():
            continue
        vals.append(roc_auc_score(is_anomaly[idx], scores[idx]))
    return float(np.percentile(vals, 2.5)), float(np.percentile(vals, 97.5))


@torch.no_grad()
def scores(run: Run) -> dict[str, np.ndarray]:
    """Over the test split: -ELBO ("raw"), Serrà's S with 1 bit = ln 2 nats ("literal"), S with the
    exchange rate fitted on the validation images ("fitted", what gensci reports), PNG "bits", "held"."""
    from gensci.metrics.anomaly import complexity_corrected_score, compressed_bits
    from gensci.workflows.images import images_of, value_range

    method, data = run.method(), run.data
    g = torch.Generator().manual_seed(0)

    def nll(x):
        return -torch.cat([method.elbo(x[i : i + 250], generator=g) for i in range(0, len(x), 250)]).numpy()

    (x, y), (xv, _) = images_of(data.test), images_of(data.valid)
    raw, bits = nll(x), compressed_bits(x, value_range(data))
    return {"raw": raw, "literal": complexity_corrected_score(raw, bits), "bits": bits,
            "fitted": complexity_corrected_score(raw, bits, nll(xv), compressed_bits(xv, value_range(data))),
            "held": np.isin(y.numpy(), data.info["held_out_classes"])}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="galaxy-vae")
    ap.add_argument("--classes", default="0,1,2")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/anomaly"))
    ap.add_argument("--reuse", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    classes = [int(k) for k in args.classes.split(",")]
    jobs = [(args.preset, args.seed, args.out / f"{args.preset}-held{k}-seed{args.seed}", [f"data.held_out_classes=[{k}]"])
            for k in classes]
    load_before = os.getloadavg()
    if not args.reuse:
        train_all(jobs, args.jobs)
    rows = []
    for k, (_, _, run_dir, _) in zip(classes, jobs):
        run = Run(run_dir)
        api.evaluate(run, EvalOptions())  # evaluation.json and report of the run (its own draws)
        s = scores(run)
        held, bits, raw = s["held"], s["bits"], s["raw"]
        steps = [r for r in run.history() if r.get("kind") == "train"][-1]["step"]
        cells = []
        for key in ("raw", "literal", "fitted"):
            lo, hi = auroc_interval(s[key], held)
            cells.append(f"{anomaly_auroc(s[key], held):.3f} ({lo:.2f}-{hi:.2f})")
        rows.append(f"| {k} {CLASS_NAMES[k]} | {steps} | {' | '.join(cells)} | "
                    f"{np.mean(bits[held]) / 8:.0f} / {np.mean(bits[~held]) / 8:.0f} | "
                    f"{np.mean(raw[held]):.0f} / {np.mean(raw[~held]):.0f} |")
        print(rows[-1], flush=True)
    lines = [
        f"### {time.strftime('%Y-%m-%d')}: VAE anomaly scores, raw ELBO against the complexity-corrected score",
        "",
        f"Command: `python benchmarks/images/vae_anomaly.py --preset {args.preset} --classes {args.classes} --seed {args.seed} "
        f"--jobs {args.jobs}{' --reuse' if args.reuse else ''}`  ",
        f"Date {time.strftime('%Y-%m-%d')}; 2-core CPU shared with other work (load average {load_before[0]:.1f} at the "
        f"start), 1 torch thread per training. Each run: `{args.preset}` (its max_steps, seed {args.seed}) trained on two "
        "classes; scored on the 600 test images (200 of the held-out class). AUROC for \"held-out class\" with a 95 % "
        "bootstrap interval (1,000 resamples of the test images). Raw: -ELBO (one posterior sample, nats). Serrà "
        "literal: -ELBO - L(x) ln 2, L = PNG length in bits (Serrà et al. 2020). Fitted (gensci's "
        "`anomaly_auroc_complexity`): -ELBO - (a L(x) + b), a and b fitted by least squares on the validation "
        "images (trained classes only).",
        "",
        "| held-out class | steps | AUROC raw (-ELBO) | AUROC Serrà literal | AUROC fitted (reported) | PNG bytes held-out / trained | -ELBO held-out / trained |",
        "|---|---|---|---|---|---|---|",
        *rows,
    ]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from common import add_to_history  # benchmarks/common.py: a dated section at the top of the history

    add_to_history(Path(__file__).with_name("README.md"), "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
