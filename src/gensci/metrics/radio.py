"""Measurements of denoised radio traces against the true signals, and the classical band-pass baseline.

All functions take numpy arrays [N, L] (or [N, 1, L]) whose zero means "no signal": physical
units, or scaled traces minus their zero level (gensci.data.radio: `unscale` or
`x - zero_level(scale, offset)`). On min-max scaled traces the offset would move every
argmax and energy, so the metrics must never see them raw. Per-trace ratios (energy, NMSE,
SNR gain) do not depend on each trace's scale factor.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfiltfilt


def _traces(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 3 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 2:
        raise ValueError(f"expected traces [N, L] or [N, 1, L], got shape {x.shape}")
    return x


def peak_accuracy(recovered, true, tolerance: float = 0.02) -> float:
    """Fraction of traces whose argmax |recovered| is within ±tolerance·L samples (±10 at L = 500) of
    argmax |true|: the informal pulse-position accuracy of the book's radio exercise."""
    rec, tru = _traces(recovered), _traces(true)
    window = tolerance * tru.shape[1]
    hit = np.abs(np.abs(rec).argmax(axis=1) - np.abs(tru).argmax(axis=1)) <= window
    return float(hit.mean()) if len(hit) else float("nan")


def energy_ratios(recovered, true) -> np.ndarray:
    """Per trace sum(recovered²) / sum(true²), the energy measure of arXiv:1901.04079: [N]."""
    return (_traces(recovered) ** 2).sum(axis=1) / (_traces(true) ** 2).sum(axis=1)


def energy_ratio_summary(recovered, true) -> dict[str, float]:
    """Median of the per-trace energy ratio and half the 16-84 percentile width (a 68% spread)."""
    r = energy_ratios(recovered, true)
    if not len(r):
        return {"energy_ratio_median": float("nan"), "energy_ratio_width68": float("nan")}
    p16, p50, p84 = np.percentile(r, [16, 50, 84])
    return {"energy_ratio_median": float(p50), "energy_ratio_width68": float((p84 - p16) / 2)}


def snr_gain_db(recovered, true, noisy) -> float:
    """Median over traces of 10 log10( sum((noisy - true)²) / sum((recovered - true)²) ):
    how much the noise power shrinks. 0 dB for doing nothing, +inf for a perfect recovery."""
    tru = _traces(true)
    before = ((_traces(noisy) - tru) ** 2).sum(axis=1)
    after = ((_traces(recovered) - tru) ** 2).sum(axis=1)
    with np.errstate(divide="ignore"):
        return float(np.median(10 * np.log10(before / after))) if len(tru) else float("nan")


def nmse(recovered, true) -> float:
    """Median over traces of the normalised squared error sum((recovered - true)²) / sum(true²)."""
    rec, tru = _traces(recovered), _traces(true)
    return float(np.median(((rec - tru) ** 2).sum(axis=1) / (tru**2).sum(axis=1))) if len(tru) else float("nan")


def spectral_correlation(recovered, true) -> float:
    """Mean over traces of the Pearson correlation of the FFT magnitude spectra |rfft(recovered)| and |rfft(true)|."""
    a, b = np.abs(np.fft.rfft(_traces(recovered))), np.abs(np.fft.rfft(_traces(true)))
    if not len(a):
        return float("nan")
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    den = np.sqrt((a**2).sum(axis=1) * (b**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(den > 0, (a * b).sum(axis=1) / den, 0.0)  # a flat spectrum correlates with nothing
    return float(r.mean())


def false_pulse_rate(recovered, noisy, threshold: float = 2.0) -> float:
    """On noise-only traces: fraction whose max |recovered| exceeds `threshold` × RMS(noisy).

    With the simulator's SNR range (2-20, SNR = peak |signal| / RMS(noise)) the default 2.0 is the
    peak of the faintest simulated pulse: an output that large is indistinguishable from a real one.
    """
    rec, noise = _traces(recovered), _traces(noisy)
    rms = np.sqrt((noise**2).mean(axis=1))
    return float((np.abs(rec).max(axis=1) > threshold * rms).mean()) if len(rec) else float("nan")


def bandpass_baseline(traces, sampling_rate_mhz: float, band_mhz: tuple[float, float], order: int = 4) -> np.ndarray:
    """What a physicist does without a network: a zero-phase Butterworth band-pass (scipy butter +
    sosfiltfilt, so the effective magnitude order is 2·order) over the signal band. [N, L] -> [N, L]."""
    sos = butter(order, band_mhz, btype="bandpass", fs=sampling_rate_mhz, output="sos")
    return sosfiltfilt(sos, _traces(traces), axis=-1)


def radio_metrics(recovered, true, noisy, is_signal, tolerance: float = 0.02, threshold: float = 2.0) -> dict[str, float]:
    """All radio metrics. recovered/true/noisy [N, L] (zero = no signal), is_signal [N] bool.

    Signal traces give peak_accuracy, energy_ratio_median/width68, snr_gain_db, nmse and
    spectral_correlation; noise-only traces give false_pulse_rate. A quantity without traces
    of its kind is NaN.
    """
    rec, tru, noi = _traces(recovered), _traces(true), _traces(noisy)
    s = np.asarray(is_signal, dtype=bool)
    if not (len(rec) == len(tru) == len(noi) == len(s)):
        raise ValueError(f"lengths differ: recovered {len(rec)}, true {len(tru)}, noisy {len(noi)}, is_signal {len(s)}")
    return {
        "peak_accuracy": peak_accuracy(rec[s], tru[s], tolerance),
        **energy_ratio_summary(rec[s], tru[s]),
        "snr_gain_db": snr_gain_db(rec[s], tru[s], noi[s]),
        "nmse": nmse(rec[s], tru[s]),
        "spectral_correlation": spectral_correlation(rec[s], tru[s]),
        "false_pulse_rate": false_pulse_rate(rec[~s], noi[~s], threshold),
    }
