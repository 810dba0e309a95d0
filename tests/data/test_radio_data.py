import numpy as np
import pytest
import torch
from scipy.stats import kurtosis

from gensci.data.radio import (
    RadioData,
    RadioDataConfig,
    RadioFileData,
    RadioFileDataConfig,
    load_traces,
    make_items,
    simulate,
    zero_level,
)
from gensci.registry import DATASETS

SMALL = dict(n_train=64, n_valid=16, n_test=16)


def _sim(noise="background", n=400, seed=0, **kw):
    return simulate(RadioDataConfig(noise=noise, **kw), n, np.random.default_rng(seed))


def test_registered_and_shapes():
    assert DATASETS.get("radio") is RadioData and RadioData.spec(RadioData.Config()).domain == "radio"
    data = RadioData.load(RadioDataConfig(**SMALL))
    assert [len(s) for s in (data.train, data.valid, data.test)] == [64, 16, 16]
    item = data.train[0]
    assert item["input"].shape == (1, 500) and item["target"].shape == (1, 500)
    assert item["input"].dtype == torch.float32 and item["scale"].shape == ()
    assert data.info == {"trace_length": 500, "sampling_rate_mhz": 180.0, "band_mhz": [30.0, 80.0],
                         "noise": "background"}
    with pytest.raises(ValueError, match="Nyquist"):
        RadioDataConfig(band_mhz=(30, 95))
    with pytest.raises(ValueError, match="low <= high"):
        RadioDataConfig(snr_range=(5, 2))


def test_inputs_min_max_scaled_and_scaling_undone():
    d = _sim(n=200)
    items = make_items(d["traces"], d["signals"])
    x = items["input"][:, 0]
    assert torch.all(x.min(dim=1).values == 0) and torch.allclose(x.max(dim=1).values, torch.ones(200))
    to_physical = RadioData.spec(RadioData.Config()).ranges["input"].to_physical
    per_item = {"scale": items["scale"].double(), "offset": items["offset"].double()}
    phys = to_physical(items["input"].double(), per_item)[:, 0]
    sig = to_physical(items["target"].double(), per_item)[:, 0]
    scale = torch.from_numpy(d["traces"]).abs().amax(dim=1, keepdim=True)
    assert torch.allclose(phys / scale, torch.from_numpy(d["traces"]) / scale, atol=1e-6)
    assert torch.allclose(sig / scale, torch.from_numpy(d["signals"]) / scale, atol=1e-6)


def test_noise_only_fraction_and_zero_target():
    d = _sim(n=2000, noise_only_fraction=0.2)
    assert abs((~d["is_signal"]).mean() - 0.2) < 0.04  # binomial sd 0.009
    assert np.all(d["signals"][~d["is_signal"]] == 0) and np.all(np.abs(d["signals"][d["is_signal"]]).max(1) > 0)
    items = make_items(d["traces"], d["signals"], d["snr"], d["is_signal"])
    noise_only = ~items["is_signal"]
    level = zero_level(items["scale"], items["offset"])[noise_only]
    assert torch.allclose(items["target"][noise_only, 0], level[:, None].expand(-1, 500), atol=1e-6)


@pytest.mark.parametrize("noise", ["background", "uniform", "cosine"])
def test_snr_definition_holds_per_trace(noise):
    d = _sim(noise, n=300)
    s = d["is_signal"]
    noise_rms = np.sqrt(np.mean((d["traces"] - d["signals"])[s] ** 2, axis=1))
    np.testing.assert_allclose(np.abs(d["signals"][s]).max(1) / noise_rms, d["snr"][s], rtol=1e-9)
    assert d["snr"][s].min() >= 2 and d["snr"][s].max() <= 20 and np.all(d["snr"][~s] == 0)


def test_seed_reproduces_and_differs():
    a, b, c = _sim(seed=1), _sim(seed=1), _sim(seed=2)
    assert np.array_equal(a["traces"], b["traces"])
    assert not np.allclose(a["traces"], c["traces"])
    x = RadioData.load(RadioDataConfig(seed=3, **SMALL)).test.tensors["input"]
    y = RadioData.load(RadioDataConfig(seed=4, **SMALL)).test.tensors["input"]
    assert not torch.equal(x, y)
    # the test split does not depend on the size of the training split
    z = RadioData.load(RadioDataConfig(seed=3, n_train=32, n_valid=16, n_test=16)).test.tensors["input"]
    assert torch.equal(x, z)


def _unit_noise(noise, n=300):
    d = _sim(noise, n=n)
    x = d["traces"] - d["signals"]
    return x / np.sqrt(np.mean(x**2, axis=1, keepdims=True))


def _power(x):
    return np.abs(np.fft.rfft(x)) ** 2, np.fft.rfftfreq(x.shape[1], 1 / 180.0)


def test_noise_models_differ_as_intended():
    peaky = {}
    for noise in ("background", "uniform", "cosine"):
        p, _ = _power(_unit_noise(noise))
        top = np.sort(p, axis=1)[:, ::-1][:, :12].sum(1) / p.sum(1)  # power share of the 12 strongest bins
        peaky[noise] = np.median(top)
    assert peaky["cosine"] > 0.8 and peaky["uniform"] < 0.3 and peaky["background"] < 0.6
    assert abs(kurtosis(_unit_noise("uniform").ravel(), fisher=False) - 1.8) < 0.05  # flat amplitudes
    assert abs(kurtosis(_unit_noise("background").ravel(), fisher=False) - 3.0) < 0.3  # Gaussian-like
    for noise, falls in (("background", True), ("uniform", False)):
        p, f = _power(_unit_noise(noise))
        ratio = p[:, (f > 32) & (f < 45)].mean() / p[:, (f > 65) & (f < 78)].mean()
        assert (ratio > 2) if falls else (0.8 < ratio < 1.25), (noise, ratio)


def test_signal_lies_in_band():
    d = _sim(n=300, noise_only_fraction=0.0)
    p, f = _power(d["signals"])
    assert p[:, (f >= 30) & (f <= 80)].sum() / p.sum() > 0.85


def _write(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


def test_file_data_loads_and_splits(tmp_path):
    d = _sim(n=100)
    path = _write(tmp_path / "t.npz", traces=d["traces"][:, None], signals=d["signals"][:, None])
    data = RadioFileData.load(RadioFileDataConfig(path=path, valid_fraction=0.1, test_fraction=0.2))
    assert [len(s) for s in (data.train, data.valid, data.test)] == [70, 10, 20]
    assert data.train[0]["input"].shape == (1, 500) and data.info["trace_length"] == 500
    assert DATASETS.get("radio-file") is RadioFileData


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"signals": np.zeros((4, 500))}, "no `traces` array"),
        ({"traces": np.ones((4, 400))}, "expected [N, 500]"),
        ({"traces": np.ones((4, 2, 500))}, "expected [N, 500]"),
        ({"traces": np.random.rand(4, 500), "signals": np.zeros((3, 500))}, "shape of `traces`"),
    ],
)
def test_file_errors(tmp_path, arrays, message):
    path = _write(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match="bad.npz") as err:
        load_traces(path, 500)
    assert message in str(err.value)


def test_file_nan_names_row_and_missing_signals(tmp_path):
    traces = np.random.default_rng(0).random((6, 500))
    traces[3, 10] = np.nan
    with pytest.raises(ValueError, match=r"row 3"):
        load_traces(_write(tmp_path / "nan.npz", traces=traces), 500)
    traces[3, 10] = 0.5
    path = _write(tmp_path / "nosig.npz", traces=traces)
    items = load_traces(path, 500)  # fine for denoising ...
    assert items["input"].shape == (6, 1, 500) and "target" not in items
    with pytest.raises(ValueError, match="signals"):  # ... but not for training
        RadioFileData.load(RadioFileDataConfig(path=path))
