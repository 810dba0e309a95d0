"""Lattice runs (Ising spins): generated lattices per temperature against the Monte Carlo test
lattices of that temperature by their thermodynamics (gensci.metrics.lattices), each judged by the
Monte Carlo data's own sample variance. Generated values are made spins ±1 first (`as_spins`: +1 with
probability (1 + x) / 2, exact for ±1).

Keys of `gensci evaluate`: observables_within_2sigma (fraction of temperature x observable cells:
<|m|>, energy, specific heat, susceptibility, Binder cumulant), correlation_within_2sigma (temperature
x distance cells of G(r)), sign_balance (the minority sign's share below T_c, 0.5 ideal; the data's
as sign_balance_data), per observable its within-fraction, mean_abs_value (how close to ±1 the
raw samples are; 1 for spins), and <fraction>_n_bins: the cells behind each fraction.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from gensci.data.base import DataSplits
from gensci.metrics.lattices import OBSERVABLES, as_spins, lattice_metrics
from gensci.workflows.base import Headline, ReportSection, Run
from gensci.workflows.per_condition import PerConditionWorkflow


class LatticeWorkflow(PerConditionWorkflow):
    domain = "lattices"
    needs_condition = True
    headline_keys = ("observables_within_2sigma", "correlation_within_2sigma", "sign_balance", "mean_abs_value")
    within_keys = {"observables_within_2sigma": "temperature x observable", "correlation_within_2sigma":
                   "temperature x distance G(r)", **{f"{o}_within_2sigma": f"temperature ({o})" for o in OBSERVABLES}}

    def headlines(self, metrics: dict[str, Any]) -> list[Headline]:
        """As PerConditionWorkflow, with the data's own sign balance beside the generated one (0.5 ideal below T_c)."""
        rows = super().headlines(metrics)
        for row in rows:
            if row.name == "sign_balance":
                row.data, row.note = metrics.get("sign_balance_data"), "minority sign's share below T_c; 0.5 ideal"
            elif row.name == "mean_abs_value":
                row.data, row.note = 1.0, "how close to ±1 the raw samples are"
        return rows

    def verdict_parts(self, metrics: dict[str, Any]) -> list[ReportSection]:
        """Per temperature, each observable: generated vs Monte Carlo ± 2σ, marked ✓ when within (by_temperature)."""
        by = metrics.get("by_temperature") or {}
        if not by:
            return []
        table = {}
        for t, observables in by.items():
            row, inside = {}, 0
            for name in OBSERVABLES:
                v = observables.get(name)
                if v is None:
                    continue
                ok = abs(v["generated"] - v["data"]) <= 2 * v["sigma"]
                inside += ok
                row[name] = f"{v['generated']:.4g} vs {v['data']:.4g} ± {2 * v['sigma']:.2g} {'✓' if ok else '✗'}"
            table[f"T = {t}"] = {"within 2σ": f"{inside} of {len(row)}", **row}
        return [ReportSection("Per temperature", "Generated vs Wolff Monte Carlo test lattices ± 2σ (σ: the scatter of "
                              "a second draw of the data); ✓ within, ✗ outside.", table=table,
                              columns=["within 2σ", *OBSERVABLES], role="verdict")]

    def measure(self, generated, real, data: DataSplits, raw) -> tuple[dict[str, Any], dict[int, Any]]:
        temps = data.info["temperatures"]
        spins = {temps[c]: as_spins(generated[c], seed=c) for c in generated}
        metrics, comps = lattice_metrics(spins, {temps[c]: real[c].astype(np.int8) for c in real})
        metrics["mean_abs_value"] = float(np.mean([np.abs(v).mean() for v in raw.values()]))
        n_obs = sum(comps[t]["observables"].within.size for t in comps)  # the n behind each fraction (verdict)
        metrics |= {"observables_within_2sigma_n_bins": int(n_obs), "correlation_within_2sigma_n_bins":
                    int(sum(comps[t]["correlation"].within.size for t in comps))}
        metrics |= {f"{name}_within_2sigma_n_bins": len(comps) for name in OBSERVABLES}
        return metrics, {"comparisons": comps, "spins": spins}

    def figures(self, run: Run, details, generated, real) -> list[ReportSection]:
        from gensci.viz.lattices import plot_correlations, plot_magnetisation_histograms, plot_observables

        info, fig = run.data.info, run.figures_dir
        temps = info["temperatures"]
        real_spins = {temps[c]: real[c] for c in real}
        n_gen = len(next(iter(details["spins"].values())))
        n_real = len(next(iter(real_spins.values())))
        size = f"{info['lattice_size']}×{info['lattice_size']}"
        return [ReportSection(
            "Thermodynamics against temperature",
            f"Per temperature: {n_gen} generated vs {n_real} Wolff Monte Carlo test lattices ({size}, periodic). "
            "Black: Monte Carlo with ±2σ error bars (σ: bootstrap spread of the test set × sqrt(1 + n_test / "
            "n_generated), the scatter of a second draw); orange: generated; grey lines: Onsager's exact "
            "&lt;|m|&gt; and energy of the infinite lattice.",
            [plot_observables(details["comparisons"], fig / "observables.png", size),
             plot_correlations(details["comparisons"], fig / "correlations.png"),
             plot_magnetisation_histograms(details["spins"], real_spins, fig / "magnetisation.png")])]

    def sample_arrays(self, info: dict[str, Any], labels: torch.Tensor | None) -> dict[str, np.ndarray]:
        """The temperature of each sample when the model is conditional."""
        return {} if labels is None else {"temperature": np.asarray(info["temperatures"])[labels.numpy()]}
