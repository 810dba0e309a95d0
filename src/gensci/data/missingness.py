"""Missing values made on purpose, under the three mechanisms of Rubin (1976), "Inference and missing data",
Biometrika 63(3) (also Little & Rubin, "Statistical Analysis with Missing Data", 3rd ed. 2019, Sec. 1.3).

With data X [n, d] and the indicator M (M_ij = 1: x_ij is hidden):
- MCAR, missing completely at random: P(M | X) = P(M), nothing about the data decides what is hidden.
  Here exactly round(rate * n_known) of the known entries, drawn uniformly without replacement.
- MAR, missing at random: P(M | X) = P(M | X_obs), what is hidden depends only on values that stay
  observed. Here (after Muzellec, Josse, Boyer & Cuturi 2020, "Missing data imputation using optimal
  transport", ICML, Sec. 4; code BorisMuzellec/MissingDataOT, utils.py `MAR_mask`): a random 30 % of the
  columns (at least one) are never hidden ("drivers"); each other column j is hidden with probability
  sigmoid(X_drivers w_j + b_j), weights w_j ~ U(0, 1) scaled so the logit has unit standard deviation,
  b_j found by root finding. Unlike Muzellec et al., whose rate p applies to the hidden columns only,
  those columns here get rate * d / (d - d_drivers), so that `rate` is the share of ALL known entries.
- MNAR, missing not at random: P(M | X) depends on the hidden values themselves. Here the self-masked
  logistic model of the same paper and code (`MNAR_self_mask_logistic`): x_ij is hidden with probability
  sigmoid(x_ij / std_j + b_j), so large values go missing more often; b_j gives every column the rate.

MAR and MNAR hit the rate in expectation (Bernoulli draws), MCAR exactly. Entries already unknown
(NaN: a user's real gaps) are never "hidden" and count in no rate; in the logistic scores they are
taken at their column mean. All randomness comes from the numpy Generator passed in.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit

from gensci.errors import ConfigError

Mechanism = Literal["mcar", "mar", "mnar"]
MECHANISMS: tuple[str, ...] = ("mcar", "mar", "mnar")
DRIVER_SHARE = 0.3  # p_obs = 0.3 in Muzellec et al. 2020, Sec. 4 ("30 % of the variables" drive MAR)


def hide_values(x: np.ndarray, mechanism: Mechanism, rate: float, rng: np.random.Generator) -> np.ndarray:
    """The entries to hide: x [n, d] float (NaN = unknown) -> hidden [n, d] bool (never a NaN entry)."""
    if not 0 < rate < 1:
        raise ConfigError(f"data.missing_rate must be in (0, 1), got {rate}")
    known = ~np.isnan(x)
    if mechanism == "mcar":
        return _mcar(known, rate, rng)
    filled = np.where(known, x, np.nanmean(np.where(known, x, np.nan), axis=0, keepdims=True))
    filled = np.nan_to_num(filled)
    if mechanism == "mar":
        return _mar(filled, known, rate, rng)
    if mechanism == "mnar":
        return _mnar(filled, known, rate, rng)
    raise ConfigError(f"unknown missingness mechanism {mechanism!r}; choices: {', '.join(MECHANISMS)}")


def mar_drivers(d: int, rng: np.random.Generator) -> np.ndarray:
    """The never-hidden columns of MAR: a random DRIVER_SHARE of the d columns, at least one (sorted)."""
    n_drivers = max(1, int(round(DRIVER_SHARE * d)))
    return np.sort(rng.choice(d, n_drivers, replace=False))


def _mcar(known: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    where = np.flatnonzero(known)
    chosen = rng.choice(where, int(round(rate * len(where))), replace=False)
    hidden = np.zeros(known.size, bool)
    hidden[chosen] = True
    return hidden.reshape(known.shape)


def _mar(x: np.ndarray, known: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    n, d = x.shape
    if d < 2:
        raise ConfigError("MAR needs at least two columns (one stays observed and decides what the others hide)")
    drivers = mar_drivers(d, rng)
    targets = np.setdiff1d(np.arange(d), drivers)
    column_rate = rate * d / len(targets)
    if column_rate >= 1:
        raise ConfigError(f"MAR keeps {len(drivers)} of {d} columns observed, so at most "
                          f"{len(targets) / d:.2f} of the entries can be hidden; lower data.missing_rate")
    weights = rng.uniform(size=(len(drivers), len(targets)))
    logits = x[:, drivers] @ weights
    logits = logits / np.maximum(logits.std(axis=0, keepdims=True), 1e-12)
    hidden = np.zeros((n, d), bool)
    draws = rng.uniform(size=(n, len(targets)))
    for k, j in enumerate(targets):
        p = _calibrated(logits[:, k], known[:, j], column_rate)
        hidden[:, j] = (draws[:, k] < p) & known[:, j]
    return hidden


def _mnar(x: np.ndarray, known: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    logits = x / np.maximum(x.std(axis=0, keepdims=True), 1e-12)
    draws = rng.uniform(size=x.shape)
    hidden = np.zeros(x.shape, bool)
    for j in range(x.shape[1]):
        p = _calibrated(logits[:, j], known[:, j], rate)
        hidden[:, j] = (draws[:, j] < p) & known[:, j]
    return hidden


def _calibrated(logit: np.ndarray, known: np.ndarray, rate: float) -> np.ndarray:
    """sigmoid(logit + b) with the intercept b chosen so its mean over the known rows is `rate`."""
    if not known.any():
        return np.zeros_like(logit)
    b = brentq(lambda b: expit(logit[known] + b).mean() - rate, -50.0, 50.0)
    return expit(logit + b)
