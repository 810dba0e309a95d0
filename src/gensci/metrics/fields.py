"""Summary statistics of 2D scalar fields (weak-lensing convergence maps), per map, and their
comparison with a reference set by the reference's own sample variance (gensci.metrics.sample_variance).

The statistics cosmoGAN judged its maps by (Mustafa et al. 2019: pixel histogram, power spectrum,
Minkowski functionals) and peak counts (Perraudin et al. 2021). Maps are arrays [N, S, S] (or
[N, 1, S, S]) of real values in physical units; NaN/inf raise.
- power_spectra: the radially averaged power spectrum in multipole l = 2 pi |k| / (S * pixel) (the
  flat-sky Fourier conjugate of angle, radians^-1), P(l) = |FFT|^2 * pixel^2 / S^2 averaged over the
  modes in log-spaced bands of l up to the Nyquist multipole pi / pixel (sr; <P> = P_kappa(l) for
  a field with that spectrum).
- pixel_histograms: fraction of pixels per value bin.
- peak_counts: local maxima (higher than their 8 neighbours; border pixels excluded) per height bin.
- minkowski_functionals: V0 (area fraction above the threshold), V1 (boundary length / 4 per pixel
  area), V2 (Euler characteristic per pixel area) of the excursion set u >= nu, u = map / sigma,
  with the estimator of Schmalzing & Gorski (1998, MNRAS 297, 355, Sec. 3) as LensTools codes it
  (apetri/LensTools, lenstools/external/minkowski.c): finite-difference gradients and Hessians
  (np.gradient, pixel units), V1 and V2 as sums over the pixels whose u falls in each threshold bin,
  divided by the bin width, V0 at the bin centres. For a Gaussian field they follow
  `gaussian_minkowski` (Tomita 1986, Prog. Theor. Phys. 76, 952; Schmalzing & Gorski 1998, Sec. 2).
`field_metrics` bins every statistic by the reference set (quantiles of its pixels and peaks), so
generated and real maps are measured in the same bins, and returns the verdicts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import erfc

from gensci.metrics.sample_variance import Comparison, compare_means, pooled_fraction


def as_maps(x, name: str = "maps") -> np.ndarray:
    """[N, S, S] or [N, 1, S, S] -> float64 [N, S, S]; NaN/inf raise."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    x = np.asarray(x, np.float64)
    if x.ndim == 4 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 3 or x.shape[1] != x.shape[2]:
        raise ValueError(f"{name}: expected square maps [N, S, S] or [N, 1, S, S], got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name}: {int((~np.isfinite(x)).sum())} NaN/inf values")
    return x


def ell_bands(size: int, pixel_arcmin: float, n_bins: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """The multipole bands of an S x S map: (|l| of the FFT grid [S*S], weights [S*S, B]: 1/(modes in
    the band) for the modes of each band, log-spaced from the fundamental to the Nyquist multipole;
    bands without modes are dropped). A grid quantity q [.., S*S] averages per band as q @ weights."""
    pixel = math.radians(pixel_arcmin / 60)
    f = 2 * np.pi * np.fft.fftfreq(size, d=pixel)
    ell = np.hypot(*np.meshgrid(f, f, indexing="ij")).ravel()
    edges = np.geomspace(f[1], np.pi / pixel * (1 + 1e-9), n_bins + 1)
    band = np.digitize(ell, edges) - 1  # -1: l = 0; n_bins: beyond Nyquist along an axis
    used = [b for b in range(n_bins) if np.any(band == b)]
    return ell, np.stack([(band == b) / np.sum(band == b) for b in used], axis=1)


def power_spectra(maps, pixel_arcmin: float, n_bins: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """(l [B] mean multipole of each band, P [N, B] per map in sr), bands of `ell_bands`."""
    x = as_maps(maps)
    s = x.shape[-1]
    ell, weights = ell_bands(s, pixel_arcmin, n_bins)
    pixel = math.radians(pixel_arcmin / 60)
    power = (np.abs(np.fft.fft2(x)) ** 2).reshape(len(x), -1) * pixel**2 / s**2
    return ell @ weights, power @ weights


def pixel_histograms(maps, edges) -> np.ndarray:
    """Fraction of each map's pixels in the bins [len(edges) - 1] -> [N, B]."""
    x = as_maps(maps).reshape(len(maps), -1)
    return np.stack([np.histogram(m, edges)[0] for m in x]) / x.shape[1]


def peak_heights(m: np.ndarray) -> np.ndarray:
    """Values of the local maxima of one map [S, S]: pixels higher than their 8 neighbours (border excluded)."""
    centre = m[1:-1, 1:-1]
    s = m.shape[0]
    higher = np.ones_like(centre, dtype=bool)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy or dx:
                higher &= centre > m[1 + dy : s - 1 + dy, 1 + dx : s - 1 + dx]
    return centre[higher]


def peak_counts(maps, edges) -> np.ndarray:
    """Number of peaks per height bin of each map -> [N, B]."""
    return np.stack([np.histogram(peak_heights(m), edges)[0] for m in as_maps(maps)]).astype(np.float64)


def minkowski_functionals(maps, nu_edges, sigma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """V0, V1, V2 [N, B] of u = map / sigma per threshold bin [nu_i, nu_i+1) (module docstring);
    V0 at the bin centres. Lengths are in pixels."""
    u = as_maps(maps) / sigma
    nu_edges = np.asarray(nu_edges, np.float64)
    width = np.diff(nu_edges)
    uy, ux = np.gradient(u, axis=(1, 2))
    uyy, uyx = np.gradient(uy, axis=(1, 2))
    uxx = np.gradient(ux, axis=2)
    grad2 = ux**2 + uy**2
    with np.errstate(divide="ignore", invalid="ignore"):
        curvature = np.where(grad2 > 0, (2 * ux * uy * uyx - ux**2 * uyy - uy**2 * uxx) / grad2, 0.0) / (2 * np.pi)
    length = np.sqrt(grad2) / 4
    n, area = len(u), u[0].size
    flat = u.reshape(n, -1)
    bins = np.digitize(flat, nu_edges) - 1
    v1, v2 = np.zeros((n, len(width))), np.zeros((n, len(width)))
    for b in range(len(width)):
        sel = bins == b
        v1[:, b] = (length.reshape(n, -1) * sel).sum(1) / (area * width[b])
        v2[:, b] = (curvature.reshape(n, -1) * sel).sum(1) / (area * width[b])
    centres = (nu_edges[:-1] + nu_edges[1:]) / 2
    v0 = (flat[:, :, None] >= centres).mean(1)
    return v0, v1, v2


def gaussian_minkowski(nu, tau: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expected V0, V1, V2 at thresholds nu of a Gaussian field with unit variance whose gradient
    components have standard deviation tau (per pixel): V0 = erfc(nu/sqrt 2)/2,
    V1 = tau/8 exp(-nu^2/2), V2 = tau^2 nu exp(-nu^2/2) / (2 pi)^(3/2)."""
    nu = np.asarray(nu, np.float64)
    g = np.exp(-(nu**2) / 2)
    return erfc(nu / math.sqrt(2)) / 2, tau / 8 * g, tau**2 * nu * g / (2 * math.pi) ** 1.5


@dataclass(frozen=True)
class FieldBins:
    """Bins of the statistics, fixed by a reference set: pixel values, thresholds (in units of the
    reference's pixel standard deviation `sigma`) and peak heights."""

    pixel_edges: np.ndarray
    nu_edges: np.ndarray
    peak_edges: np.ndarray
    sigma: float

    @classmethod
    def from_reference(cls, maps, n_pixel: int = 24, n_nu: int = 16, n_peak: int = 12) -> "FieldBins":
        x = as_maps(maps)
        sigma = float(x.std())
        lo, hi = np.quantile(x, [0.001, 0.999])
        nu_lo, nu_hi = np.quantile(x, [0.005, 0.995]) / sigma
        peaks = np.concatenate([peak_heights(m) for m in x])
        p_lo, p_hi = np.quantile(peaks, [0.01, 0.99]) if peaks.size else (lo, hi)
        return cls(np.linspace(lo, hi, n_pixel + 1), np.linspace(nu_lo, nu_hi, n_nu + 1),
                   np.linspace(p_lo, p_hi, n_peak + 1), sigma)


@dataclass(frozen=True)
class FieldStatistics:
    """Per-map statistics [N, B] of one set of maps, and the bin centres they refer to."""

    ell: np.ndarray
    power: np.ndarray
    pixel_centres: np.ndarray
    pdf: np.ndarray
    nu: np.ndarray
    v0: np.ndarray
    v1: np.ndarray
    v2: np.ndarray
    peak_centres: np.ndarray
    peaks: np.ndarray


def field_statistics(maps, pixel_arcmin: float, bins: FieldBins) -> FieldStatistics:
    ell, power = power_spectra(maps, pixel_arcmin)
    v0, v1, v2 = minkowski_functionals(maps, bins.nu_edges, bins.sigma)
    mid = lambda e: (e[:-1] + e[1:]) / 2  # noqa: E731
    return FieldStatistics(ell, power, mid(bins.pixel_edges), pixel_histograms(maps, bins.pixel_edges),
                           mid(bins.nu_edges), v0, v1, v2, mid(bins.peak_edges), peak_counts(maps, bins.peak_edges))


STATISTICS = ("power", "pdf", "v0", "v1", "v2", "peaks")


def compare_fields(generated: FieldStatistics, real: FieldStatistics) -> dict[str, Comparison]:
    """Each statistic's bin means, generated vs real, with the real set's sample variance as yardstick."""
    return {k: compare_means(getattr(generated, k), getattr(real, k)) for k in STATISTICS}


def field_metrics(generated, real, pixel_arcmin: float, max_pixels: int = 200_000, seed: int = 0):
    """Generated vs real maps (physical units) -> (metrics, comparisons, (generated stats, real stats)).

    metrics: power_spectrum_within_2sigma, pdf_within_2sigma, minkowski_within_2sigma (V0, V1 and V2
    bins pooled), peak_counts_within_2sigma (fractions of bins within 2 sigma of the real maps), and
    of the pooled pixel values (at most `max_pixels` each, seeded): pixel_ks (Kolmogorov-Smirnov
    statistic D; no p-value, pixels are correlated) and pixel_w1 (Wasserstein-1, physical units)."""
    from scipy.stats import ks_2samp, wasserstein_distance

    g, r = as_maps(generated, "generated"), as_maps(real, "real")
    bins = FieldBins.from_reference(r)
    stats = field_statistics(g, pixel_arcmin, bins), field_statistics(r, pixel_arcmin, bins)
    comp = compare_fields(*stats)
    rng = np.random.default_rng(seed)
    pg, pr = (x.ravel()[rng.permutation(x.size)[:max_pixels]] for x in (g, r))
    metrics = {
        "power_spectrum_within_2sigma": comp["power"].fraction_within,
        "pdf_within_2sigma": comp["pdf"].fraction_within,
        "minkowski_within_2sigma": pooled_fraction([comp["v0"], comp["v1"], comp["v2"]]),
        "peak_counts_within_2sigma": comp["peaks"].fraction_within,
        "pixel_ks": float(ks_2samp(pg, pr).statistic),
        "pixel_w1": float(wasserstein_distance(pg, pr)),
    }
    return metrics, comp, stats
