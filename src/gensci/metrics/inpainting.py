"""Inpainting benchmark: how close posterior samples come to the hidden truth, and whether their spread is honest.

Shapes: truth [N, C, H, W]; mask [N or 1, C or 1, H, W] (1 = observed, broadcast); samples [N, K, C, H, W]
(K posterior samples per map); estimates [N, C, H, W]. Only hidden pixels (mask 0) count.

- `hidden_rmse`: root mean squared error of an estimate (the posterior mean, a baseline) over hidden pixels.
- `interval_coverage`: the fraction of hidden pixels whose truth lies in the per-pixel central `level` interval
  of the K samples (np.quantile with linear interpolation, e.g. the 5 % and 95 % quantiles for level 0.9).
- `calibrated_coverage`: what that coverage is for a perfectly calibrated sampler with the same K (the truth one
  more exchangeable draw), by Monte Carlo on Gaussian draws. With few samples the empirical quantiles lie inside
  the true ones, so it is below `level` (about 0.73 for K = 8, 0.85 for K = 32): compare with this, not with 0.9.
"""

from __future__ import annotations

import numpy as np


def _hidden(truth: np.ndarray, mask: np.ndarray) -> np.ndarray:
    hidden = np.broadcast_to(np.asarray(mask) < 0.5, np.shape(truth))
    if not hidden.any():
        raise ValueError("the mask hides no pixel: nothing to measure")
    return hidden


def hidden_rmse(truth: np.ndarray, mask: np.ndarray, estimate: np.ndarray) -> float:
    """RMSE of estimate [N, C, H, W] against truth over the hidden pixels."""
    hidden = _hidden(truth, mask)
    err = np.asarray(estimate, np.float64) - np.asarray(truth, np.float64)
    return float(np.sqrt(np.mean(err[hidden] ** 2)))


def interval_coverage(truth: np.ndarray, mask: np.ndarray, samples: np.ndarray, level: float = 0.9) -> float:
    """Fraction of hidden pixels whose truth lies in the central `level` interval of samples [N, K, C, H, W]."""
    hidden = _hidden(truth, mask)
    tail = (1 - level) / 2
    low, high = np.quantile(np.asarray(samples, np.float64), [tail, 1 - tail], axis=1)
    t = np.asarray(truth, np.float64)
    return float(((t >= low) & (t <= high))[hidden].mean())


def calibrated_coverage(k: int, level: float = 0.9, trials: int = 20000, seed: int = 0) -> float:
    """`interval_coverage` of a perfectly calibrated sampler drawing k samples (Monte Carlo, Gaussian draws)."""
    draws = np.random.default_rng(seed).standard_normal((trials, k + 1))
    tail = (1 - level) / 2
    low, high = np.quantile(draws[:, :k], [tail, 1 - tail], axis=1)
    return float(((draws[:, k] >= low) & (draws[:, k] <= high)).mean())


def inpainting_metrics(truth: np.ndarray, mask: np.ndarray, samples: np.ndarray, level: float = 0.9) -> dict:
    """inpainting_rmse (posterior mean), coverage_90 (or coverage_<level>) and its calibrated reference."""
    name = f"coverage_{round(level * 100)}"
    k = np.shape(samples)[1]
    return {"inpainting_rmse": hidden_rmse(truth, mask, np.asarray(samples, np.float64).mean(axis=1)),
            name: interval_coverage(truth, mask, samples, level),
            f"{name}_if_calibrated": calibrated_coverage(k, level)}
