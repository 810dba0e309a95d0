"""Generated molecules' distributions over a reference's (QM9's training split, or a user's file): element shares,
atoms per molecule, and bond lengths and angles of the most common kinds, overlaid. They draw what
gensci.metrics.distributions measures (`MoleculeStats`); its atom_type_tv, n_atoms_tv and per-kind W1 distances
are the numbers behind these pictures. plot_chemistry draws gensci.metrics.chemistry's figures (heavy atoms, ring
sizes, aromatic / triple-bond / charged shares, functional groups)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gensci.metrics.distributions import MoleculeStats, hill_order
from gensci.viz.figures import plt, save_figure

REFERENCE, GENERATED = "0.25", "tab:orange"


def plot_composition(samples: MoleculeStats, path: Path, reference: MoleculeStats | None = None,
                     labels: tuple[str, str] = ("generated", "QM9 train")) -> Path:
    """Two panels: the share of each element among all atoms, and the share of molecules per atom count."""
    fig, (ax_el, ax_n) = plt.subplots(1, 2, figsize=(11, 3.8), constrained_layout=True)
    sets = [(labels[0], samples, GENERATED)] + ([(labels[1], reference, REFERENCE)] if reference is not None else [])
    elements = hill_order(e for _, s, _ in sets for e in s.atom_counts)
    width = 0.8 / len(sets)
    for k, (label, stats, colour) in enumerate(sets):
        total = max(sum(stats.atom_counts.values()), 1)
        ax_el.bar(np.arange(len(elements)) + (k - (len(sets) - 1) / 2) * width,
                  [stats.atom_counts.get(e, 0) / total for e in elements], width, color=colour,
                  label=f"{label} ({total:,} atoms)")
    ax_el.set(xticks=range(len(elements)), xticklabels=elements, ylabel="share of atoms", title="atom types")
    ax_el.legend(fontsize=8)
    sizes = sorted({n for _, s, _ in sets for n in s.size_counts})
    for label, stats, colour in sets:
        total = max(sum(stats.size_counts.values()), 1)
        shares = [stats.size_counts.get(n, 0) / total for n in sizes]
        ax_n.step(sizes, shares, where="mid", color=colour, lw=2 if colour == REFERENCE else 1.5,
                  label=f"{label} ({total:,} molecules)")
    ax_n.set(xlabel="atoms per molecule", ylabel="share of molecules", title="molecule sizes")
    ax_n.legend(fontsize=8)
    return save_figure(fig, path)


def common_kinds(counts: dict[str, int], k: int) -> list[str]:
    """The k kinds with the most entries (ties by name, so the choice is reproducible)."""
    return [name for name, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:k]]


def plot_geometry(samples: MoleculeStats, path: Path, reference: MoleculeStats | None = None,
                  labels: tuple[str, str] = ("generated", "QM9 train"), kinds: int = 4, bins: int = 60) -> Path:
    """Bond lengths (top row, Angstrom) and bond angles (bottom row, degrees) of the `kinds` most common kinds of
    the reference (of the samples when there is none): density histograms on shared bins, the number of
    values per set in the legend. A kind the samples lack is drawn with the reference alone and says so."""
    base = reference if reference is not None else samples
    rows = [("bond_lengths", "bond_counts", "bond length (Å)"), ("bond_angles", "angle_counts", "bond angle (°)")]
    fig, axes = plt.subplots(2, kinds, figsize=(3.1 * kinds, 6.2), constrained_layout=True, squeeze=False)
    for row, (part, counts, xlabel) in enumerate(rows):
        names = common_kinds(getattr(base, counts), kinds)
        for col in range(kinds):
            ax = axes[row, col]
            if col >= len(names):
                ax.axis("off")
                continue
            name = names[col]
            gen = np.asarray(getattr(samples, part).get(name, ()), float)
            ref = np.asarray(getattr(reference, part).get(name, ()), float) if reference is not None else np.array([])
            # the bulk of both sets (a few far outliers would squeeze the reference's peak to a line); the rest counted
            ends = [np.percentile(x, q) for x, q in ((ref, [0.5, 99.5]), (gen, [2, 98])) if len(x)]
            lo, hi = (min(e[0] for e in ends), max(e[1] for e in ends)) if ends else (0.0, 1.0)
            pad = 0.05 * (hi - lo) if hi > lo else 0.5
            n_bins = int(np.clip(3 * np.sqrt(len(gen)), 15, bins)) if len(gen) else bins  # few samples: wider bins
            edges = np.linspace(lo - pad, hi + pad, n_bins + 1)
            if len(ref):
                total = getattr(reference, counts).get(name, len(ref))
                of = f" of {total:,}" if total > len(ref) else ""
                ax.hist(ref, edges, density=True, histtype="stepfilled", color=REFERENCE, alpha=0.35,
                        label=f"{labels[1]} ({len(ref):,}{of})")
            inside = gen[(gen >= edges[0]) & (gen <= edges[-1])]
            if len(inside):
                outside = f", {len(gen) - len(inside):,} outside" if len(inside) < len(gen) else ""
                ax.hist(inside, edges, density=True, histtype="step", color=GENERATED, lw=1.6,
                        label=f"{labels[0]} ({len(gen):,}{outside})")
            else:
                ax.text(0.5, 0.9, f"{labels[0]}: {len(gen)} in this range", transform=ax.transAxes, ha="center",
                        color="tab:red", fontsize=8)
            ax.set(title=name, xlabel=xlabel, yticks=[])
            ax.legend(fontsize=7)
    return save_figure(fig, path)


def plot_chemistry(samples: dict, path: Path, reference: dict | None = None,
                   labels: tuple[str, str] = ("generated", "QM9 train")) -> Path:
    """Two panels from gensci.metrics.chemistry's figures (an evaluation's dict, and the reference's): the share of
    molecules per heavy-atom count, and the share of molecules with a ring of each size, an aromatic atom, a triple
    bond, a charge and each functional group (grouped bars)."""
    from gensci.metrics.chemistry import FRACTIONS

    fig, (ax_n, ax_f) = plt.subplots(1, 2, figsize=(13, 4.2), constrained_layout=True,
                                     gridspec_kw={"width_ratios": [1, 2.4]})
    sets = [(labels[0], samples, GENERATED)] + ([(labels[1], reference, REFERENCE)] if reference is not None else [])
    sizes = sorted({int(k) for _, s, _ in sets for k in s.get("heavy_atoms_counts", {})})
    width = 0.8 / len(sets)
    for k, (label, figures, colour) in enumerate(sets):
        counts = {int(a): b for a, b in figures.get("heavy_atoms_counts", {}).items()}
        total = max(sum(counts.values()), 1)
        ax_n.bar(np.arange(len(sizes)) + (k - (len(sets) - 1) / 2) * width, [counts.get(n, 0) / total for n in sizes],
                 width, color=colour, label=f"{label} ({total:,} molecules)")
    ax_n.set(xticks=range(len(sizes)), xticklabels=sizes, xlabel="heavy atoms (largest fragment)",
             ylabel="share of molecules", title="heavy atoms")
    ax_n.legend(fontsize=8)
    names = [k for k in FRACTIONS if any(f.get(k) is not None for _, f, _ in sets)]
    short = [k.removesuffix("_fraction").removeprefix("group_").replace("_", " ") for k in names]
    for k, (label, figures, colour) in enumerate(sets):
        ax_f.bar(np.arange(len(names)) + (k - (len(sets) - 1) / 2) * width,
                 [figures.get(name) or 0.0 for name in names], width, color=colour, label=label)
    ax_f.set(xticks=range(len(names)), ylabel="share of molecules with it", title="rings, bonds, charges, groups")
    ax_f.set_xticklabels(short, rotation=45, ha="right", fontsize=8)
    ax_f.legend(fontsize=8)
    return save_figure(fig, path)
