"""Figures of a conditional molecule evaluation (gensci.workflows.conditional): requested against predicted values
per property, the xTB check, and molecules generated at five requested values of one property."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gensci.viz.figures import plt, save_figure
from gensci.viz.molecules import molecule_grid

# axis labels a chemist reads: the quantity and gensci's unit (gensci.data.qm9.PROPERTY_UNITS)
LABELS = {"alpha": "α (Bohr³)", "gap": "HOMO-LUMO gap (eV)", "homo": "HOMO (eV)", "lumo": "LUMO (eV)",
          "mu": "dipole μ (D)", "Cv": "Cv (cal/(mol K))"}


def _label(name: str, unit: str | None = None) -> str:
    return LABELS.get(name, f"{name} ({unit})" if unit else name)


def _identity(ax, *arrays) -> None:
    values = np.concatenate([np.asarray(a, dtype=float) for a in arrays])
    values = values[np.isfinite(values)]
    lo, hi = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
    pad = 0.03 * (hi - lo or 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="black", lw=0.8, ls="--", label="identity")
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)


def plot_requested_vs_predicted(points: dict[str, dict], metrics: dict, path: Path, max_points: int = 3000) -> Path:
    """One panel per property: the value each molecule was requested with (x) against the evaluator's prediction
    (y), the identity line, the MAE with its 95 % interval and n in the title (EDM's units). points: {property:
    {"requested": [n], "predicted": [n]}}; at most max_points are drawn (a seeded subset), the MAE uses all."""
    names = list(points)
    ncols = min(3, len(names))
    nrows = -(-len(names) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.8 * ncols, 3.7 * nrows), squeeze=False)
    rng = np.random.default_rng(0)
    for ax, p in zip(axes.flat, names):
        x, y = np.asarray(points[p]["requested"], float), np.asarray(points[p]["predicted"], float)
        pick = rng.permutation(len(x))[:max_points]
        ax.scatter(x[pick], y[pick], s=4, alpha=0.4, color="C0", rasterized=True)
        _identity(ax, x, y)
        edm = metrics[f"edm_units_{p}"]
        lo, hi = edm["mae_interval"] or (np.nan, np.nan)
        ax.set_title(f"{p}: MAE {edm['mae']:.4g} [{lo:.4g}, {hi:.4g}] {edm['unit']}, n = {len(x)}\n"
                     f"naive {edm['baseline_naive']:.4g}, #atoms {edm['baseline_atoms']:.4g}, "
                     f"floor {edm['floor_qm9']:.4g} {edm['unit']}", fontsize=8)
        ax.set_xlabel(f"requested {_label(p, metrics.get(f'unit_{p}'))}", fontsize=8)
        ax.set_ylabel(f"predicted {_label(p, metrics.get(f'unit_{p}'))}", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes.flat[len(names):]:
        ax.axis("off")
    fig.suptitle("conditional samples: requested vs predicted by the property evaluator (MAE [95 % bootstrap "
                 "interval], EDM's units)", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_xtb_check(metrics: dict, path: Path) -> Path:
    """Per property of the xTB check: GFN2-xTB's calibrated value of each molecule against the value requested,
    conditional (blue) and unconditional (grey) samples, the per-target means, the identity line, r and n."""
    names = [p for p in ("gap", "mu") if f"xtb_{p}_targets" in metrics]
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.9), squeeze=False)
    rng = np.random.default_rng(0)
    for ax, p in zip(axes.flat, names):
        targets = np.asarray(metrics[f"xtb_{p}_targets"], float)
        spread = 0.012 * (np.ptp(targets) or 1.0)
        every = []
        for suffix, colour, name, shift in (("", "C0", "conditional", 1), ("_unconditional", "0.55", "unconditional", -1)):
            computed = np.array([np.nan if v is None else v for v in metrics[f"xtb_{p}_computed{suffix}"]], float)
            requested = np.repeat(targets, len(computed) // len(targets))
            jitter = shift * spread + rng.uniform(-spread, spread, len(computed))
            r = metrics[f"xtb_{p}_r{suffix}"]
            ax.scatter(requested + jitter, computed, s=5, alpha=0.35, color=colour, rasterized=True,
                       label=f"{name}: r = {r:.2f}" if r is not None and np.isfinite(r) else f"{name}: r undefined")
            means = metrics[f"xtb_{p}_mean_per_target{suffix}"]
            ax.plot(targets + shift * spread, [np.nan if m is None else m for m in means], "o-", color=colour, ms=5)
            every.append(computed)
        _identity(ax, targets, *every)
        ax.set_title(f"{p}: GFN2-xTB (calibrated to QM9's DFT), {metrics.get('xtb_per_target')} per requested "
                     f"value\nMAE {metrics[f'xtb_{p}_mae']:.3g} {metrics[f'xtb_{p}_unit']} (calibration floor "
                     f"{metrics.get(f'xtb_{p}_mae_floor') or float('nan'):.3g}), n = {metrics[f'xtb_{p}_n_scored']}",
                     fontsize=8)
        ax.set_xlabel(f"requested {_label(p)}", fontsize=8)
        ax.set_ylabel(f"xTB {_label(p)}", fontsize=8)
        ax.legend(fontsize=7, loc="upper left")
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_molecules_by_request(grid: dict, path: Path) -> Path:
    """Molecules generated at five requested values of one property: one column per value (low to high), titled with
    the value asked for and, where an evaluator exists, the value it predicts."""
    name, targets, molecules = grid["name"], grid["targets"], grid["molecules"]
    per = len(molecules) // len(targets)
    symbol, _, unit = LABELS.get(name, name).partition(" (")
    order, titles = [], []
    for row in range(per):  # molecule_grid fills rows first: row r holds molecule r of every requested value
        for col, target in enumerate(targets):
            k = col * per + row
            order.append(molecules[k])
            title = f"asked {symbol} = {target:.3g} {unit.rstrip(')')}" if row == 0 else ""
            if grid.get("predicted") is not None:
                title += ("\n" if title else "") + f"predicted {grid['predicted'][k]:.3g}"
            titles.append(f"{title}\n{molecules[k].n_atoms} atoms")
    return molecule_grid(order, path, ncols=len(targets), titles=titles, mode="3d")
