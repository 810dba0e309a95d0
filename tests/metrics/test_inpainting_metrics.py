"""Inpainting metrics on known inputs: exact samples, samples from the true Gaussian posterior, too narrow ones."""

import numpy as np
import pytest

from gensci.metrics.inpainting import calibrated_coverage, hidden_rmse, inpainting_metrics, interval_coverage


def gaussian_case(k: int, spread: float = 1.0, seed: int = 0):
    """Per pixel a posterior N(m, s^2), the truth one draw of it, and k samples of N(m, (spread s)^2)."""
    rng = np.random.default_rng(seed)
    m = rng.normal(size=(40, 1, 16, 16))
    s = rng.uniform(0.5, 2.0, size=m.shape)
    truth = m + s * rng.standard_normal(m.shape)
    samples = m[:, None] + spread * s[:, None] * rng.standard_normal((40, k, 1, 16, 16))
    mask = (rng.uniform(size=(40, 1, 16, 16)) < 0.5).astype(np.float32)
    return truth, mask, samples


def test_perfect_samples_have_zero_error_and_cover_everything():
    truth, mask, _ = gaussian_case(4)
    samples = np.repeat(truth[:, None], 4, axis=1)
    metrics = inpainting_metrics(truth, mask, samples)
    assert metrics["inpainting_rmse"] == 0 and metrics["coverage_90"] == 1


def test_only_hidden_pixels_count():
    truth, mask, _ = gaussian_case(4)
    estimate = truth + 3.0 * (mask > 0.5)  # wrong at every observed pixel, exact at the hidden ones
    assert hidden_rmse(truth, mask, estimate) == 0
    estimate = truth + 0.5 * (mask < 0.5)
    assert hidden_rmse(truth, mask, estimate) == pytest.approx(0.5)


def test_samples_from_the_true_posterior_cover_90_percent():
    truth, mask, samples = gaussian_case(400)
    coverage = interval_coverage(truth, mask, samples)
    # ~5100 hidden pixels: binomial std ~0.004; with K = 400 the empirical interval is slightly too narrow
    assert coverage == pytest.approx(0.9, abs=0.02)
    assert coverage == pytest.approx(calibrated_coverage(400), abs=0.015)


def test_few_calibrated_samples_match_the_calibrated_reference_not_90_percent():
    truth, mask, samples = gaussian_case(8, seed=1)
    reference = calibrated_coverage(8)
    assert 0.68 < reference < 0.78  # the 5-95 % quantiles of 8 draws lie well inside the true ones
    assert interval_coverage(truth, mask, samples) == pytest.approx(reference, abs=0.025)
    assert calibrated_coverage(8) < calibrated_coverage(32) < calibrated_coverage(256) < 0.9


def test_too_narrow_samples_cover_little_and_too_wide_ones_too_much():
    truth, mask, narrow = gaussian_case(400, spread=0.25)
    assert interval_coverage(truth, mask, narrow) < 0.5  # P(|z| < 1.645 / 4) = 0.32
    truth, mask, wide = gaussian_case(400, spread=3.0)
    assert interval_coverage(truth, mask, wide) > 0.99


def test_a_mask_that_hides_nothing_is_refused():
    truth, _, samples = gaussian_case(4)
    with pytest.raises(ValueError, match="hides no pixel"):
        hidden_rmse(truth, np.ones_like(truth), truth)
