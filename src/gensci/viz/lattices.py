"""Figures of Ising thermodynamics per temperature: generated values over the Monte Carlo data with
±2σ error bars (gensci.metrics.lattices comparisons), Onsager's exact curves, G(r), m histograms."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gensci.metrics.lattices import OBSERVABLES
from gensci.metrics.sample_variance import Comparison
from gensci.ops.ising import CRITICAL_TEMPERATURE, magnetisation, onsager_energy, onsager_magnetisation
from gensci.viz.fields import GENERATED, REAL
from gensci.viz.figures import plt, save_figure

LABELS = {"abs_m": "<|m|>", "energy": "energy per spin", "specific_heat": "specific heat C",
          "susceptibility": "susceptibility χ", "binder": "Binder cumulant U"}


def plot_observables(comparisons: dict[float, dict[str, Comparison]], path: Path, lattice: str = "") -> Path:
    """One panel per observable against T: Monte Carlo ±2σ (error bars), generated (markers, red
    crosses outside 2σ), Onsager's infinite-lattice <|m|> and energy; T_c dashed."""
    temps = np.array(sorted(comparisons))
    obs = [comparisons[t]["observables"] for t in temps]
    fig, axes = plt.subplots(2, 3, figsize=(13, 8), constrained_layout=True)
    fine = np.linspace(temps.min() * 0.95, temps.max() * 1.02, 300)
    for i, (name, ax) in enumerate(zip(OBSERVABLES, axes.flat)):
        real = np.array([c.real[i] for c in obs])
        gen = np.array([c.generated[i] for c in obs])
        sigma = np.array([c.sigma[i] for c in obs])
        within = np.array([c.within[i] for c in obs])
        if name == "abs_m":
            ax.plot(fine, onsager_magnetisation(fine), color="0.6", lw=1, label="Onsager (L = ∞)")
        if name == "energy":
            ax.plot(fine, onsager_energy(fine), color="0.6", lw=1, label="Onsager (L = ∞)")
        ax.errorbar(temps, real, yerr=2 * sigma, fmt="o", color=REAL, ms=3, capsize=2, label=f"Monte Carlo {lattice} ± 2σ")
        ax.plot(temps, gen, "s-", color=GENERATED, ms=3, lw=1, label="generated")
        ax.plot(temps[~within], gen[~within], "x", color="tab:red", ms=7, label="outside 2σ")
        ax.axvline(CRITICAL_TEMPERATURE, color="0.7", ls="--", lw=0.8)
        ax.set(xlabel="temperature T", ylabel=LABELS[name], title=f"{LABELS[name]}: {within.mean():.2f} within 2σ")
    axes.flat[0].legend(fontsize=7)
    ax = axes.flat[5]
    within = np.stack([c.within for c in obs])
    ax.imshow(within.T, aspect="auto", cmap="RdYlGn", vmin=0, vmax=1)
    ax.set(yticks=range(len(OBSERVABLES)), yticklabels=[LABELS[k] for k in OBSERVABLES],
           xticks=range(len(temps)), xlabel="temperature", title=f"within 2σ (green): {within.mean():.2f}")
    ax.set_xticklabels([f"{t:.2f}" for t in temps], rotation=60, fontsize=7)
    return save_figure(fig, path)


def plot_correlations(comparisons: dict[float, dict[str, Comparison]], path: Path) -> Path:
    """G(r) per temperature: Monte Carlo mean with ±2σ band (lines) and generated (dashed)."""
    temps = sorted(comparisons)
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    colours = plt.cm.coolwarm(np.linspace(0, 1, len(temps)))
    for t, col in zip(temps, colours):
        c = comparisons[t]["correlation"]
        r = np.arange(len(c.real))
        ax.fill_between(r, c.real - 2 * c.sigma, c.real + 2 * c.sigma, color=col, alpha=0.25, lw=0)
        ax.plot(r, c.real, color=col, lw=1.5, label=f"T = {t:.2f}")
        ax.plot(r, c.generated, "--", color=col, lw=1.2)
    ax.set(xlabel="distance r (lattice spacings)", ylabel="G(r) = <s_i s_i+r>",
           title="spin-spin correlation: Monte Carlo ± 2σ (solid), generated (dashed)")
    ax.legend(fontsize=7, ncol=2)
    return save_figure(fig, path)


def plot_magnetisation_histograms(generated: dict[float, np.ndarray], real: dict[float, np.ndarray], path: Path) -> Path:
    """Histograms of m per temperature (both signs: the sign balance below T_c is visible)."""
    temps = sorted(real)
    cols = min(5, len(temps))
    rows = -(-len(temps) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.2 * rows), squeeze=False)
    edges = np.linspace(-1, 1, 41)
    for ax, t in zip(axes.flat, temps):
        ax.hist(magnetisation(real[t]), edges, density=True, histtype="step", color=REAL, lw=1.5, label="Monte Carlo")
        ax.hist(magnetisation(generated[t]), edges, density=True, histtype="step", color=GENERATED, lw=1.2, label="generated")
        ax.set_title(f"T = {t:.3f}", fontsize=8)
        ax.set_yticks([])
    for ax in axes.flat[len(temps):]:
        ax.set_axis_off()
    axes.flat[0].legend(fontsize=6)
    fig.supxlabel("magnetisation per spin m")
    return save_figure(fig, path)
