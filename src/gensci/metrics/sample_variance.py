"""The data's own sample variance as the yardstick of a generated set's statistics.

A statistic (one number per bin: a power-spectrum band, a histogram bin, an observable at one
temperature) is measured on the real reference set (n_real items) and on the generated set (n_gen
items). If the generator were the data distribution, the difference of the two would scatter with
    sigma^2 = s^2 (1/n_real + 1/n_gen)  for a mean of per-item values with per-item spread s, and
    sigma^2 = sd_boot^2 (1 + n_real/n_gen) in general, sd_boot the bootstrap spread of the statistic
                                          over resamples of the real set (its n_real-item error),
both measured on the real data. A bin is "within 2 sigma" when |gen - real| <= 2 sigma; the verdict
is the fraction of bins within. For two independent draws of the data it is ~0.95 (exactly
P(|z| <= 2) = 0.954 for Gaussian estimates); a generator that misses a statistic scores far below.
Bins where the real data do not vary at all (sigma = 0) count as within only if the values are equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Comparison:
    """One statistic per bin: generated and real values, the yardstick sigma, and which bins are within 2 sigma."""

    generated: np.ndarray
    real: np.ndarray
    sigma: np.ndarray

    @property
    def within(self) -> np.ndarray:
        return np.abs(self.generated - self.real) <= 2 * self.sigma

    @property
    def fraction_within(self) -> float:
        return float(self.within.mean()) if self.within.size else float("nan")


def compare_means(generated, real) -> Comparison:
    """Per-item values generated [n_gen, B] and real [n_real, B] -> their bin means, with
    sigma = s_real sqrt(1/n_real + 1/n_gen) (s_real the per-item standard deviation of the real set)."""
    g, r = np.asarray(generated, np.float64), np.asarray(real, np.float64)
    if g.ndim != 2 or r.ndim != 2 or g.shape[1] != r.shape[1]:
        raise ValueError(f"expected [n, B] values with the same bins, got {g.shape} and {r.shape}")
    if len(r) < 2 or len(g) < 1:
        raise ValueError("need at least 2 real and 1 generated item")
    sigma = r.std(0, ddof=1) * np.sqrt(1 / len(r) + 1 / len(g))
    return Comparison(g.mean(0), r.mean(0), sigma)


def bootstrap_std(statistic: Callable[[np.ndarray], np.ndarray], samples, n_boot: int = 200, seed: int = 0) -> np.ndarray:
    """Standard deviation of statistic(resample) over `n_boot` seeded resamples (with replacement)
    of the items (first axis) of `samples`."""
    x = np.asarray(samples)
    rng = np.random.default_rng(seed)
    values = np.array([statistic(x[rng.integers(len(x), size=len(x))]) for _ in range(n_boot)])
    return values.std(0, ddof=1)


def compare_statistic(statistic: Callable[[np.ndarray], np.ndarray], generated, real, n_boot: int = 200,
                      seed: int = 0) -> Comparison:
    """Any statistic of a set (e.g. a specific heat from energy fluctuations): its values on both
    sets and sigma = sd_boot(real) sqrt(1 + n_real / n_gen)."""
    g, r = np.asarray(generated), np.asarray(real)
    sd = bootstrap_std(statistic, r, n_boot, seed)
    return Comparison(np.asarray(statistic(g), np.float64), np.asarray(statistic(r), np.float64),
                      sd * np.sqrt(1 + len(r) / len(g)))


def pooled_fraction(comparisons) -> float:
    """The fraction of all bins of several comparisons that are within 2 sigma."""
    within = [c.within.ravel() for c in comparisons if c.within.size]
    return float(np.concatenate(within).mean()) if within else float("nan")
