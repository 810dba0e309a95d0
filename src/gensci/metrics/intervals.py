"""Intervals of headline figures, and whether a count of passing bins is what the data itself would give.

- wilson_interval: the Wilson score interval of a proportion k / n (Wilson 1927, JASA 22, 209; the formula
  scipy's `binomtest(k, n).proportion_ci(method="wilson")` uses). Unlike the normal approximation it stays
  inside [0, 1] and is not empty at k = 0 or k = n, where stabilities and validities of small runs often lie.
- within_tail: for "fraction of bins within 2 sigma" verdicts (gensci.metrics.sample_variance), the
  probability that a second draw of the data scores as low or lower: P(X <= k) for X ~ Binomial(n, p0),
  p0 = P(|z| <= 2) = 0.954. Bins are treated as independent, which they are only roughly (neighbouring
  power-spectrum bands, histogram bins that sum to one); read it as a yardstick, not an exact test.
- bootstrap_interval: the percentile bootstrap (Efron & Tibshirani 1993, ch. 13) of any statistic of n items,
  for medians and other figures without a closed form.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erf, erfinv
from scipy.stats import binom

WITHIN_2SIGMA = float(erf(2 / math.sqrt(2)))  # P(|z| <= 2) = 0.9545 for a Gaussian estimate: the data vs itself


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float] | None:
    """The Wilson score interval (low, high) of successes / n at `level`; None when n is 0."""
    if n <= 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError(f"successes must lie in [0, n], got {successes} of {n}")
    z = math.sqrt(2) * float(erfinv(level))  # the normal quantile of (1 + level) / 2
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (0.0 if successes == 0 else centre - half), (1.0 if successes == n else centre + half)


def proportion_interval(fraction: float, n: int, level: float = 0.95) -> tuple[float, float] | None:
    """wilson_interval of a fraction measured on n items (successes = round(fraction x n))."""
    if n <= 0 or fraction is None or not math.isfinite(fraction):
        return None
    return wilson_interval(min(n, max(0, round(fraction * n))), n, level)


def within_tail(fraction: float, n: int, p0: float = WITHIN_2SIGMA) -> float:
    """P(X <= k) for X ~ Binomial(n, p0) and k = round(fraction x n): how often a second draw of the data
    would have as few bins within 2 sigma (module docstring)."""
    return float(binom.cdf(round(fraction * n), n, p0))



def bootstrap_interval(statistic, n: int, n_boot: int = 200, level: float = 0.95,
                       seed: int = 0) -> tuple[float, float] | None:
    """Percentile bootstrap interval of statistic(rows) over n items resampled with replacement (rows: an index
    array [n]); None for fewer than 2 items. A statistic that is NaN on a resample (too few items of a kind) is
    left out of the percentiles."""
    if n < 2:
        return None
    rng = np.random.default_rng(seed)
    draws = np.array([statistic(rng.integers(0, n, n)) for _ in range(n_boot)], dtype=np.float64)
    draws = draws[np.isfinite(draws)]
    if not len(draws):
        return None
    a = (1 - level) / 2
    return float(np.quantile(draws, a)), float(np.quantile(draws, 1 - a))
