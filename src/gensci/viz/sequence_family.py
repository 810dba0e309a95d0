"""Predicted against true mutation effects, one panel per method and mutant set."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gensci.metrics.mutation_effects import bootstrap_interval, spearman
from gensci.viz.figures import plt, save_figure

ROWS = (("single", "single mutants"), ("double", "double mutants"), ("epistasis", "epistasis (coupled doubles)"))


def plot_effect_scatter(preds: dict[str, dict[str, np.ndarray]], truth: dict[str, np.ndarray], names: dict[str, str],
                        path: str | Path, max_points: int = 3000) -> Path:
    """Rows: singles, doubles, epistatic parts; columns: methods (`preds` by key, titled by `names`). Each panel
    gives n, Spearman's rho and its 95 % bootstrap interval over mutants; at most `max_points` points are drawn
    (a seeded subset), the statistics use all."""
    rows = [(k, label) for k, label in ROWS if k in truth]
    fig, axes = plt.subplots(len(rows), len(preds), figsize=(3.6 * len(preds), 3.8 * len(rows)), squeeze=False)
    rng = np.random.default_rng(0)
    for r, (key, label) in enumerate(rows):
        for c, (prefix, pred) in enumerate(preds.items()):
            ax = axes[r, c]
            if key not in pred:
                ax.axis("off")
                ax.text(0.5, 0.5, f"{names[prefix]}:\nno {key} term", ha="center", va="center", transform=ax.transAxes)
                continue
            x, y = truth[key], pred[key]
            pick = rng.permutation(len(x))[:max_points]
            ax.scatter(x[pick], y[pick], s=3, alpha=0.35, color="C0", rasterized=True)
            rho = spearman(y, x)
            lo, hi = bootstrap_interval(y, x, n_boot=300) if np.isfinite(rho) else (np.nan, np.nan)
            ax.set_title(f"{names[prefix]}\n{label}: n={len(x)}\nρ={rho:.3f} [{lo:.3f}, {hi:.3f}]", fontsize=8)
            ax.set_xlabel("true effect (-ΔE)", fontsize=8)
            ax.set_ylabel("predicted", fontsize=8)
            ax.tick_params(labelsize=7)
    fig.suptitle("mutation effects of the wild type: predicted vs true; Spearman ρ [95 % bootstrap interval over mutants]",
                 fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)
