"""Image metrics on inputs with known answers, and the cached, seeded reference network."""

import numpy as np
import pytest
import torch
from scipy.linalg import sqrtm

from gensci.data.base import DataSplits, TensorDictDataset
from gensci.metrics import images as M
from gensci.nets.classifier import FeatureNet


def toy_images(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """[n, 3, 16, 16] in three easy classes: dark noise, bright noise, vertical stripes (random phase)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    noise = torch.rand(n, 3, 16, 16, generator=g)
    phase = torch.rand(n, 1, 1, 1, generator=g) * 6.28
    stripes = 0.5 + 0.4 * torch.sin(torch.arange(16.0) * 1.5 + phase).expand(n, 3, 16, 16)
    x = torch.where((y == 0)[:, None, None, None], 0.3 * noise, 0.7 + 0.3 * noise)
    x = torch.where((y == 2)[:, None, None, None], stripes + 0.05 * noise, x)
    return x.clamp(0, 1), y



@pytest.fixture(scope="module")
def splits():
    parts = [TensorDictDataset(dict(zip(("x", "label"), toy_images(n, s)))) for n, s in ((150, 0), (30, 1), (60, 2))]
    return DataSplits(*parts, info={"n_classes": 3})


@pytest.fixture(scope="module")
def net(splits, tmp_path_factory):
    return M.reference_network(splits, "toy", seed=0, steps=25, width=4, cache_dir=tmp_path_factory.mktemp("c"))


def test_reference_network_is_trained_cached_and_seeded(splits, net, tmp_path):
    assert net.test_accuracy > 0.9 and net.feature_dim == 48
    again = M.reference_network(splits, "toy", seed=0, steps=25, width=4, cache_dir=tmp_path)
    for a, b in zip(net.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)  # reproducible from its seed
    path = next((tmp_path / "refnets").glob("toy-*.safetensors"))
    loaded = M.reference_network(splits, "toy", seed=0, steps=25, width=4, cache_dir=tmp_path)
    assert loaded.test_accuracy == pytest.approx(again.test_accuracy)
    x = splits.test.tensors["x"][:8]
    assert np.allclose(M.features(loaded, x), M.features(again, x))
    path.write_bytes(b"")  # an emptied file proves the next call reads it (and fails), not retrains
    with pytest.raises(Exception):
        M.reference_network(splits, "toy", seed=0, steps=25, width=4, cache_dir=tmp_path)
    other = M.reference_network(splits, "toy", seed=1, steps=25, width=4, cache_dir=tmp_path)
    assert not torch.equal(other.head.weight, again.head.weight)


def test_class_accuracy_and_mix(splits, net):
    x, y = splits.test.tensors["x"], splits.test.tensors["label"]
    assert M.class_accuracy(net, x, y) > 0.9
    mix = M.class_mix(net, x[y == 1])
    assert len(mix) == 3 and mix[1] > 0.9 and sum(mix) == pytest.approx(1)


def test_a_set_compared_with_itself(splits, net):
    x = splits.test.tensors["x"]
    m = M.image_metrics(x, x, net, labels=splits.test.tensors["label"])
    assert set(m) == {"fd_local", "kd_local", "precision", "recall", "density", "coverage", "duplicate_rate",
                      "pixel_hist_distance", "power_spectrum_distance", "c2st_auc", "mode_collapse", "n_samples",
                      "class_mix", "class_mix_distance", "class_accuracy"}
    y = splits.test.tensors["label"]
    apart = M.image_metrics(x[y == 0], x[y == 1], net)  # two different classes, for scale
    assert abs(m["fd_local"]) < 1e-6 and abs(m["kd_local"]) < 0.05 * apart["kd_local"]
    assert m["precision"] == m["recall"] == m["coverage"] == 1.0
    assert m["pixel_hist_distance"] == 0 and m["power_spectrum_distance"] == 0
    assert m["duplicate_rate"] < 0.05 and m["mode_collapse"] is False and m["n_samples"] == 60
    assert m["class_mix_distance"] == 0
    one_class = M.image_metrics(x[y == 1], x, net)  # the test split holds the three classes equally
    assert one_class["class_mix_distance"] == pytest.approx(2 / 3, abs=0.05)


def test_two_draws_of_the_same_distribution(splits, net):
    # c2st needs independent sets: an image present in both is "learned" as the other set in CV
    x, y = toy_images(300, 5)
    m = M.image_metrics(x[:150], x[150:], net)
    assert abs(m["c2st_auc"] - 0.5) < 0.1 and m["duplicate_rate"] < 0.05 and m["coverage"] > 0.8
    assert m["mode_collapse"] is False


def test_a_collapsed_set_of_copies(splits, net):
    real = splits.test.tensors["x"]
    copies = real[torch.tensor([0, 1] * 30)]  # two images, 30 times each
    m = M.image_metrics(copies, real, net)
    assert m["duplicate_rate"] == 1.0 and m["coverage"] < 0.25 and m["recall"] < 0.1
    assert m["mode_collapse"] is True and "duplicate rate" in M.collapse_reason(m["precision"], m["coverage"], 1.0)


def test_collapse_rule():
    assert M.mode_collapse(precision=0.96, coverage=0.96, duplicate_rate=0.01) is False
    assert M.mode_collapse(precision=0.05, coverage=0.01, duplicate_rate=0.0) is False  # poor but diverse
    assert M.mode_collapse(precision=0.98, coverage=0.33, duplicate_rate=0.1) is True  # one class of three
    assert M.mode_collapse(precision=0.1, coverage=0.01, duplicate_rate=0.5) is True


def test_frechet_distance_closed_forms():
    rng = np.random.default_rng(0)
    mu1, mu2 = np.array([0.0, 1.0]), np.array([2.0, -1.0])
    # commuting (diagonal) covariances: ||mu1 - mu2||^2 + sum (s1 - s2)^2
    s1, s2 = np.array([1.0, 2.0]), np.array([3.0, 0.5])
    fd = M.frechet_distance_gaussians(mu1, np.diag(s1**2), mu2, np.diag(s2**2))
    assert fd == pytest.approx(8 + 4 + 2.25)
    a, b = rng.normal(size=(2, 2)), rng.normal(size=(2, 2))
    c1, c2 = a @ a.T + 0.1 * np.eye(2), b @ b.T + 0.1 * np.eye(2)  # non-commuting
    ref = np.sum((mu1 - mu2) ** 2) + np.trace(c1 + c2 - 2 * sqrtm(c1 @ c2).real)
    assert M.frechet_distance_gaussians(mu1, c1, mu2, c2) == pytest.approx(ref, rel=1e-8)
    f1 = rng.multivariate_normal(mu1, c1, 200_000)
    f2 = rng.multivariate_normal(mu2, c2, 200_000)
    assert M.frechet_distance(f1, f2) == pytest.approx(ref, rel=0.02)


def test_kernel_distance_is_unbiased_and_grows_with_a_shift():
    rng = np.random.default_rng(1)
    same = [M.kernel_distance(rng.normal(size=(200, 8)), rng.normal(size=(300, 8))) for _ in range(20)]
    shifted = M.kernel_distance(rng.normal(size=(200, 8)), rng.normal(0.5, 1, size=(300, 8)))
    assert abs(np.mean(same)) < 3 * np.std(same) / np.sqrt(20) + 1e-4 and shifted > 10 * np.std(same)


def test_power_spectrum_of_a_sine():
    x = np.sin(2 * np.pi * 5 * np.arange(32) / 32)[None, None, None, :].repeat(32, 2) * 0.4 + 0.5
    k, p = M.radial_power_spectrum(x)
    assert k[0] == 1 and k[-1] == 16 and k[p.argmax()] == 5 and p[4] / p.sum() > 0.999
    # Parseval: the two peaks (0, ±5) hold (A N^2 / 2)^2 / N^2 each, averaged over the k = 5 annulus
    annulus = (np.rint(np.hypot(*np.meshgrid(np.fft.fftfreq(32) * 32, np.fft.fftfreq(32) * 32))) == 5).sum()
    assert p[4] * annulus == pytest.approx(2 * (0.4 * 32**2 / 2) ** 2 / 32**2)
    # amplitude x2 -> power x4 at every k: mean |log10 ratio| = log10 4
    noise = np.random.default_rng(0).uniform(-1, 1, (4, 1, 32, 32))
    assert M.power_spectrum_distance(0.5 + 0.2 * noise, 0.5 + 0.1 * noise) == pytest.approx(np.log10(4), abs=1e-9)


def test_pixel_hist_distance_of_constant_images():
    a, b = np.full((4, 3, 8, 8), 0.2), np.full((4, 3, 8, 8), 0.7)
    assert M.pixel_hist_distance(a, b) == pytest.approx(0.5, abs=1 / 256)


def test_c2st_and_anomaly_auroc():
    rng = np.random.default_rng(2)
    far = M.c2st_auc(rng.normal(size=(100, 5)), rng.normal(3, 1, size=(100, 5)))
    assert far > 0.99
    assert M.anomaly_auroc([0.1, 0.2, 0.9, 0.8], [0, 0, 1, 1]) == 1.0
    assert M.anomaly_auroc([0.9, 0.8, 0.1, 0.2], [0, 0, 1, 1]) == 0.0


def test_bad_input_is_an_error():
    with pytest.raises(ValueError, match="NaN"):
        M.as_images(np.full((2, 3, 8, 8), np.nan))
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        M.as_images(np.zeros((3, 8, 8)))
    with pytest.warns(UserWarning, match="clipped"):
        assert M.as_images(np.full((1, 1, 4, 4), 1.5)).max() == 1
    with pytest.raises(ValueError, match="channels"):
        FeatureNet(3, 2, 4).features(torch.zeros(1, 1, 16, 16))
