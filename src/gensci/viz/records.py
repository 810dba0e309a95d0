"""Figures for records with gaps: imputation error per mechanism and rate, and ROC curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.metrics import roc_curve

from gensci.metrics.records import classification_metrics
from gensci.viz.figures import plt, save_figure


def plot_rmse_grid(rmse: dict[str, dict[str, dict[float, float]]], path: str | Path, title: str = "") -> Path:
    """One panel per mechanism, RMSE against the missing rate, one line per imputer.

    rmse[mechanism][imputer][rate] -> RMSE on the hidden entries (train-split standard deviations)."""
    mechanisms = list(rmse)
    fig, axes = plt.subplots(1, len(mechanisms), figsize=(4.2 * len(mechanisms), 3.4), sharey=True, squeeze=False)
    for ax, mech in zip(axes[0], mechanisms):
        for name, by_rate in rmse[mech].items():
            rates = sorted(by_rate)
            style = {"color": "tab:red", "lw": 2.2, "marker": "o"} if name == "method" else {"lw": 1.2, "marker": "."}
            ax.plot([100 * r for r in rates], [by_rate[r] for r in rates], label=name, **style)
        ax.set_title(mech.upper())
        ax.set_xlabel("missing rate (%)")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("RMSE on hidden entries (std units)")
    axes[0, -1].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def plot_roc(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: str | Path, title: str = "") -> Path:
    """ROC curves: curves[name] = (labels y [N] in {0, 1}, P(disease) [N]); the AUROC in the legend."""
    fig, ax = plt.subplots(figsize=(4.6, 4.4))
    for name, (y, p) in curves.items():
        fpr, tpr, _ = roc_curve(y, p)
        auroc = classification_metrics(y, p)["auroc"]
        ax.plot(fpr, tpr, lw=2.2 if name == "method" else 1.2, label=f"{name} (AUROC {auroc:.3f})")
    ax.plot([0, 1], [0, 1], color="0.7", ls="--", lw=0.8)
    ax.set_xlabel("1 - specificity")
    ax.set_ylabel("sensitivity")
    ax.legend(fontsize=8, loc="lower right")
    if title:
        ax.set_title(title, fontsize=10)
    return save_figure(fig, path)
