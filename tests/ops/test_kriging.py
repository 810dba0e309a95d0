"""The Gaussian conditional-mean baseline: exact for a Gaussian field with the given covariance (checked against
the precision-matrix form of the same conditional), observed pixels unchanged, honest posterior std."""

import numpy as np
import pytest

from gensci.metrics.inpainting import hidden_rmse
from gensci.ops.kriging import (biharmonic_fill, gaussian_conditional, lognormal_conditional, mean_fill,
                                periodic_covariance, periodic_laplacian)

S = 8


def true_autocovariance() -> np.ndarray:
    """xi [S, S] of a periodic Gaussian field with a positive power spectrum (so the circulant C is PD)."""
    k = np.fft.fftfreq(S) * S
    k2 = k[:, None] ** 2 + k[None, :] ** 2
    return np.fft.ifft2(1.0 / (1 + k2 / 2.0) ** 2 + 1e-3).real


def full_covariance(xi: np.ndarray) -> np.ndarray:
    """C [S^2, S^2], C[p, q] = xi((p - q) mod S), written out pixel by pixel."""
    c = np.empty((S * S, S * S))
    for p in range(S * S):
        for q in range(S * S):
            c[p, q] = xi[(p // S - q // S) % S, (p % S - q % S) % S]
    return c


def draw(n: int, seed: int, mean: float = 0.7) -> np.ndarray:
    cov = full_covariance(true_autocovariance())
    rng = np.random.default_rng(seed)
    return rng.multivariate_normal(np.full(S * S, mean), cov, size=n).reshape(n, 1, S, S)


def test_periodic_covariance_recovers_the_fields_two_point_function():
    mean, xi = periodic_covariance(draw(4000, 0))
    assert mean[0] == pytest.approx(0.7, abs=0.03)
    assert np.abs(xi[0] - true_autocovariance()).max() < 0.03 * true_autocovariance()[0, 0]


def test_conditional_mean_is_the_exact_gaussian_posterior():
    xi = true_autocovariance()
    maps = draw(3, 1)
    mask = (np.random.default_rng(2).uniform(size=(3, 1, S, S)) < 0.5).astype(np.float32)
    filled, std = gaussian_conditional(maps, mask, np.array([0.7]), xi[None])
    precision = np.linalg.inv(full_covariance(xi))
    for i in range(3):
        seen = mask[i, 0].ravel() > 0.5
        h, o = ~seen, seen
        x = maps[i, 0].ravel() - 0.7
        q_hh = precision[np.ix_(h, h)]
        expected = 0.7 - np.linalg.solve(q_hh, precision[np.ix_(h, o)] @ x[o])  # the same conditional via Q = C^-1
        np.testing.assert_allclose(filled[i, 0].ravel()[h], expected, atol=1e-6)
        np.testing.assert_allclose(std[i, 0].ravel()[h], np.sqrt(np.diag(np.linalg.inv(q_hh))), atol=1e-6)
        np.testing.assert_array_equal(filled[i, 0].ravel()[o], maps[i, 0].ravel()[o])
        assert (std[i, 0].ravel()[o] == 0).all()


def test_baseline_beats_mean_fill_and_its_interval_covers_90_percent():
    mean, xi = periodic_covariance(draw(2000, 3))
    test = draw(40, 4)
    mask = (np.random.default_rng(5).uniform(size=test.shape) < 0.5).astype(np.float32)
    filled, std = gaussian_conditional(test, mask, mean, xi)
    hidden = mask < 0.5
    rmse = np.sqrt(np.mean((filled - test)[hidden] ** 2))
    rmse_mean = np.sqrt(np.mean((mean_fill(test, mask, mean) - test)[hidden] ** 2))
    assert rmse < 0.8 * rmse_mean
    assert rmse == pytest.approx(np.sqrt(np.mean(std[hidden] ** 2)), rel=0.1)  # predicted error = actual error
    assert np.mean(np.abs(filled - test)[hidden] <= 1.645 * std[hidden]) == pytest.approx(0.9, abs=0.04)


def test_no_observed_pixel_gives_the_prior_and_large_noise_shrinks_to_it():
    xi = true_autocovariance()[None]
    maps = draw(1, 6)
    filled, std = gaussian_conditional(maps, np.zeros_like(maps), np.array([0.7]), xi)
    assert np.allclose(filled, 0.7) and np.allclose(std, np.sqrt(xi[0, 0, 0]))
    mask = (np.arange(S * S).reshape(1, 1, S, S) % 2).astype(np.float32)
    noisy, _ = gaussian_conditional(maps, mask, np.array([0.7]), xi, noise_std=1e4)
    assert np.allclose(noisy[mask < 0.5], 0.7, atol=1e-4)


def test_lognormal_conditional_mean_is_unbiased_and_beats_the_linear_one_on_a_skewed_field():
    # x = lam (exp(g) - 1), g the Gaussian field above scaled to unit variance: strongly skewed, so the linear
    # predictor is far from the posterior mean; the log-space one is exact (noiseless), so it has the lower error,
    # no bias, and its predicted spread matches its error
    lam = 2.0
    scale = 1 / np.sqrt(true_autocovariance()[0, 0])
    field = lambda n, seed: lam * np.expm1(scale * (draw(n, seed) - 0.7))  # noqa: E731
    train, test = field(3000, 7), field(200, 8)
    mask = (np.random.default_rng(9).uniform(size=test.shape) < 0.5).astype(np.float32)
    hidden = mask < 0.5
    linear, _ = gaussian_conditional(test, mask, *periodic_covariance(train))
    logspace, std = lognormal_conditional(test, mask, train, lam)
    err_lin, err_log = (linear - test)[hidden], (logspace - test)[hidden]
    assert np.sqrt(np.mean(err_log**2)) < 0.97 * np.sqrt(np.mean(err_lin**2))
    assert abs(err_log.mean()) < 3 * err_log.std() / np.sqrt(hidden.sum() / 4)  # pixels are correlated: ~4 per item
    assert np.sqrt(np.mean(err_log**2)) == pytest.approx(np.sqrt(np.mean(std[hidden] ** 2)), rel=0.1)
    np.testing.assert_array_equal(logspace[~hidden], test[~hidden])
    with pytest.raises(ValueError, match="floor"):
        lognormal_conditional(test, mask, train - 10 * lam, lam)


def test_biharmonic_fill_keeps_observed_pixels_and_is_biharmonic_on_the_hidden_ones():
    maps = draw(2, 7)
    mask = (np.random.default_rng(8).uniform(size=maps.shape) < 0.5).astype(np.float32)
    filled = biharmonic_fill(maps, mask)
    lap = periodic_laplacian(S, S).toarray()
    for i in range(2):
        seen = mask[i, 0].ravel() > 0.5
        np.testing.assert_array_equal(filled[i, 0].ravel()[seen], maps[i, 0].ravel()[seen])
        residual = (lap.T @ lap @ filled[i, 0].ravel())[~seen]  # the stationarity condition of sum (L u)^2
        assert np.abs(residual).max() < 1e-9
    # the Laplacian itself: zero on constants, -lambda on a Fourier mode (periodic boundaries)
    assert np.abs(lap @ np.ones(S * S)).max() == 0
    mode = np.cos(2 * np.pi * np.arange(S) / S)[:, None] * np.ones((1, S))
    np.testing.assert_allclose(lap @ mode.ravel(), (2 * np.cos(2 * np.pi / S) - 2) * mode.ravel(), atol=1e-12)


def test_biharmonic_fill_restores_a_smooth_map_and_rejects_an_empty_mask():
    side = 32  # smooth on the pixel scale: the fourth derivative small
    r, c = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    smooth = (1 + 0.3 * np.sin(2 * np.pi * r / side) * np.cos(2 * np.pi * c / side))[None, None]
    mask = (np.random.default_rng(9).uniform(size=smooth.shape) < 0.6).astype(np.float32)
    filled = biharmonic_fill(smooth, mask)
    err = hidden_rmse(smooth, mask, filled)
    assert err < 0.1 * hidden_rmse(smooth, mask, mean_fill(smooth, mask, np.array([1.0])))
    with pytest.raises(ValueError, match="no observed pixel"):
        biharmonic_fill(smooth, np.zeros_like(mask))
