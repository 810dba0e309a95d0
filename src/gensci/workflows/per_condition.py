"""What the fields and lattices workflows share: arrays x [C, S, S] grouped by a condition label (a
cosmology, a temperature), generated per condition and measured against the same condition's real
items.

- Conditional methods (capability "conditional") are sampled per condition value present in the
  split, as many per condition as n / (number of conditions), rounded up; labels are the data's
  class indices of its condition grid (info["class_names"] names them).
- An unconditional method on a data set with one condition is compared with that condition's items;
  on a data set with several, with all of them pooled (`conditions_pooled`), unless the subclass
  says that is meaningless (`needs_condition`).
Subclasses implement `measure` (and `figures` for the report) on physical values.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gensci.config import ExperimentConfig
from gensci.data.base import DataSplits
from gensci.errors import UserError
from gensci.methods.base import Method, SamplingOptions
from gensci.metrics.intervals import WITHIN_2SIGMA
from gensci.workflows.base import (EvalOptions, Headline, ReportSection, Run, SampleOptions, Verdict, Workflow,
                                   eval_sampling, periodic_sampling)
from gensci.workflows.images import draw, is_conditional, write_samples
from gensci.workflows.verdicts import measured, within_verdict

POOLED = -1  # the group key of all conditions together


class PerConditionWorkflow(Workflow):
    needs_condition = False  # True: an unconditional model of several conditions cannot be measured
    headline_keys: tuple[str, ...] = ()

    # -- to implement ------------------------------------------------------------------------------
    def measure(self, generated: dict[int, np.ndarray], real: dict[int, np.ndarray], data: DataSplits,
                raw: dict[int, np.ndarray]) -> tuple[dict[str, Any], dict[int, Any]]:
        """Per group (condition label or POOLED) physical arrays [n, S, S] -> (metrics, details per group);
        `raw` holds the generated values as sampled."""
        raise NotImplementedError

    def figures(self, run: Run, details: dict[int, Any], generated, real) -> list[ReportSection]:
        return []

    def sample_arrays(self, info: dict[str, Any], labels: torch.Tensor | None) -> dict[str, np.ndarray]:
        """Extra npz arrays of `gensci sample` for these labels (e.g. the condition values)."""
        return {}

    # -- shared ------------------------------------------------------------------------------------
    @staticmethod
    def physical(data: DataSplits, x: torch.Tensor) -> np.ndarray:
        """Values [n, 1, S, S] -> physical units [n, S, S] through the data's declared ValueRange."""
        vr = data.spec.ranges.get("x") if data.spec is not None else None
        return (vr.to_physical(x) if vr is not None else x).numpy()[:, 0].astype(np.float64)

    def groups(self, method: Method, data: DataSplits, split, n: int, seed: int, options: SamplingOptions):
        """(generated, real) values [n, 1, S, S] per group key, drawn as the module docstring says."""
        x, y = split.tensors["x"], split.tensors["label"]
        present = sorted(set(y.tolist()))
        if is_conditional(method):
            per = math.ceil(n / len(present))
            labels = torch.tensor(present).repeat_interleave(per)
            fake, _ = draw(method, len(labels), seed, options, labels=labels)
            return {c: fake[labels == c] for c in present}, {c: x[y == c] for c in present}
        fake, _ = draw(method, n, seed, options)
        if len(present) == 1:
            return {present[0]: fake}, {present[0]: x}
        if self.needs_condition:
            raise UserError(f"this data set has {len(present)} conditions and the model is unconditional; "
                            "train a conditional one (method.conditional=true)")
        return {POOLED: fake}, {POOLED: x}

    def _measure_split(self, method, data, split, n, seed, options):
        gen, real = self.groups(method, data, split, n, seed, options)
        raw = {c: v.numpy()[:, 0] for c, v in gen.items()}
        gen_p, real_p = ({c: self.physical(data, v) for c, v in d.items()} for d in (gen, real))
        metrics, details = self.measure(gen_p, real_p, data, raw)
        if POOLED in gen:
            metrics["conditions_pooled"] = True
        metrics["n_samples"] = sum(len(v) for v in gen.values())
        return metrics, details, gen_p, real_p

    def periodic_eval(self, method: Method, data: DataSplits, config: ExperimentConfig) -> dict[str, float]:
        """The headline verdicts on `periodic_n_samples` samples against the validation split, with that count:
        fewer samples widen the 2-sigma yardstick, so these read higher than `evaluate` on eval.n_samples."""
        options = periodic_sampling(method, config.eval)
        metrics, *_ = self._measure_split(method, data, data.valid, config.eval.periodic_n_samples, 0, options)
        headline = {k: metrics[k] for k in self.headline_keys if isinstance(metrics.get(k), float)}
        return headline | {"n_samples": metrics["n_samples"]}

    def evaluate(self, run: Run, options: EvalOptions) -> dict[str, Any]:
        from gensci.workflows.inpainting import evaluate_inpainting, wants_inpainting

        if wants_inpainting(options):
            return evaluate_inpainting(run, options)
        method, cfg = run.method(checkpoint=options.checkpoint), run.config
        sampling = options.sampling(cfg.eval)
        metrics, *_ = self._measure_split(method, run.data, run.data.test, options.n or cfg.eval.n_samples,
                                          options.seed, sampling)
        return metrics | method.describe_sampling(sampling)

    def report(self, run: Run, metrics: dict[str, Any]) -> list[ReportSection]:
        cfg = run.config
        method = run.method()
        _, details, gen, real = self._measure_split(method, run.data, run.data.test, cfg.eval.n_samples, 0,
                                                    eval_sampling(cfg.eval))
        return [*self.figures(run, details, gen, real), self.sample_grids(run, gen, real)]

    # -- the verdict ---------------------------------------------------------------------------------
    within_keys: dict[str, str] = {}  # "<statistic>_within_2sigma" -> what its bins are, in words

    def headlines(self, metrics: dict[str, Any]) -> list[Headline]:
        """Each "within 2 sigma" fraction with its number of bins (`<key>_n_bins`) and a Wilson interval over them,
        beside a second draw of the data's 0.954; then the domain's other headline figures."""
        rows = [measured(metrics, k, n=metrics.get(f"{k}_n_bins"), proportion=True, data=round(WITHIN_2SIGMA, 3),
                         note=f"fraction of {what} bins within 2σ of the test data") for k, what in self.within_keys.items()]
        rows += [measured(metrics, k) for k in self.headline_keys if k not in self.within_keys]
        return [r for r in rows if r is not None]

    def verdicts(self, metrics: dict[str, Any]) -> list[Verdict]:
        """Per statistic: consistent with the data unless a second draw of the data would rarely score as low."""
        return [within_verdict(k, metrics[k], metrics.get(f"{k}_n_bins") or 0, what)
                for k, what in self.within_keys.items() if k in metrics]

    def verdict_text(self, metrics: dict[str, Any]) -> str:
        pooled = (" The model is unconditional: its samples were compared with all conditions pooled."
                  if metrics.get("conditions_pooled") else "")
        return (f"{metrics.get('n_samples', '?')} generated items against the test split, per condition. σ per bin "
                "from the data's own sample variance (gensci.metrics.sample_variance): a second draw of the data has "
                f"about {WITHIN_2SIGMA:.3f} of its bins within 2σ. Intervals: Wilson over the bins, taken as "
                f"independent.{pooled}")

    def sample_grids(self, run: Run, gen: dict[int, np.ndarray], real: dict[int, np.ndarray]) -> ReportSection:
        """Up to 8 generated and 8 real items per condition, one row per condition, on one colour scale."""
        from gensci.metrics.images import pixel_span
        from gensci.viz.images import grid_per_class

        keys = sorted(gen)
        names = ["all conditions"] if keys == [POOLED] else [run.data.info["class_names"][c] for c in keys]

        def stack(d):
            x = np.concatenate([d[c][:8] for c in keys])[:, None]
            return x, np.concatenate([np.full(len(d[c][:8]), i) for i, c in enumerate(keys)])

        (gx, gy), (rx, ry) = stack(gen), stack(real)
        vr = run.data.spec.ranges.get("x") if run.data.spec is not None else None
        span = pixel_span(vr, rx) if vr is not None and vr.values else (float(rx.min()), float(rx.max()))
        fig = run.figures_dir
        return ReportSection("Samples per condition", "Generated (top) and real test items (bottom), physical "
                             "units, one colour scale (the real items' range).",
                             [grid_per_class(gx, gy, names, fig / "samples_per_condition.png", title="generated", span=span),
                              grid_per_class(rx, ry, names, fig / "real_per_condition.png", title="real", span=span)])

    def sample(self, run: Run, options: SampleOptions) -> list[Path]:
        """Samples per condition (npz + PNG grid, with the condition values); with --input, posterior samples
        given measured fields (gensci.workflows.posterior: DPS inpainting for methods that have it)."""
        from gensci.workflows.posterior import posterior_samples, wants_posterior

        if wants_posterior(options):
            return posterior_samples(run, options)
        method = run.method(checkpoint=options.checkpoint)
        x, labels = draw(method, options.n or 64, options.seed, options.sampling(), options.class_label)
        return write_samples(run, options, x, labels, self.sample_arrays(run.info, labels))

    def headline(self, metrics: dict[str, Any]) -> dict[str, Any]:
        return {k: metrics[k] for k in self.headline_keys if k in metrics}

