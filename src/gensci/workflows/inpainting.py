"""`gensci evaluate RUN --input maps.npz --mask mask.npz [--n K] --json`: an inpainting benchmark for a diffusion
run (any grid domain). The input's `images` are complete maps (the truth, in the data's units); the mask's `mask`
(1 = observed) hides the rest (same file formats and checks as `gensci sample --input --mask`,
gensci.workflows.posterior). K posterior samples per map (DPS; default 16) are compared with the truth on the
hidden pixels, and so are two classical baselines: the Gaussian conditional mean under the training maps' power
spectrum (gensci.ops.kriging, linear space) and biharmonic inpainting (no prior). For lensing maps without shape
noise (a shifted lognormal field of one cosmology, its shift known from the simulator) also the conditional mean
in log space, which is the exact posterior mean: no estimator beats it in expectation, and the mean of K exact
posterior draws is worse by its Monte Carlo error, sqrt(rmse^2 + mean posterior variance / K).

Keys: inpainting_rmse (posterior mean), baseline_inpainting_rmse (Gaussian conditional mean),
biharmonic_inpainting_rmse, mean_fill_rmse (hidden pixels = the training mean), coverage_90 (fraction of hidden
pixels whose truth lies in the samples' per-pixel 5-95 % interval) with coverage_90_if_calibrated (the same for
a perfectly calibrated sampler with this K, gensci.metrics.inpainting) and baseline_coverage_90 (the Gaussian posterior's +-1.645 sigma interval),
lognormal_inpainting_rmse and exact_posterior_rmse_at_k (the two bounds above, lensing only), n_maps,
samples_per_map, masked_fraction, measurement_noise (data units), units, the sampling description and
`figure` (per map: truth, mask, posterior mean, posterior std, baseline). Written to RUN/inpainting.json, which
`gensci report` shows (`inpainting_section`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gensci.errors import InputFileError, UserError
from gensci.metrics.inpainting import hidden_rmse, inpainting_metrics
from gensci.ops.kriging import (biharmonic_fill, gaussian_conditional, lognormal_conditional, mean_fill,
                               periodic_covariance)
from gensci.viz.report import Verdict, verdicts_html
from gensci.workflows.base import EvalOptions, ReportSection, Run
from gensci.workflows.posterior import posterior_method, read_images, read_mask

DEFAULT_PER_MAP = 16
GAUSSIAN_90 = 1.6448536269514722  # the standard normal's 95 % quantile: +-z is the central 90 % interval


def wants_inpainting(options: EvalOptions) -> bool:
    """True when `gensci evaluate` was given --input and --mask; one without the other is a UserError."""
    if (options.input is None) != (options.mask is None):
        raise UserError("an inpainting benchmark needs both --input (complete maps) and --mask (observed pixels)")
    return options.input is not None


def evaluate_inpainting(run: Run, options: EvalOptions) -> dict[str, Any]:
    method = posterior_method(run, options.checkpoint, "inpaint")
    info = run.info
    truth = read_images(options.input, int(info["channels"]), int(info["image_size"]), super_resolution=False)
    mask = read_mask(options.mask, truth)
    if mask.all():
        raise InputFileError(f"{options.mask}: the mask hides no pixel (all 1); nothing to fill in")
    k = options.n or DEFAULT_PER_MAP
    sampling = options.sampling(run.config.eval)
    g = torch.Generator().manual_seed(options.seed)
    samples = method.inpaint(torch.from_numpy(truth), torch.from_numpy(mask), k, options.measurement_noise, g,
                             sampling).float().cpu().numpy()
    sigma_y = method.config.measurement_noise if options.measurement_noise is None else options.measurement_noise
    train = run.data.train.tensors["x"].numpy()
    prior_mean, xi = periodic_covariance(train)
    baseline, baseline_std = gaussian_conditional(truth, mask, prior_mean, xi, sigma_y)
    hidden = mask < 0.5
    metrics = inpainting_metrics(truth, mask, samples) | {
        "baseline_inpainting_rmse": hidden_rmse(truth, mask, baseline),
        "biharmonic_inpainting_rmse": hidden_rmse(truth, mask, biharmonic_fill(truth, mask)),
        "mean_fill_rmse": hidden_rmse(truth, mask, mean_fill(truth, mask, prior_mean)),
        "baseline_coverage_90": float((np.abs(truth - baseline) <= GAUSSIAN_90 * baseline_std)[hidden].mean()),
        "n_maps": len(truth), "samples_per_map": k, "masked_fraction": float(hidden.mean()),
        "measurement_noise": float(sigma_y), "units": "data units (the input's)",
        "n_train_maps_for_baseline": len(train)} | lognormal_bounds(info, truth, mask, train, sigma_y, k)
    from gensci.viz.inpainting import plot_inpainting

    metrics["figure"] = str(plot_inpainting(truth, mask, samples.mean(1), samples.std(1), baseline,
                                            run.figures_dir / "inpainting.png", metrics))
    return metrics | method.describe_sampling(sampling)


def lognormal_bounds(info: dict[str, Any], truth, mask, train, sigma_y: float, k: int) -> dict[str, float]:
    """For one-cosmology lensing maps without shape noise: the exact posterior mean's RMSE on the hidden pixels
    and the expected RMSE of the mean of k exact posterior draws (module docstring); {} for other data."""
    shifts = (info.get("model") or {}).get("shift") or []
    if len(shifts) != 1 or info.get("noise_sigma") or not info.get("kappa_scale"):
        return {}
    mean, std = lognormal_conditional(truth, mask, train, shifts[0] / info["kappa_scale"], sigma_y)
    rmse, spread = hidden_rmse(truth, mask, mean), hidden_rmse(np.zeros_like(std), mask, std)
    return {"lognormal_inpainting_rmse": rmse, "exact_posterior_rmse_at_k": float(np.sqrt(rmse**2 + spread**2 / k))}


def inpainting_verdicts(metrics: dict[str, Any]) -> list[Verdict]:
    """The benchmark's judgements: the posterior mean against the classical fills on the same hidden pixels, and
    the samples' 90 % intervals against a calibrated sampler's coverage at the same K."""
    out = []
    rmse, base = metrics.get("inpainting_rmse"), metrics.get("baseline_inpainting_rmse")
    where = (f"{metrics.get('n_maps')} maps, {100 * metrics.get('masked_fraction', float('nan')):.0f} % of pixels "
             f"hidden, K = {metrics.get('samples_per_map')} samples per map; no interval (per-map errors not kept)")
    if rmse is not None and base is not None:
        others = ", ".join(f"{name} {metrics[key]:.4g}" for key, name in (
            ("biharmonic_inpainting_rmse", "biharmonic"), ("mean_fill_rmse", "mean fill"),
            ("lognormal_inpainting_rmse", "exact posterior mean (lognormal)"),
            ("exact_posterior_rmse_at_k", "mean of K exact posterior draws")) if key in metrics)
        reason = f"RMSE {rmse:.4g} against the Gaussian conditional mean's {base:.4g}; {others}; {where}"
        outcome = "better than the Gaussian baseline" if rmse < base else "not better than the Gaussian baseline"
        out.append(Verdict("inpainting_rmse", outcome, rmse < base, reason))
    cov, calibrated = metrics.get("coverage_90"), metrics.get("coverage_90_if_calibrated")
    if cov is not None and calibrated is not None:
        side = ("intervals too narrow (over-confident)" if cov < calibrated else
                "intervals too wide (under-confident)" if cov > calibrated else "calibrated")
        out.append(Verdict("coverage_90", side, None,
                           f"{cov:.3f} of hidden pixels inside the samples' 5-95 % interval; a calibrated sampler with "
                           f"the same K covers {calibrated:.3f}; the Gaussian posterior's ±1.645σ covers "
                           f"{metrics.get('baseline_coverage_90', float('nan')):.3f}"))
    return out


def inpainting_section(run: Run) -> list[ReportSection]:
    """The report's section for the last inpainting benchmark of the run (RUN/inpainting.json), if any: its
    verdicts first, then the figure, then every key (folded)."""
    path = run.out / "inpainting.json"
    if not path.exists():
        return []
    metrics = json.loads(path.read_text())
    figure = Path(metrics.get("figure", ""))
    table = {k: v for k, v in metrics.items() if k != "figure" and not isinstance(v, (dict, list))}
    return [ReportSection(
        "Inpainting benchmark", verdicts_html(inpainting_verdicts(metrics)) + "`gensci evaluate RUN --input MAPS "
        "--mask MASK`: posterior samples (DPS) against the truth on the hidden pixels. RMSE of the posterior mean and "
        "of the Gaussian conditional mean under the training maps' power spectrum (baseline), and of biharmonic "
        "inpainting (no prior); coverage_90: fraction of hidden pixels whose truth lies in the samples' per-pixel "
        "5-95 % interval, to be compared with coverage_90_if_calibrated (same K).",
        [figure] if figure.is_file() else [],
        parts=[ReportSection("Inpainting: every key", table=table, collapsed=True)])]
