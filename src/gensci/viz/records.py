"""Figures for records with gaps: imputation error per mechanism and rate, and ROC curves."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_curve

from gensci.metrics.records import classification_metrics
from gensci.viz.figures import plt, save_figure


def plot_rmse_grid(rmse: dict[str, dict[str, dict[float, tuple[float, float, float]]]], path: str | Path,
                   title: str = "") -> Path:
    """One panel per mechanism, RMSE against the missing rate, one line per imputer with its interval.

    `rmse[mechanism][imputer][rate]` -> (RMSE on the hidden entries in train-split standard deviations, low, high)."""
    mechanisms = list(rmse)
    fig, axes = plt.subplots(1, len(mechanisms), figsize=(4.2 * len(mechanisms), 3.4), sharey=True, squeeze=False)
    for ax, mech in zip(axes[0], mechanisms):
        for name, by_rate in rmse[mech].items():
            rates = sorted(by_rate)
            value, lo, hi = (np.array([by_rate[r][i] for r in rates]) for i in range(3))
            style = {"color": "k", "lw": 2.2, "marker": "o", "zorder": 3} if name == "method" else {"lw": 1.2, "marker": "."}
            ax.errorbar([100 * r for r in rates], value, yerr=[value - lo, hi - value], capsize=3, label=name, **style)
        ax.set_title(mech.upper())
        ax.set_xlabel("missing rate (%)")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("RMSE on hidden entries (std units)")
    axes[0, -1].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)


def plot_roc(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: str | Path, title: str = "") -> Path:
    """ROC curves: curves[name] = (labels y [N] in {0, 1}, P(disease) [N]); the AUROC in the legend."""
    fig, ax = plt.subplots(figsize=(4.6, 4.4))
    for name, (y, p) in curves.items():
        fpr, tpr, _ = roc_curve(y, p)
        auroc = classification_metrics(y, p)["auroc"]
        style = {"color": "k", "lw": 2.2, "zorder": 3} if name == "method" else {"lw": 1.2}
        ax.plot(fpr, tpr, label=f"{name} (AUROC {auroc:.3f})", **style)
    ax.plot([0, 1], [0, 1], color="0.7", ls="--", lw=0.8)
    ax.set_xlabel("1 - specificity")
    ax.set_ylabel("sensitivity")
    ax.legend(fontsize=8, loc="lower right")
    if title:
        ax.set_title(textwrap.fill(title, 60), fontsize=8)
    return save_figure(fig, path)
