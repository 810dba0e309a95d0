"""Cosmic-ray air-shower radio traces for denoising: a simulator and the user's own npz files.

After Erdmann, Schlüter, Šmída, "Classification and recovery of radio signals from
cosmic ray induced air showers with deep learning", JINST 14 (2019) P04005,
arXiv:1901.04079, and the radio-denoising exercise of Erdmann, Glombitza, Kasieczka,
Klemradt, "Deep Learning for Physics Research" (World Scientific, 2021).

A trace is 500 samples of one antenna channel. The simulated signal is a short bipolar
pulse (derivative of a Gaussian: random arrival time, width, amplitude, polarity)
band-passed to the detector band; the noise is one of three models (see `NOISE_MODELS`).

Scaling (as in the book's exercise, traces are min-max scaled to [0, 1]): with the
MEASURED trace's `offset = min(trace)` and `scale = max(trace) - min(trace)`,

    input  = (trace  - offset) / scale      in [0, 1]
    target = (signal - offset) / scale      the same affine map applied to the true signal
    physical = value * scale + offset       (the spec's `ValueRange.to_physical`)

so a noise-only trace's target is the constant `zero_level = -offset / scale`, the value
the map sends zero to. Items: input [1, L], target [1, L], scale [], offset [], snr []
(0 for noise-only traces), is_signal [] (bool).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import Field, field_validator, model_validator

from gensci.config import DataConfig
from gensci.data.base import DataSplits, TensorDictDataset
from gensci.spec import DataSpec, TensorSpec, ValueRange
from gensci.errors import InputFileError

# Galactic synchrotron sky temperature T ∝ ν^-2.55 (a typical index at tens of MHz); the noise
# power per unit bandwidth k·T follows it.
_SKY_POWER_INDEX = -2.55


class RadioDataConfig(DataConfig):
    name: Literal["radio"] = "radio"
    noise: Literal["background", "uniform", "cosine"] = Field(
        "background", description="background: galactic + RFI + thermal (hard); uniform: flat-distributed white; "
        "cosine: a few sinusoids (easy)"
    )
    n_train: int = Field(20000, ge=1)
    n_valid: int = Field(2000, ge=1)
    n_test: int = Field(2000, ge=1)
    trace_length: int = Field(500, ge=32)
    # Assumption: 180 MHz makes 500 samples ≈ 2.8 µs with Nyquist 90 MHz above the band.
    sampling_rate_mhz: float = Field(180.0, gt=0, description="assumed digitiser rate")
    band_mhz: tuple[float, float] = Field((30.0, 80.0), description="signal band (usual for air-shower arrays)")
    snr_range: tuple[float, float] = Field((2.0, 20.0), description="log-uniform; peak |signal| / RMS(noise)")
    amplitude_range: tuple[float, float] = Field((1.0, 100.0), description="log-uniform pulse peak, arbitrary units")
    pulse_width_ns: tuple[float, float] = Field((2.0, 8.0), description="uniform Gaussian width before band-pass")
    noise_only_fraction: float = Field(0.2, ge=0, le=1, description="traces whose true signal is all zero")

    @field_validator("snr_range", "amplitude_range", "pulse_width_ns")
    @classmethod
    def _positive_range(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0 < v[0] <= v[1]:
            raise ValueError(f"expected 0 < low <= high, got {v}")
        return v

    @model_validator(mode="after")
    def _band_below_nyquist(self):
        lo, hi = self.band_mhz
        if not 0 < lo < hi < self.sampling_rate_mhz / 2:
            raise ValueError(f"band_mhz {self.band_mhz} must satisfy 0 < low < high < Nyquist "
                             f"({self.sampling_rate_mhz / 2} MHz)")
        return self


RADIO_INFO = frozenset({"trace_length", "sampling_rate_mhz", "band_mhz", "noise"})


def radio_spec(trace_length: int, simulated: bool = True) -> DataSpec:
    """Traces min-max scaled per trace to [0, 1]: physical = value * scale + offset (per item)."""
    trace = ValueRange(0.0, 1.0, unit="arbitrary (simulated field strength)", scale="scale", offset="offset")
    items = {"input": TensorSpec((1, trace_length), "float", "measured trace, scaled"),
             "scale": TensorSpec((), "float"), "offset": TensorSpec((), "float")}
    items |= {"target": TensorSpec((1, trace_length), "float", "true pulse, scaled like the input"),
              "is_signal": TensorSpec((), "bool", "the trace holds a pulse")}
    if simulated:
        items["snr"] = TensorSpec((), "float", "peak |signal| / noise RMS")
    # the true pulse can leave [0, 1] where noise cancelled the extremes: its range is not bounded
    return DataSpec("radio", items, RADIO_INFO, {"input": trace, "target": ValueRange(scale="scale", offset="offset")})


class RadioData:
    """Simulated radio traces; every split is drawn from its own seed stream (changing n_train keeps valid/test)."""

    Config = RadioDataConfig

    @classmethod
    def spec(cls, config: RadioDataConfig) -> DataSpec:
        return radio_spec(config.trace_length)

    @classmethod
    def load(cls, config: RadioDataConfig) -> DataSplits:
        splits = _simulated_splits(config.model_dump_json())
        return DataSplits(*(TensorDictDataset(s) for s in splits), info=_info(config, config.noise))


@lru_cache(maxsize=4)  # in memory only; keyed by the config's JSON
def _simulated_splits(config_json: str) -> tuple[dict[str, torch.Tensor], ...]:
    config = RadioDataConfig.model_validate_json(config_json)
    streams = np.random.SeedSequence(config.seed).spawn(3)
    sizes = (config.n_train, config.n_valid, config.n_test)
    return tuple(make_items(**simulate(config, n, np.random.default_rng(s))) for n, s in zip(sizes, streams))


def _info(config, noise: str) -> dict:
    return {
        "trace_length": config.trace_length,
        "sampling_rate_mhz": float(config.sampling_rate_mhz),
        "band_mhz": [float(b) for b in config.band_mhz],
        "noise": noise,
    }


# ---------------------------------------------------------------- the simulator (numpy, vectorised)


def band_response(freq_mhz: np.ndarray, band_mhz: tuple[float, float], order: int = 8) -> np.ndarray:
    """Magnitude of a Butterworth-like band-pass: 0 at DC, ≈1 inside the band."""
    lo, hi = band_mhz
    with np.errstate(divide="ignore"):
        low_cut = 1 / np.sqrt(1 + (lo / freq_mhz) ** (2 * order))
    return low_cut / np.sqrt(1 + (freq_mhz / hi) ** (2 * order))


def simulate(config: RadioDataConfig, n: int, rng: np.random.Generator, chunk: int = 2048) -> dict[str, np.ndarray]:
    """n traces in physical units: traces [n, L] = signals + noise, snr [n], is_signal [n].

    Per trace, the noise is rescaled so that peak |signal| / RMS(noise) equals the drawn SNR
    exactly; a noise-only trace gets the noise level its pulse would have had. Drawn in
    chunks of `chunk` traces to bound memory (the result depends on the seed and `chunk`).
    """
    parts = [_simulate_chunk(config, min(chunk, n - s), rng) for s in range(0, n, chunk)]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _simulate_chunk(config: RadioDataConfig, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    is_signal = rng.random(n) >= config.noise_only_fraction
    amplitude = _log_uniform(rng, config.amplitude_range, n)
    snr = _log_uniform(rng, config.snr_range, n)
    signals = _pulses(config, n, rng) * (amplitude * is_signal)[:, None]
    noise = NOISE_MODELS[config.noise](rng, n, config.trace_length, config.sampling_rate_mhz, config.band_mhz)
    noise *= (amplitude / snr / np.sqrt(np.mean(noise**2, axis=1)))[:, None]
    return {"traces": signals + noise, "signals": signals, "snr": np.where(is_signal, snr, 0.0), "is_signal": is_signal}


def _log_uniform(rng, bounds, n):
    lo, hi = bounds
    return np.exp(rng.uniform(np.log(lo), np.log(hi), n))


def _pulses(config: RadioDataConfig, n: int, rng: np.random.Generator) -> np.ndarray:
    """Band-limited bipolar pulses with unit peak |value|: [n, L].

    The pulse is the derivative of a Gaussian, -u exp(-u²/2) with u = (t - t0) / width, built from
    its Fourier transform (∝ i f exp(-2π² width² f²) e^{-2πi f t0}) times the band response.
    """
    L, fs = config.trace_length, config.sampling_rate_mhz
    t0 = rng.uniform(0.1 * L, 0.9 * L, n)
    width = rng.uniform(*config.pulse_width_ns, n) * fs / 1000  # ns -> samples
    polarity = rng.choice([-1.0, 1.0], n)
    n_fft = 2 * L  # zero padding: the filter's ringing does not wrap around
    f = np.fft.rfftfreq(n_fft)  # cycles per sample
    spec = 1j * f * np.exp(-2 * np.pi**2 * (width[:, None] * f) ** 2) * band_response(f * fs, config.band_mhz)
    spec *= _phasors(-2 * np.pi * t0 / n_fft, len(f))
    pulse = np.fft.irfft(spec, n_fft)[:, :L]
    return pulse * (polarity / np.abs(pulse).max(axis=1))[:, None]


def _phasors(omega: np.ndarray, length: int, phase: np.ndarray | float = 0.0) -> np.ndarray:
    """exp(i (omega t + phase)) for t = 0..length-1, [*omega.shape, length], by a cumulative product
    (much faster than evaluating cos/exp on every sample; rounding grows only as length × 1e-16)."""
    steps = np.broadcast_to(np.exp(1j * omega)[..., None], (*np.shape(omega), length)).copy()
    steps[..., 0] = np.exp(1j * np.broadcast_to(phase, np.shape(omega)))
    return np.cumprod(steps, axis=-1)


def _background(rng, n, L, fs, band):
    """Galactic noise (power ∝ f^-2.55, through the detector band) + 1-3 narrow RFI lines + white thermal."""
    f = np.fft.rfftfreq(L, 1 / fs)
    with np.errstate(divide="ignore"):
        shape = np.where(f > 0, (f / band[0]) ** (_SKY_POWER_INDEX / 2), 0.0) * band_response(f, band)
    spec = (rng.normal(size=(n, len(f))) + 1j * rng.normal(size=(n, len(f)))) * shape
    noise = _unit_rms(np.fft.irfft(spec, L))
    noise += np.sqrt(0.3) * _unit_rms(rng.normal(size=(n, L)))  # thermal: 30% of the galactic power
    line_power = rng.uniform(0.05, 0.25, (n, 3)) * (np.arange(3) < rng.integers(1, 4, n)[:, None])
    return noise + _sinusoids(rng, np.sqrt(2 * line_power), L)


def _uniform(rng, n, L, fs, band):
    """White noise with a flat amplitude distribution (kurtosis 1.8)."""
    return rng.uniform(-1.0, 1.0, (n, L))


def _cosine(rng, n, L, fs, band):
    """1-4 sinusoids with random frequency (0 to Nyquist), phase and amplitude."""
    amplitude = rng.uniform(0.5, 1.5, (n, 4)) * (np.arange(4) < rng.integers(1, 5, n)[:, None])
    return _sinusoids(rng, amplitude, L)


def _sinusoids(rng, amplitude, L):
    """Sum over k of amplitude[n, k] cos(2π f t + φ), random f in (0, Nyquist) and φ: [n, L]."""
    omega = 2 * np.pi * rng.uniform(0, 0.5, amplitude.shape)  # radians per sample
    phase = rng.uniform(0, 2 * np.pi, amplitude.shape)
    return np.einsum("nk,nkl->nl", amplitude, _phasors(omega, L, phase).real)


def _unit_rms(x):
    return x / np.sqrt(np.mean(x**2, axis=1, keepdims=True))


NOISE_MODELS = {"background": _background, "uniform": _uniform, "cosine": _cosine}


# ---------------------------------------------------------------- scaling and items


def make_items(traces: np.ndarray, signals: np.ndarray | None = None, snr=None, is_signal=None) -> dict:
    """Min-max scale measured traces [N, L] (and the true signals with the same map) into items."""
    offset = traces.min(axis=1)
    scale = traces.max(axis=1) - offset
    items = {
        "input": torch.from_numpy(((traces - offset[:, None]) / scale[:, None]).astype(np.float32)[:, None]),
        "scale": torch.from_numpy(scale.astype(np.float32)),
        "offset": torch.from_numpy(offset.astype(np.float32)),
    }
    if signals is not None:
        items["target"] = torch.from_numpy(((signals - offset[:, None]) / scale[:, None]).astype(np.float32)[:, None])
        if is_signal is None:
            is_signal = np.abs(signals).max(axis=1) > 0
        items["is_signal"] = torch.from_numpy(np.asarray(is_signal, dtype=bool))
    if snr is not None:
        items["snr"] = torch.from_numpy(np.asarray(snr, dtype=np.float32))
    return items


def zero_level(scale, offset):
    """The scaled value that zero signal maps to: -offset / scale, [N]."""
    return -offset / scale


# ---------------------------------------------------------------- the user's own traces


class RadioFileDataConfig(DataConfig):
    name: Literal["radio-file"] = "radio-file"
    path: str = Field(description="npz with `traces` [N, L] or [N, 1, L] and, for training, `signals` alike")
    valid_fraction: float = Field(0.1, ge=0, lt=1)
    test_fraction: float = Field(0.1, ge=0, lt=1)
    trace_length: int = Field(500, ge=32)
    sampling_rate_mhz: float = Field(180.0, gt=0)
    band_mhz: tuple[float, float] = (30.0, 80.0)


class RadioFileData:
    """The user's traces and true signals from an npz file, split by a seeded permutation."""

    Config = RadioFileDataConfig

    @classmethod
    def spec(cls, config: RadioFileDataConfig) -> DataSpec:
        return radio_spec(config.trace_length, simulated=False)

    @classmethod
    def load(cls, config: RadioFileDataConfig) -> DataSplits:
        traces, signals = read_npz(config.path, config.trace_length)
        if signals is None:
            raise InputFileError(
                f"{config.path}: training needs the true signals as a `signals` array shaped like `traces`; "
                "to denoise traces without signals use `gensci sample RUN --input FILE` with a trained run"
            )
        n = len(traces)
        n_valid, n_test = round(n * config.valid_fraction), round(n * config.test_fraction)
        if n - n_valid - n_test < 1:
            raise InputFileError(f"{config.path}: {n} traces leave none for training")
        items = make_items(traces, signals)
        order = torch.from_numpy(np.random.default_rng(config.seed).permutation(n))
        parts = torch.split(order, [n - n_valid - n_test, n_valid, n_test])
        splits = [TensorDictDataset({k: v[idx] for k, v in items.items()}) for idx in parts]
        return DataSplits(*splits, info=_info(config, "file"))


def load_traces(path: str | Path, trace_length: int | None = None) -> dict[str, torch.Tensor]:
    """Items (input, scale, offset, and target/is_signal when the file has `signals`) of a user's npz."""
    return make_items(*read_npz(path, trace_length))


def read_npz(path: str | Path, trace_length: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Validated `traces` [N, L] and optional `signals` [N, L] (float64) of an npz file; ValueError says what is wrong."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: no such file (expected an npz with a `traces` array)")
    expected = f"[N, {trace_length or 'L'}] or [N, 1, {trace_length or 'L'}]"
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (ValueError, OSError) as err:
        raise InputFileError(f"{path}: not a readable npz of numeric arrays ({err})") from None
    if "traces" not in arrays:
        raise InputFileError(f"{path}: no `traces` array (found {sorted(arrays)}); expected traces {expected}")
    traces = _checked(arrays["traces"], path, "traces", expected, trace_length)
    signals = arrays.get("signals")
    if signals is not None:
        if signals.shape != arrays["traces"].shape:
            raise InputFileError(f"{path}: `signals` has shape {signals.shape}, expected the shape of `traces` "
                             f"{arrays['traces'].shape}")
        signals = _checked(signals, path, "signals", expected, trace_length)
    flat = np.flatnonzero(traces.max(axis=1) == traces.min(axis=1))
    if len(flat):
        raise InputFileError(f"{path}: traces row {flat[0]} is constant; it cannot be min-max scaled")
    return traces, signals


def _checked(a: np.ndarray, path: Path, key: str, expected: str, trace_length: int | None) -> np.ndarray:
    if a.ndim == 3 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 2 or len(a) == 0 or (trace_length and a.shape[1] != trace_length):
        raise InputFileError(f"{path}: `{key}` has shape {a.shape}, expected {expected} with N >= 1")
    if not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a):
        raise InputFileError(f"{path}: `{key}` has dtype {a.dtype}, expected real numbers")
    bad = np.flatnonzero(~np.isfinite(a).all(axis=1))
    if len(bad):
        raise InputFileError(f"{path}: `{key}` has NaN or inf values, first in row {bad[0]} ({len(bad)} rows)")
    return a.astype(np.float64)
