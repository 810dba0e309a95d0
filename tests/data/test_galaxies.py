"""The galaxy simulator (classes differ in the statistics that define them; seeded; cached) and the
FIRST radio-galaxy loader."""

import importlib.util

import numpy as np
import pytest

from gensci.errors import UserError
import torch
from pydantic import ValidationError

from gensci.data import galaxies
from gensci.data.galaxies import BARRED, ELLIPTICAL, SPIRAL, GalaxyData, GalaxyDataConfig, render, simulate
from gensci.registry import DATASETS


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GENSCI_CACHE", str(tmp_path))


def small(**kw) -> GalaxyDataConfig:
    return GalaxyDataConfig(**{"n_per_class": 4, "n_valid_per_class": 2, "n_test_per_class": 3} | kw)


def test_items_shapes_ranges_and_info():
    assert DATASETS.get("galaxies") is GalaxyData and GalaxyData.spec(GalaxyData.Config()).domain == "images"
    data = GalaxyData.load(small())
    assert (len(data.train), len(data.valid), len(data.test)) == (12, 6, 9)
    item = data.train[0]
    assert item["x"].shape == (3, 64, 64) and item["x"].dtype == torch.float32
    assert item["label"].dtype == torch.int64 and item["label"].ndim == 0
    x, y = data.train.tensors["x"], data.train.tensors["label"]
    assert 0 <= x.min() and x.max() <= 1 and x.max() > 0.5
    assert torch.bincount(y).tolist() == [4, 4, 4] and y[:6].unique().numel() > 1  # balanced and shuffled
    pixel_mean = data.info.pop("pixel_mean")
    assert data.info == {"channels": 3, "image_size": 64, "n_classes": 3,
                         "class_names": ["barred spiral", "elliptical", "spiral"], "dataset": "galaxies",
                         "orientation_free": True}
    assert pixel_mean == pytest.approx(data.train.tensors["x"].mean(dim=(0, 2, 3)).tolist())


def test_seeds_reproduce_and_splits_are_independent_streams():
    a, b = simulate(small(cache=False)), simulate(small(cache=False))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    other = simulate(small(seed=1, cache=False))
    assert not np.array_equal(a["train_x"], other["train_x"])
    more = simulate(small(n_per_class=6, cache=False))  # more training images: same test set
    assert np.array_equal(a["test_x"], more["test_x"]) and not np.array_equal(a["train_x"], more["train_x"])
    assert not np.array_equal(a["test_x"][:3], a["valid_x"][:3])


def test_128_pixels_and_size_validation():
    x = render(SPIRAL, 2, 128, np.random.default_rng(0))
    assert x.shape == (2, 3, 128, 128) and x.dtype == np.uint8
    with pytest.raises(ValidationError, match="power of two"):
        GalaxyDataConfig(image_size=100)
    with pytest.raises(ValidationError, match="n_per_clas"):
        GalaxyDataConfig(n_per_clas=3)


def test_cache_is_written_and_reused(tmp_path, monkeypatch):
    config = small()
    first = GalaxyData.load(config)
    path = galaxies.cache_path(config)
    assert path.exists() and path.parent.parent == tmp_path

    def boom(_):
        raise AssertionError("simulated again instead of reading the cache")

    monkeypatch.setattr(galaxies, "simulate", boom)
    again = GalaxyData.load(config)
    assert torch.equal(first.train.tensors["x"], again.train.tensors["x"])
    assert galaxies.cache_path(small(seed=3)) != path  # keyed by the config


def test_held_out_classes_only_in_test():
    data = GalaxyData.load(small(held_out_classes=[ELLIPTICAL]))
    assert ELLIPTICAL not in data.train.tensors["label"] and ELLIPTICAL not in data.valid.tensors["label"]
    assert (data.test.tensors["label"] == ELLIPTICAL).sum() == 3 and data.info["held_out_classes"] == [1]
    with pytest.raises(UserError, match="held_out_classes"):
        GalaxyData.load(small(held_out_classes=[5]))


# --- the classes differ in the statistics that define them -----------------------------------


def _grey(x: np.ndarray) -> np.ndarray:
    g = x.astype(np.float64).mean(1) / 255
    border = np.concatenate([g[:, :3].reshape(len(g), -1), g[:, -3:].reshape(len(g), -1)], 1)
    return g - np.median(border, 1)[:, None, None]  # sky removed


def _radius(s: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[:s, :s] - (s - 1) / 2
    return xx, yy


def azimuthal_cv(g: np.ndarray) -> np.ndarray:
    """Mean over annuli (4-16 px) of std/mean along the ring: arms make it large, smooth light small."""
    xx, yy = _radius(g.shape[-1])
    r = np.hypot(xx, yy)
    rings = [g[:, (r >= lo) & (r < lo + 4)] for lo in (4, 8, 12)]
    return np.mean([v.std(1) / v.mean(1) for v in rings], 0)


def inner_axis_ratio(g: np.ndarray) -> np.ndarray:
    """Minor/major axis of the light above 35% of the peak within 12 px: a bar is long and thin."""
    xx, yy = _radius(g.shape[-1])
    out = []
    for im in g:
        w = (np.clip(im - 0.35 * im.max(), 0, None) * (np.hypot(xx, yy) < 12)).ravel()
        ev = np.linalg.eigvalsh(np.cov(np.stack([xx.ravel(), yy.ravel()]), aweights=w))
        out.append(np.sqrt(ev[0] / ev[1]))
    return np.array(out)


def concentration(g: np.ndarray) -> np.ndarray:
    r = np.hypot(*_radius(g.shape[-1]))
    return (g * (r < 4)).sum((1, 2)) / (g * (r < 20)).sum((1, 2))


def redness(x: np.ndarray) -> np.ndarray:
    """R / B of the brightest 20% of pixels."""
    g = x.astype(np.float64) / 255
    bright = g.mean(1) > np.percentile(g.mean(1), 80, axis=(1, 2))[:, None, None]
    return np.array([im[0][m].mean() / im[2][m].mean() for im, m in zip(g, bright)])


@pytest.fixture(scope="module")
def classes():
    return {k: render(k, 24, 64, np.random.default_rng([7, k])) for k in (BARRED, ELLIPTICAL, SPIRAL)}


def test_ellipticals_are_smooth_concentrated_and_red(classes):
    # measured medians (seed [7, k]): CV 0.30 vs 0.47, concentration 0.17 vs 0.12, R/B 1.30 vs 0.88
    ell, sp = classes[ELLIPTICAL], classes[SPIRAL]
    assert np.median(azimuthal_cv(_grey(ell))) < 0.8 * np.median(azimuthal_cv(_grey(sp)))
    assert np.median(concentration(_grey(ell))) > 1.2 * np.median(concentration(_grey(sp)))
    assert np.median(redness(ell)) > 1.2 * np.median(redness(sp))


def test_barred_spirals_have_elongated_central_light(classes):
    # measured medians: 0.43 (barred) vs 0.70 (spiral) vs 0.83 (elliptical)
    barred, sp = inner_axis_ratio(_grey(classes[BARRED])), inner_axis_ratio(_grey(classes[SPIRAL]))
    assert np.median(barred) < 0.8 * np.median(sp)
    assert np.median(azimuthal_cv(_grey(classes[BARRED]))) > 1.2 * np.median(azimuthal_cv(_grey(classes[ELLIPTICAL])))


# --- FIRST -------------------------------------------------------------------------------------

needs_first = pytest.mark.skipif(importlib.util.find_spec("firstgalaxydata") is None,
                                 reason="optional package firstgalaxydata not installed")


@needs_first
def test_first_loader_counts_and_splits():
    from gensci.data.firstgalaxy import FirstGalaxyData, FirstGalaxyDataConfig

    data = FirstGalaxyData.load(FirstGalaxyDataConfig(image_size=16))
    sizes = (len(data.train), len(data.valid), len(data.test))
    assert sizes == (1758, 200, 200) and sum(sizes) == 2158  # Griese et al. 2023 literature split
    assert data.info["class_names"] == ["FRI", "FRII", "Compact", "Bent"] and data.info["channels"] == 1
    assert torch.bincount(data.test.tensors["label"]).tolist() == [50, 50, 50, 50]
    x = data.train.tensors["x"]
    assert x.shape == (1758, 1, 16, 16) and 0 <= x.min() and x.max() <= 1
    rgb = FirstGalaxyData.load(FirstGalaxyDataConfig(image_size=16, channels=3))  # from the cache
    assert rgb.train.tensors["x"].shape == (1758, 3, 16, 16)
    assert torch.equal(rgb.train.tensors["x"][:, 1], x[:, 0])


def test_first_missing_package_says_how_to_install(monkeypatch):
    from gensci.data import firstgalaxy

    monkeypatch.setattr(firstgalaxy.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match="pip install --no-deps firstgalaxydata"):
        firstgalaxy.archive_path()
