"""The inpainting benchmark's figure: per map (up to 4 rows) the truth, the mask, the posterior mean, the posterior
std and the Gaussian baseline; channel 0, values on the truth's colour scale (the std on its own, from 0)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gensci.viz.figures import plt, save_figure

ROWS = 4


def plot_inpainting(truth, mask, mean, std, baseline, path, metrics: dict) -> Path:
    """truth, mask, mean, std, baseline: [N, C, S, S] arrays; metrics: gensci.workflows.inpainting's keys."""
    rows = min(ROWS, len(truth))
    low, high = float(np.min(truth[:rows, 0])), float(np.max(truth[:rows, 0]))
    top = float(np.max(std[:rows, 0])) or 1.0
    columns = [("truth", truth, (low, high), "viridis"), ("observed (white: hidden)", None, None, None),
               ("posterior mean", mean, (low, high), "viridis"), ("posterior std", std, (0, top), "magma"),
               ("Gaussian baseline", baseline, (low, high), "viridis")]
    fig, axes = plt.subplots(rows, len(columns), figsize=(2.2 * len(columns), 2.2 * rows + 0.6), squeeze=False)
    for r in range(rows):
        for c, (name, values, span, cmap) in enumerate(columns):
            ax = axes[r, c]
            if values is None:  # the measurement: observed pixels of the truth, hidden ones blank
                shown = np.ma.masked_where(mask[r, 0] < 0.5, truth[r, 0])
                ax.imshow(shown, vmin=low, vmax=high, cmap="viridis", interpolation="nearest")
            else:
                ax.imshow(values[r, 0], vmin=span[0], vmax=span[1], cmap=cmap, interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
            if r == 0:
                ax.set_title(name, fontsize=9)
    fig.suptitle(f"{metrics['n_maps']} maps, {metrics['masked_fraction']:.0%} hidden, K = "
                 f"{metrics['samples_per_map']} samples: RMSE on hidden pixels {metrics['inpainting_rmse']:.3g} "
                 f"(baseline {metrics['baseline_inpainting_rmse']:.3g}), 90 % interval coverage "
                 f"{metrics['coverage_90']:.2f} (calibrated: {metrics['coverage_90_if_calibrated']:.2f})", fontsize=9)
    return save_figure(fig, path)
