"""Figures of map statistics: each statistic of generated maps over the real maps' mean with a ±2σ band
(gensci.metrics.fields / sample_variance Comparisons)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.ticker import NullFormatter

from gensci.metrics.fields import FieldStatistics
from gensci.metrics.sample_variance import Comparison
from gensci.viz.figures import plt, save_figure

REAL, GENERATED = "k", "tab:orange"


def band_panel(ax, x, comp: Comparison, scale=None, label_real: str = "data ± 2σ", label_gen: str = "generated"):
    """Real mean (line) with its ±2σ band and the generated mean (markers) at positions x;
    `scale` multiplies all values (e.g. l(l+1)/2π for spectra)."""
    f = np.ones_like(np.asarray(x, float)) if scale is None else scale
    ax.fill_between(x, f * (comp.real - 2 * comp.sigma), f * (comp.real + 2 * comp.sigma), color="0.8", lw=0,
                    label=label_real)
    ax.plot(x, f * comp.real, color=REAL, lw=1.5)
    ax.plot(x, f * comp.generated, "o-", color=GENERATED, ms=3, lw=1, label=label_gen)
    within = comp.within
    if (~within).any():
        ax.plot(np.asarray(x)[~within], (f * comp.generated)[~within], "x", color="tab:red", ms=6, label="outside 2σ")


def plot_field_statistics(comparisons: dict[str, Comparison], positions: FieldStatistics, path: Path, title: str,
                          metrics: dict) -> Path:
    """Six panels: l(l+1)P(l)/2π, pixel PDF, peak counts, V0, V1, V2 (the comparisons of
    metrics.fields.compare_fields; bin positions from the reference's FieldStatistics)."""
    fig, axes = plt.subplots(2, 3, figsize=(13, 8), constrained_layout=True)
    p = positions
    ell, centres, nu, peaks = p.ell, p.pixel_centres, p.nu, p.peak_centres
    ax = axes[0, 0]
    band_panel(ax, ell, comparisons["power"], scale=ell * (ell + 1) / (2 * np.pi))
    ax.set(xscale="log", yscale="log", xlabel="multipole l", ylabel="l(l+1) P(l) / 2π",
           title=f"power spectrum: {metrics['power_spectrum_within_2sigma']:.2f} within 2σ")
    ax.xaxis.set_minor_formatter(NullFormatter())  # decade labels only (minor ones overlap)
    ax = axes[0, 1]
    band_panel(ax, centres, comparisons["pdf"])
    ax.set(yscale="log", xlabel="κ", ylabel="fraction of pixels",
           title=f"pixel PDF: {metrics['pdf_within_2sigma']:.2f} within; KS {metrics['pixel_ks']:.3f}")
    ax = axes[0, 2]
    band_panel(ax, peaks, comparisons["peaks"])
    ax.set(xlabel="peak height κ", ylabel="peaks per map", title=f"peak counts: {metrics['peak_counts_within_2sigma']:.2f} within")
    for ax, key, ylabel in zip(axes[1], ("v0", "v1", "v2"), ("V0 (area fraction)", "V1 (per pixel)", "V2 (per pixel)")):
        band_panel(ax, nu, comparisons[key])
        ax.set(xlabel="threshold ν (units of the data's pixel σ)", ylabel=ylabel, title=f"Minkowski {key.upper()}")
    axes[1, 0].text(0.02, 0.05, f"Minkowski: {metrics['minkowski_within_2sigma']:.2f} within 2σ",
                    transform=axes[1, 0].transAxes, fontsize=8)
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)
