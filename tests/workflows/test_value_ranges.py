"""Value ranges are data: a VAE and a GAN train on an unbounded Gaussian random field and on a ±1
spin lattice (two tiny data sets registered here only), sample values outside [0, 1] where the data
allow, and the image metrics run on them without clipping."""

from typing import ClassVar, Literal

import numpy as np
import pytest
import torch

from gensci import api
from gensci.config import ExperimentConfig
from gensci.data.base import DataSplits
from gensci.data.images import ImageDataConfig, image_splits
from gensci.metrics import images as M
from gensci.registry import DATASETS
from gensci.spec import DataSpec, TensorSpec, ValueRange
from gensci.workflows import images as wf_images
from gensci.workflows.base import load_data

SIZE = 16
SPIN_RANGE = ValueRange(-1.0, 1.0, values=(-1.0, 1.0))


def field(n: int, slope: float, rng: np.random.Generator) -> np.ndarray:
    """n Gaussian random fields [n, S, S] with power spectrum P(k) ∝ k^-slope, unit variance."""
    k = np.hypot(*np.meshgrid(np.fft.fftfreq(SIZE), np.fft.fftfreq(SIZE), indexing="ij"))
    amp = np.where(k > 0, k, np.inf) ** (-slope / 2)
    f = np.fft.ifft2(np.fft.fft2(rng.normal(size=(n, SIZE, SIZE))) * amp).real
    return f / f.std(axis=(1, 2), keepdims=True)


class TinyConfig(ImageDataConfig):
    name: Literal["test-grf", "test-spins"]
    image_size: int = SIZE


class TinyFields:
    """Class 0: rough fields (slope 1), class 1: smooth fields (slope 4); values 3 x field - 1 (unbounded)."""

    Config: ClassVar = TinyConfig
    value_range: ClassVar = ValueRange()

    @classmethod
    def spec(cls, config) -> DataSpec:
        return DataSpec("images", {"x": TensorSpec((1, SIZE, SIZE)), "label": TensorSpec((), "int")},
                        frozenset({"channels", "image_size", "n_classes", "class_names", "dataset"}), {"x": cls.value_range})

    @classmethod
    def images(cls, n: int, label: int, rng) -> np.ndarray:
        return 3 * field(n, 1.0 if label == 0 else 4.0, rng) - 1

    @classmethod
    def load(cls, config) -> DataSplits:
        arrays = {}
        for i, (split, n) in enumerate((("train", 40), ("valid", 8), ("test", 30))):
            rng = np.random.default_rng([config.seed, i])
            x = np.concatenate([cls.images(n // 2, k, rng) for k in (0, 1)])[:, None].astype(np.float32)
            arrays[f"{split}_x"], arrays[f"{split}_y"] = x, np.repeat([0, 1], n // 2)
        info = {"channels": 1, "image_size": SIZE, "n_classes": 2, "class_names": ["a", "b"], "dataset": config.name,
                "orientation_free": True}
        return image_splits(arrays, info)


class TinySpins(TinyFields):
    """±1 lattices: class 0 hot (independent spins), class 1 cold (the sign of a smooth field: domains)."""

    value_range: ClassVar = SPIN_RANGE

    @classmethod
    def images(cls, n: int, label: int, rng) -> np.ndarray:
        return np.sign(rng.normal(size=(n, SIZE, SIZE)) if label == 0 else field(n, 4.0, rng) + 1e-9)


@pytest.fixture(scope="module")
def registered():
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(DATASETS._entries, "test-grf", DATASETS._entries["galaxies"].__class__(f"{__name__}:TinyFields", "test"))
        mp.setitem(DATASETS._entries, "test-spins", DATASETS._entries["galaxies"].__class__(f"{__name__}:TinySpins", "test"))
        yield


def config(data: str, method: dict) -> ExperimentConfig:
    return ExperimentConfig.model_validate({
        "name": f"{data}-{method['name']}", "seed": 0, "data": {"name": data},
        "method": method, "train": {"batch_size": 8, "max_steps": 2, "log_every": 1, "progress": False, "eval_every": 2},
        "eval": {"n_samples": 30}})


METHODS = {"vae": {"name": "vae", "width": 4, "latent_dim": 4},
           "wgan-gp": {"name": "gan", "objective": "wgan-gp", "g_width": 4, "d_width": 4, "latent_dim": 8, "n_critic": 1}}


@pytest.mark.parametrize("data", ["test-grf", "test-spins"])
@pytest.mark.parametrize("method", sorted(METHODS))
def test_methods_follow_the_declared_range(registered, data, method, tmp_path, monkeypatch):
    monkeypatch.setenv("GENSCI_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(wf_images, "REFERENCE_STEPS", 40)
    run, result = api.train(config(data, METHODS[method]), out=tmp_path / "run")
    assert result.steps == 2
    model = run.method()
    x = model.sample(200, generator=torch.Generator().manual_seed(0))["x"]
    if data == "test-grf":  # unbounded: the identity, so below 0 (no sigmoid could give that)
        assert x.min() < -0.1 and model.value_map.kind == "unbounded"
    else:  # ±1 spins: tanh, so inside [-1, 1] with negative values
        assert -1 <= x.min() < 0 and x.max() <= 1 and model.value_map.kind == "binary"
    metrics = api.evaluate(run)
    assert np.isfinite(metrics["pixel_hist_distance"]) and np.isfinite(metrics["power_spectrum_distance"])
    assert "reference_accuracy" in metrics and "reference_chance" in metrics
    if "elbo" in metrics:
        assert np.isfinite(metrics["elbo"])
    api.report(run, metrics)  # figures on the data's own scale


def test_vae_likelihood_suits_the_range(registered, tmp_path, monkeypatch):
    monkeypatch.setenv("GENSCI_CACHE", str(tmp_path / "cache"))
    from gensci.workflows.base import build_method

    grf, spins = (load_data(config(d, METHODS["vae"])) for d in ("test-grf", "test-spins"))
    vae_grf = build_method(config("test-grf", METHODS["vae"]), grf.info)
    vae_spins = build_method(config("test-spins", METHODS["vae"]), spins.info)
    assert vae_grf.likelihood == "mse" and vae_spins.likelihood == "bernoulli"
    # two-valued data: the Bernoulli of (x + 1) / 2 with p = (1 + tanh raw) / 2 is the exact likelihood of the spins
    raw, x = torch.randn(3, 1, SIZE, SIZE), spins.train.tensors["x"][:3]
    p = (1 + torch.tanh(raw)) / 2
    exact = -torch.where(x > 0, p, 1 - p).log().flatten(1).sum(-1)
    torch.testing.assert_close(vae_spins.recon_nll(raw, x), exact, rtol=1e-4, atol=1e-3)
    from gensci.errors import ConfigError

    with pytest.raises(ConfigError, match="bounded"):
        build_method(config("test-grf", METHODS["vae"] | {"recon": "bernoulli"}), grf.info)


def test_metrics_do_not_clip_real_valued_fields(registered, tmp_path, monkeypatch):
    monkeypatch.setenv("GENSCI_CACHE", str(tmp_path / "cache"))
    data = load_data(config("test-grf", METHODS["vae"]))
    real = data.test.tensors["x"]
    judge = M.Judge(lambda x: (x.reshape(len(x), -1)[:, :32].astype(float), np.full((len(x), 2), 0.5)), 1.0, 0.5, 30)
    m = M.image_metrics(real * 2, real, judge, value_range=data.spec.ranges["x"])
    # twice the amplitude: 4x the power at every k (log10 4), and a pixel distance of E|x| in the data's units
    assert m["power_spectrum_distance"] == pytest.approx(np.log10(4), abs=1e-6)
    assert m["pixel_hist_distance"] == pytest.approx(float((real - real.mean()).abs().mean()), rel=0.15)
    spins = load_data(config("test-spins", METHODS["vae"]))
    s = spins.test.tensors["x"]
    assert M.pixel_hist_distance(-s, s, value_range=SPIN_RANGE) == pytest.approx(2 * abs(float(s.mean())), abs=0.02)
