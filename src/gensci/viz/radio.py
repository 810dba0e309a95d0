"""Figures for radio-trace denoising: example traces and their spectra."""

from __future__ import annotations

from pathlib import Path

from gensci.viz.figures import plt, save_figure
import numpy as np  # noqa: E402


def _rows(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x.reshape(-1, x.shape[-1])


def plot_traces(noisy, true, recovered, path: str | Path, title: str = "", baseline=None) -> Path:
    """One row per trace ([K, L] or [K, 1, L], e.g. K = 3): left the noisy input, right the true
    signal with the denoised trace (and optionally the band-pass `baseline`) on top."""
    noisy, true, recovered = _rows(noisy), _rows(true), _rows(recovered)
    k = len(noisy)
    fig, axes = plt.subplots(k, 2, figsize=(10, 2.2 * k), sharex=True, squeeze=False)
    t = np.arange(noisy.shape[1])
    for i in range(k):
        axes[i, 0].plot(t, noisy[i], color="0.4", lw=0.8)
        axes[i, 1].plot(t, true[i], color="k", lw=1.2, label="true")
        if baseline is not None:
            axes[i, 1].plot(t, _rows(baseline)[i], color="tab:blue", lw=0.8, alpha=0.7, label="band-pass")
        axes[i, 1].plot(t, recovered[i], color="tab:red", lw=0.9, label="network")
    axes[0, 0].set_title("noisy input")
    axes[0, 1].set_title("true vs denoised")
    axes[0, 1].legend(loc="upper right", fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("sample")
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_spectra(true, recovered, sampling_rate_mhz: float, path: str | Path, title: str = "", band_mhz=None) -> Path:
    """Mean FFT magnitude spectrum of the true vs the denoised traces (rows of [K, L])."""
    true, recovered = _rows(true), _rows(recovered)
    f = np.fft.rfftfreq(true.shape[1], 1 / sampling_rate_mhz)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(f, np.abs(np.fft.rfft(true)).mean(axis=0), color="k", label="true")
    ax.plot(f, np.abs(np.fft.rfft(recovered)).mean(axis=0), color="tab:red", label="denoised")
    if band_mhz is not None:
        ax.axvspan(*band_mhz, color="0.9", zorder=0, label="signal band")
    ax.set_xlabel("frequency [MHz]")
    ax.set_ylabel("mean |FFT|")
    ax.set_title(title or "spectra")
    ax.legend(fontsize=8)
    return _save(fig, path)


def _save(fig, path) -> Path:
    fig.tight_layout()
    return save_figure(fig, path, tight=False)
