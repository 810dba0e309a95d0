"""Predicted against true mutation effects: Spearman's rank correlation with bootstrap intervals.

Riesselman et al. 2018 (Nature Methods 15:816, Fig. 2) score a model by Spearman's rho between its predicted
effects (log-likelihood ratios mutant / wild type) and the measured ones; here the truth is the negative
energy change of a simulated Potts model (higher = fitter), so a perfect predictor has rho = 1.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata, spearmanr


def spearman(pred: np.ndarray, true: np.ndarray) -> float:
    """Spearman's rho of two [M] arrays (NaN when either is constant)."""
    pred, true = np.asarray(pred, float), np.asarray(true, float)
    if len(pred) < 2 or np.ptp(pred) == 0 or np.ptp(true) == 0:
        return float("nan")
    return float(spearmanr(pred, true).statistic)


def bootstrap_interval(pred: np.ndarray, true: np.ndarray, n_boot: int = 1000, level: float = 0.95,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of Spearman's rho, resampling mutants with replacement."""
    pred, true = np.asarray(pred, float), np.asarray(true, float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(pred), (n_boot, len(pred)))
    rp, rt = rankdata(pred[idx], axis=1), rankdata(true[idx], axis=1)  # Pearson of ranks = Spearman
    rp -= rp.mean(1, keepdims=True)
    rt -= rt.mean(1, keepdims=True)
    rho = (rp * rt).sum(1) / np.sqrt((rp**2).sum(1) * (rt**2).sum(1))
    lo, hi = np.nanquantile(rho, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def effect_metrics(pred: dict[str, np.ndarray], true: dict[str, np.ndarray], prefix: str = "",
                   interval: bool = False) -> dict[str, float]:
    """Spearman's rho per mutant set: `pred`/`true` map a set name ("single", "double", "epistasis", ...) to
    [M] arrays -> {"{prefix}spearman_{name}": rho} (+ "_lo"/"_hi" 95 % bootstrap bounds with interval=True).
    A set whose prediction is constant (a site-independent model's epistasis) is left out."""
    out: dict[str, float] = {}
    for name, p in pred.items():
        rho = spearman(p, true[name])
        if np.isnan(rho):
            continue
        out[f"{prefix}spearman_{name}"] = rho
        if interval:
            out[f"{prefix}spearman_{name}_lo"], out[f"{prefix}spearman_{name}_hi"] = bootstrap_interval(p, true[name])
    return out
