"""Map statistics on inputs with known answers, and the sample-variance yardstick on independent draws."""

import math

import numpy as np
import pytest

from gensci.metrics.fields import (FieldBins, field_metrics, gaussian_minkowski, minkowski_functionals, peak_heights,
                                   power_spectra)
from gensci.metrics.sample_variance import compare_means, compare_statistic

SIZE, PIXEL = 32, 2.0


def gaussian_fields(n: int, seed: int, slope: float = 3.0) -> np.ndarray:
    """n periodic Gaussian random fields [n, S, S] with P(k) ∝ k^-slope, unit variance on average."""
    k = np.hypot(*np.meshgrid(np.fft.fftfreq(SIZE), np.fft.fftfreq(SIZE), indexing="ij"))
    amp = np.where(k > 0, k, np.inf) ** (-slope / 2)
    amp /= np.sqrt((amp**2).mean())
    return np.fft.ifft2(np.fft.fft2(np.random.default_rng(seed).normal(size=(n, SIZE, SIZE))) * amp).real


def test_white_noise_spectrum_is_flat_at_its_variance_times_pixel_area():
    x = np.random.default_rng(0).normal(0, 0.5, size=(200, SIZE, SIZE))
    ell, power = power_spectra(x, PIXEL)
    pixel = math.radians(PIXEL / 60)
    expected = 0.25 * pixel**2  # P = sigma^2 A_pix at every l
    se = power.std(0, ddof=1) / math.sqrt(len(power))  # few modes in the lowest bands: per-band errors
    assert np.all(np.abs(power.mean(0) - expected) <= 4 * se) and np.all(se < 0.1 * expected)
    assert np.all(np.diff(ell) > 0) and ell[-1] <= math.pi / pixel * 1.0001


def test_a_sine_puts_its_power_in_one_band():
    i = np.arange(SIZE)
    x = np.sin(2 * np.pi * 4 * i / SIZE)[None, :].repeat(SIZE, 0)[None]  # 4 cycles along x
    ell, power = power_spectra(x, PIXEL)
    target = 2 * np.pi * 4 / (SIZE * math.radians(PIXEL / 60))
    assert abs(ell[np.argmax(power[0])] - target) / target < 0.2
    assert power[0].max() > 0.95 * power[0].sum()  # all the power in that band


def test_minkowski_functionals_of_gaussian_fields_follow_tomita():
    x = gaussian_fields(200, 0)
    sigma = float(x.std())
    nu_edges = np.linspace(-2.5, 2.5, 11)
    v0, v1, v2 = minkowski_functionals(x, nu_edges, sigma)
    nu = (nu_edges[:-1] + nu_edges[1:]) / 2
    gy, gx = np.gradient(x / sigma, axis=(1, 2))
    tau = float(np.sqrt((gx**2 + gy**2).mean() / 2))  # per-component gradient spread (finite differences)
    e0, e1, e2 = gaussian_minkowski(nu, tau)
    np.testing.assert_allclose(v0.mean(0), e0, atol=0.01)
    np.testing.assert_allclose(v1.mean(0), e1, rtol=0.1, atol=0.002)
    np.testing.assert_allclose(v2.mean(0), e2, atol=0.15 * np.abs(e2).max())
    assert v2.mean(0)[0] < 0 < v2.mean(0)[-1]  # holes below the mean, islands above


def test_peaks_are_strict_local_maxima():
    m = np.zeros((8, 8))
    m[2, 2], m[5, 5], m[5, 6] = 3.0, 2.0, 2.0  # one peak; a plateau of two is none; border excluded
    m[0, 4] = 9.0
    assert peak_heights(m).tolist() == [3.0]


def test_independent_draws_are_within_2sigma_and_a_constant_field_is_not():
    real, second = gaussian_fields(300, 1), gaussian_fields(300, 2)
    metrics, comp, _ = field_metrics(second, real, PIXEL)
    for key in ("power_spectrum_within_2sigma", "pdf_within_2sigma", "minkowski_within_2sigma",
                "peak_counts_within_2sigma"):
        assert metrics[key] >= 0.75, (key, metrics[key])
    assert metrics["pixel_ks"] < 0.02
    bad, *_ = field_metrics(np.full((300, SIZE, SIZE), 0.01), real, PIXEL)
    for key in ("power_spectrum_within_2sigma", "pdf_within_2sigma", "minkowski_within_2sigma",
                "peak_counts_within_2sigma"):
        assert bad[key] < 0.3, (key, bad[key])
    assert bad["pixel_ks"] > 0.3


def test_a_smoother_spectrum_fails_the_spectrum_not_the_pdf():
    real, other = gaussian_fields(300, 1, slope=3.0), gaussian_fields(300, 3, slope=4.0)
    metrics, *_ = field_metrics(other, real, PIXEL)
    assert metrics["power_spectrum_within_2sigma"] < 0.3 and metrics["pdf_within_2sigma"] > 0.6


def test_nan_maps_raise():
    x = gaussian_fields(4, 0)
    x[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        FieldBins.from_reference(x)


def test_yardstick_scores_about_0_95_for_a_second_draw():
    """Many bins of two independent Gaussian samples: the within-2-sigma fraction is P(|z| <= 2) = 0.954."""
    rng = np.random.default_rng(0)
    real, gen = rng.normal(size=(400, 500)), rng.normal(size=(200, 500))
    assert compare_means(gen, real).fraction_within == pytest.approx(0.954, abs=0.03)
    assert compare_means(gen + 0.5, real).fraction_within < 0.05
    var = lambda a: a.var(0)  # noqa: E731  (a statistic of the whole set, bootstrap yardstick)
    assert compare_statistic(var, gen[:, :100], real[:, :100], n_boot=100).fraction_within >= 0.88
    assert compare_statistic(var, 2 * gen[:, :100], real[:, :100], n_boot=100).fraction_within < 0.05
