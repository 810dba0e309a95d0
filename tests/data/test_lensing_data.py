"""Lognormal convergence maps against the simulator's inputs: the measured power spectrum against the
stated P_kappa(l), the one-point PDF against the shifted lognormal's, shape noise, the data set's items.

Tolerances are 4 standard errors of the measured quantity, estimated from the per-map values (the
maps are independent draws)."""

import math

import numpy as np
import pytest
from scipy.stats import norm

from gensci.config import validate
from gensci.data.convergence import Cosmology, convergence_power
from gensci.data.lensing import LensingData, LensingDataConfig, LognormalModel, noise_sigma, simulate
from gensci.metrics.fields import ell_bands, power_spectra
from gensci.workflows.base import load_data

SIZE, PIXEL = 32, 2.0


@pytest.fixture(scope="module")
def model():
    return LognormalModel(Cosmology(), SIZE, PIXEL, 1.0)


@pytest.fixture(scope="module")
def maps(model):
    return model.maps(600, np.random.default_rng(0))


def within(values: np.ndarray, expected, k: float = 4.0) -> np.ndarray:
    """Per-bin: |mean over maps - expected| <= k standard errors; values [N, B]."""
    se = values.std(0, ddof=1) / math.sqrt(len(values))
    return np.abs(values.mean(0) - expected) <= k * se


def moment(maps: np.ndarray, k: int) -> np.ndarray:
    """Per-map mean of kappa^k: [N, 1]."""
    return (maps**k).mean(axis=(1, 2))[:, None]


def test_measured_spectrum_matches_the_stated_one(model, maps):
    ell, power = power_spectra(maps, PIXEL)
    grid_ell, grid_power = model.ell_power()
    _, weights = ell_bands(SIZE, PIXEL)
    expected = grid_power.ravel() @ weights  # the model's P_kappa averaged over the same modes
    assert within(power, expected).all(), (power.mean(0) / expected)
    # and the grid power is the cosmology's spectrum (not some other): P_kappa at the band's multipoles
    np.testing.assert_allclose(expected, (convergence_power(grid_ell.ravel(), Cosmology()) @ weights), rtol=0.05)
    assert np.all(np.diff(np.log(expected)) < 0.5)  # a smooth, mostly falling spectrum


def test_one_point_pdf_is_the_shifted_lognormal(model, maps):
    lam, s2 = model.shift, model.gaussian_variance
    assert maps.min() >= -lam  # kappa >= -lambda, the empty-beam bound
    # variance and third moment of the simulator (module docstring) from per-map moments
    assert within(moment(maps, 2), model.variance).all()
    assert within(moment(maps, 3), model.skewness * model.variance**1.5).all()
    # the CDF at quantiles: P(kappa < t) = Phi((ln(1 + t / lambda) + s2 / 2) / sqrt(s2))
    t = np.quantile(maps, [0.05, 0.25, 0.5, 0.75, 0.95])
    exact = norm.cdf((np.log1p(t / lam) + s2 / 2) / math.sqrt(s2))
    below = (maps.reshape(len(maps), -1)[:, :, None] < t).mean(1)
    assert within(below, exact).all(), (below.mean(0), exact)
    assert model.skewness > 0.3  # visibly non-Gaussian (positive tail of halos)


def test_the_pdf_check_can_fail(model, maps):
    """A Gaussian field with the same spectrum has the right variance but not the lognormal's skewness."""
    gauss = np.fft.ifft2(np.fft.fft2(np.random.default_rng(1).normal(size=maps.shape)) * np.sqrt(model.grid_power)).real
    assert within(moment(gauss, 2), model.variance).all()
    assert not within(moment(gauss, 3), model.skewness * model.variance**1.5).all()


def test_sigma8_raises_the_spectrum_and_omega_m_the_shift():
    low, high = (convergence_power([300.0, 3000.0], Cosmology(sigma8=s)) for s in (0.7, 0.9))
    assert np.all(high > 1.3 * low)  # P ∝ sigma8^2 linearly, more in the non-linear regime
    a, b = (LognormalModel(Cosmology(omega_m=o), 16, PIXEL, 1.0) for o in (0.25, 0.35))
    assert b.shift > a.shift and b.variance > a.variance


def test_shape_noise_adds_white_variance():
    sizes = {"map_size": 16, "n_per_cosmology": 40, "n_valid_per_cosmology": 2, "n_test_per_cosmology": 2}
    noisy, clean = LensingDataConfig(shape_noise=True, **sizes), LensingDataConfig(**sizes)
    sigma = noise_sigma(noisy)
    assert sigma == pytest.approx(0.26 / math.sqrt(30 * 4)) and noise_sigma(clean) == 0  # sigma_e / sqrt(n_gal A_pix)
    noise = simulate(noisy)["train_x"] - simulate(clean)["train_x"]  # same seeds: the same maps, plus noise
    assert noise.std() == pytest.approx(sigma, rel=0.05)
    _, power = power_spectra(noise, PIXEL)
    assert power.mean(0).max() < 1.5 * power.mean(0).min()  # white


def test_data_set_items_conditions_spec_and_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GENSCI_CACHE", str(tmp_path))
    data = {"name": "lensing", "map_size": 16, "sigma8": [0.7, 0.9], "omega_m": 0.3, "n_per_cosmology": 6,
            "n_valid_per_cosmology": 2, "n_test_per_cosmology": 3, "shape_noise": True}
    cfg = validate({"data": data, "method": {"name": "vae"}})
    splits = load_data(cfg)
    test = splits.test.tensors
    assert test["x"].shape == (6, 1, 16, 16) and test["label"].tolist() == [0, 0, 0, 1, 1, 1]
    np.testing.assert_allclose(test["sigma8"].numpy(), [0.7] * 3 + [0.9] * 3, rtol=1e-6)
    assert splits.info["conditions"] == [[0.7, 0.3], [0.9, 0.3]] and splits.info["noise_sigma"] > 0
    vr = LensingData.spec(cfg.data).ranges["x"]
    assert vr.low is None and vr.high is None and vr.scale == 0.01  # real-valued: physical kappa = x * 0.01
    assert list(tmp_path.glob("lensing/*.npz"))
    again = load_data(cfg)
    assert (again.train.tensors["x"] == splits.train.tensors["x"]).all()
    assert splits.info["pixel_floor"] is None  # shape noise has no floor
    clean = load_data(validate({"data": data | {"shape_noise": False}, "method": {"name": "vae"}})).info
    shifts = clean["model"]["shift"]  # one per cosmology: the floor is the lowest of them
    assert clean["pixel_floor"] == [pytest.approx(-max(shifts) / 0.01)] and clean["pixel_floor"][0] < clean["pixel_min"][0]
