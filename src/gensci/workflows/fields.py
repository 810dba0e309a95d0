"""Field runs (weak-lensing convergence maps): generated maps against the test maps of the same
cosmology by their power spectrum, pixel PDF, Minkowski functionals and peak counts
(gensci.metrics.fields), each bin judged by the test maps' own sample variance.

Keys of `gensci evaluate`: power_spectrum_within_2sigma, pdf_within_2sigma, minkowski_within_2sigma,
peak_counts_within_2sigma (fractions of bins, all conditions pooled; ~0.95 for a second draw of the
data), pixel_ks and pixel_w1 (pooled pixel values, mean over conditions; w1 in convergence units),
by_condition with the same keys per cosmology, and <key>_n_bins: the bins behind each fraction.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from gensci.data.base import DataSplits
from gensci.metrics.fields import field_metrics
from gensci.metrics.sample_variance import pooled_fraction
from gensci.workflows.base import ReportSection, Run
from gensci.workflows.per_condition import POOLED, PerConditionWorkflow

VERDICTS = {"power_spectrum_within_2sigma": ("power",), "pdf_within_2sigma": ("pdf",),
            "minkowski_within_2sigma": ("v0", "v1", "v2"), "peak_counts_within_2sigma": ("peaks",)}


def condition_name(info: dict[str, Any], key: int) -> str:
    return "all conditions" if key == POOLED else info["class_names"][key]


class FieldWorkflow(PerConditionWorkflow):
    domain = "fields"
    headline_keys = (*VERDICTS, "pixel_ks", "pixel_w1")
    within_keys = {"power_spectrum_within_2sigma": "power-spectrum", "pdf_within_2sigma": "pixel-PDF",
                   "minkowski_within_2sigma": "Minkowski (V0, V1, V2)", "peak_counts_within_2sigma": "peak-count"}

    def verdict_parts(self, metrics: dict[str, Any]) -> list[ReportSection]:
        """The same fractions per cosmology (metrics["by_condition"])."""
        by = metrics.get("by_condition") or {}
        if len(by) < 2:
            return []
        columns = [*VERDICTS, "pixel_ks", "pixel_w1"]
        return [ReportSection("Per cosmology", "Fractions of bins within 2σ, and the pooled pixels' KS and W1, per "
                              "cosmology of the test split.", table={c: {k: v.get(k) for k in columns} for c, v in by.items()},
                              columns=columns, role="verdict")]

    def measure(self, generated, real, data: DataSplits, raw) -> tuple[dict[str, Any], dict[int, Any]]:
        pixel = float(data.info["pixel_arcmin"])
        details = {c: field_metrics(generated[c], real[c], pixel) for c in real}
        metrics: dict[str, Any] = {k: pooled_fraction([details[c][1][s] for c in details for s in stats])
                                   for k, stats in VERDICTS.items()}
        metrics |= {f"{k}_n_bins": int(sum(details[c][1][s].within.size for c in details for s in stats))
                    for k, stats in VERDICTS.items()}  # the n behind each fraction (the verdict's interval)
        for k in ("pixel_ks", "pixel_w1"):
            metrics[k] = float(np.mean([details[c][0][k] for c in details]))
        metrics["by_condition"] = {condition_name(data.info, c): details[c][0] for c in details}
        return metrics, details

    def figures(self, run: Run, details, generated, real) -> list[ReportSection]:
        from gensci.viz.fields import plot_field_statistics

        info, fig = run.data.info, run.figures_dir
        paths = []
        for i, (c, (metrics, comparisons, (_, real_stats))) in enumerate(sorted(details.items())):
            title = (f"{condition_name(info, c)}: {len(generated[c])} generated vs {len(real[c])} test maps "
                     f"of {info['image_size']}² × {info['pixel_arcmin']}′")
            paths.append(plot_field_statistics(comparisons, real_stats, fig / f"field_statistics_{i}.png", title, metrics))
        return [ReportSection(
            "Map statistics", "Power spectrum, pixel PDF, peak counts and Minkowski functionals V0, V1, V2 per "
            "cosmology. Black: test maps' mean, grey band: ±2σ with σ = the test maps' per-map spread × "
            "sqrt(1/n_test + 1/n_generated), the scatter of a second draw of the data; orange: generated.",
            paths)]

    def sample_arrays(self, info: dict[str, Any], labels: torch.Tensor | None) -> dict[str, np.ndarray]:
        """The cosmology of each sample (sigma8, omega_m) when the model is conditional."""
        if labels is None:
            return {}
        table = np.asarray(info["conditions"], np.float64)[labels.numpy()]
        return {key: table[:, i] for i, key in enumerate(info["condition_keys"])}
