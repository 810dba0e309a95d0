import numpy as np
import pytest

from gensci.metrics.radio import (
    bandpass_baseline,
    energy_ratio_summary,
    energy_ratios,
    false_pulse_rate,
    nmse,
    peak_accuracy,
    radio_metrics,
    snr_gain_db,
    spectral_correlation,
)

L = 500


def _pulse(center=250, n=1):
    t = np.arange(L)
    u = (t - center) / 3.0
    return np.tile(-u * np.exp(-0.5 * u**2), (n, 1))


def test_peak_accuracy_perfect_and_shifted():
    true = _pulse(250)
    assert peak_accuracy(true, true) == 1.0
    assert peak_accuracy(np.roll(true, 5, axis=1), true) == 1.0  # within ±10 samples (2% of 500)
    assert peak_accuracy(np.roll(true, 20, axis=1), true) == 0.0
    both = np.concatenate([np.roll(true, 5, axis=1), np.roll(true, -20, axis=1)])
    assert peak_accuracy(both, np.concatenate([true, true])) == 0.5
    assert peak_accuracy(true[:, None], true[:, None]) == 1.0  # [N, 1, L] accepted


def test_energy_ratio_of_doubled_trace_is_four():
    true = _pulse(n=3) * np.array([[1.0], [2.0], [5.0]])
    np.testing.assert_allclose(energy_ratios(2 * true, true), 4.0)
    summary = energy_ratio_summary(2 * true, true)
    assert summary["energy_ratio_median"] == pytest.approx(4.0) and summary["energy_ratio_width68"] == pytest.approx(0)
    spread = energy_ratio_summary(true * np.array([[1.0], [2.0], [3.0]]), true)  # ratios 1, 4, 9
    assert spread["energy_ratio_median"] == pytest.approx(4.0)
    assert spread["energy_ratio_width68"] == pytest.approx((np.percentile([1, 4, 9], 84) - np.percentile([1, 4, 9], 16)) / 2)


def test_snr_gain_and_nmse():
    true = _pulse(n=2)
    noise = np.random.default_rng(0).normal(size=true.shape)
    assert snr_gain_db(true + noise, true, true + noise) == pytest.approx(0.0)  # doing nothing gains nothing
    assert snr_gain_db(true + 0.1 * noise, true, true + noise) == pytest.approx(20.0)  # residual amplitude / 10
    assert nmse(true, true) == 0.0 and nmse(np.zeros_like(true), true) == pytest.approx(1.0)
    assert nmse(2 * true, true) == pytest.approx(1.0)


def test_spectral_correlation_of_sines():
    t = np.arange(L)
    sine = np.sin(2 * np.pi * 50 * t / L)[None]  # exactly bin 50
    assert spectral_correlation(sine, sine) == pytest.approx(1.0)
    shifted = np.sin(2 * np.pi * 50 * t / L + 1.0)[None]  # same magnitude spectrum, other phase
    assert spectral_correlation(shifted, sine) == pytest.approx(1.0)
    other = np.sin(2 * np.pi * 80 * t / L)[None]  # two single-bin spikes: r = -1 / (n_bins - 1)
    assert spectral_correlation(other, sine) == pytest.approx(-1 / (L // 2 + 1 - 1), abs=1e-9)


def test_false_pulse_rate():
    noise = np.random.default_rng(1).normal(size=(4, L))
    assert false_pulse_rate(np.zeros((4, L)), noise) == 0.0
    spiky = np.zeros((4, L))
    spiky[:3, 100] = 10.0  # well above 2 x RMS(noise) = 2
    assert false_pulse_rate(spiky, noise) == 0.75


def test_bandpass_baseline_keeps_band_removes_outside():
    fs = 180.0
    t = np.arange(L) / fs
    inside, outside = np.sin(2 * np.pi * 55 * t), np.sin(2 * np.pi * 10 * t)
    out = bandpass_baseline(np.stack([inside, outside]), fs, (30.0, 80.0))
    mid = slice(100, 400)  # away from the edges' transients
    assert np.sqrt(np.mean(out[0, mid] ** 2)) == pytest.approx(np.sqrt(0.5), rel=0.05)
    assert np.sqrt(np.mean(out[1, mid] ** 2)) < 0.01


def test_radio_metrics_keys_and_perfect_recovery():
    true = np.concatenate([_pulse(200, 3), np.zeros((2, L))])
    noisy = true + np.random.default_rng(2).normal(scale=0.2, size=true.shape)
    is_signal = np.array([True, True, True, False, False])
    m = radio_metrics(true, true, noisy, is_signal)
    assert set(m) == {"peak_accuracy", "energy_ratio_median", "energy_ratio_width68", "snr_gain_db", "nmse",
                      "spectral_correlation", "false_pulse_rate"}
    assert m["peak_accuracy"] == 1 and m["energy_ratio_median"] == pytest.approx(1) and m["nmse"] == 0
    assert m["spectral_correlation"] == pytest.approx(1) and m["false_pulse_rate"] == 0
    assert m["snr_gain_db"] == np.inf
    with pytest.raises(ValueError, match="lengths differ"):
        radio_metrics(true, true, noisy, is_signal[:4])
