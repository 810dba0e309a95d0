"""Image metrics on inputs with known answers, with a hand-made judge (no network to train)."""

import math

import numpy as np
import pytest
import torch
from scipy.linalg import sqrtm

from gensci.metrics import images as M
from gensci.spec import UNIT_INTERVAL, ValueRange


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


def hand_judge(accuracy=1.0, chance=1 / 3, n_test=60) -> M.Judge:
    """Features: the 4x4 average-pooled grey image (48 numbers per image keep images apart);
    class probabilities from the mean level and the horizontal roughness (the toy classes)."""

    def embed(x):
        t = torch.as_tensor(x)
        feats = torch.nn.functional.avg_pool2d(t, 4).flatten(1).double()
        level, rough = t.mean(dim=(1, 2, 3)), (t[..., 1:] - t[..., :-1]).abs().mean(dim=(1, 2, 3))
        label = torch.where(rough > 0.2, 2, (level > 0.5).long())  # stripes are rough; noise dark or bright
        probs = 0.1 / 3 + 0.9 * torch.nn.functional.one_hot(label, 3).double()
        return feats.numpy(), probs.numpy()

    return M.Judge(embed, accuracy, chance, n_test)


@pytest.fixture(scope="module")
def test_set():
    return toy_images(60, 2)


def test_the_hand_judge_knows_the_classes(test_set):
    x, y = test_set
    judge = hand_judge()
    assert M.class_accuracy(judge, x, y) == 1.0
    mix = M.class_mix(judge, x[y == 1])
    assert len(mix) == 3 and mix[1] == 1 and sum(mix) == pytest.approx(1)


def test_a_set_compared_with_itself(test_set):
    x, y = test_set
    judge = hand_judge()
    m = M.image_metrics(x, x, judge, labels=y, value_range=UNIT_INTERVAL)
    assert set(m) == {"fd_local", "kd_local", "precision", "recall", "density", "coverage", "duplicate_rate",
                      "pixel_hist_distance", "power_spectrum_distance", "c2st_auc", "mode_collapse", "n_samples",
                      "n_reference", "class_mix", "class_mix_real", "class_mix_distance", "class_accuracy", "dropped_classes",
                      "reference_accuracy", "reference_chance"}
    apart = M.image_metrics(x[y == 0], x[y == 1], judge)  # two different classes, for scale
    assert abs(m["fd_local"]) < 1e-6 and abs(m["kd_local"]) < 0.05 * apart["kd_local"]
    assert m["precision"] == m["recall"] == m["coverage"] == 1.0
    assert m["pixel_hist_distance"] == 0 and m["power_spectrum_distance"] == 0
    assert m["duplicate_rate"] < 0.05 and m["mode_collapse"] is False and m["n_samples"] == 60
    assert m["class_mix_distance"] == 0 and m["dropped_classes"] == []
    one_class = M.image_metrics(x[y == 1], x, judge)  # the test split holds the three classes equally
    assert one_class["class_mix_distance"] == pytest.approx(2 / 3, abs=0.05)


def test_two_draws_of_the_same_distribution():
    # c2st needs independent sets: an image present in both is "learned" as the other set in CV
    x, _ = toy_images(300, 5)
    m = M.image_metrics(x[:150], x[150:], hand_judge())
    assert abs(m["c2st_auc"] - 0.5) < 0.1 and m["duplicate_rate"] < 0.05 and m["coverage"] > 0.8
    assert m["mode_collapse"] is False and "no collapse" in M.collapse_reason(m)


def test_a_collapsed_set_of_copies(test_set):
    real, _ = test_set
    copies = real[torch.tensor([0, 1, 2] * 20)]  # three images (one per class), 20 times each
    m = M.image_metrics(copies, real, hand_judge())
    assert m["duplicate_rate"] == 1.0 and m["coverage"] < 0.5 and m["recall"] < 0.1 and m["dropped_classes"] == []
    assert m["mode_collapse"] is True and "duplicate rate" in M.collapse_reason(m)


def test_a_dropped_class_is_flagged_without_duplicates():
    real, y = toy_images(150, 3)
    fresh, fy = toy_images(300, 4)
    two_classes = fresh[fy != 1][:150]  # varied images of classes 0 and 2 only
    m = M.image_metrics(two_classes, real, hand_judge())
    assert m["duplicate_rate"] < 0.05 and m["dropped_classes"] == [1] and m["mode_collapse"] is True
    assert "class 1 dropped" in M.collapse_reason(m)


def test_dropped_class_rule():
    real = [1 / 3, 1 / 3, 1 / 3]
    assert M.dropped_classes([0.5, 0.45, 0.05], real, 300) == [2]  # 0.05 < (1/3) / 5
    assert M.dropped_classes([0.5, 0.4, 0.1], real, 300) == []  # a fifth is 0.067: 0.1 is under-represented, not dropped
    assert M.dropped_classes([0.5, 0.5, 0.0], real, 24) == []  # a faithful generator: 8 of 24 expected (< 10)
    assert M.dropped_classes([0.5, 0.5, 0.0], real, 30) == [2]
    assert M.dropped_classes([0.5, 0.5, 0.0], real, 300, precision=0.4) == []  # mostly unrealistic: classes not judged
    assert M.dropped_classes([0.5, 0.5, 0.0], real, 300, precision=0.5) == [2]
    assert M.mode_collapse(0.01, []) is False and M.mode_collapse(0.21, []) is True and M.mode_collapse(0.0, [2]) is True
    reason = M.collapse_reason({"duplicate_rate": 0.0, "dropped_classes": [], "precision": 0.12})
    assert "not judged" in reason and reason.startswith("no collapse")


def test_feature_metrics_are_withheld_when_the_judge_is_at_chance(test_set):
    x, y = test_set
    m = M.image_metrics(x, x, hand_judge(accuracy=0.28, chance=0.25, n_test=200), labels=y)
    assert "fd_local" not in m and "mode_collapse" not in m and "class_accuracy" not in m
    assert "not clearly above chance" in m["feature_metrics_withheld"] and m["reference_accuracy"] == 0.28
    assert m["pixel_hist_distance"] == 0 and m["power_spectrum_distance"] == 0  # pixel metrics need no network
    assert M.collapse_reason(m).startswith("not measured")


def test_withheld_rule():
    assert M.withheld_reason(0.775, 0.25, 200) is None  # skill 0.7
    assert "skill 0.47" in M.withheld_reason(0.60, 0.25, 200)  # above chance, but not clearly
    assert M.withheld_reason(0.8, 0.5, 10) is not None  # skill 0.6, but 8 of 10 could be luck (p = 0.055)


def test_withheld_reason_names_only_the_failed_conditions():
    low_skill = M.withheld_reason(0.45, 0.25, 300)  # far above chance (p ~ 1e-13) but skill only 0.27
    assert "skill 0.27 < 0.5" in low_skill and "binomial" not in low_skill
    luck = M.withheld_reason(0.8, 0.5, 10)  # skill 0.6 passes; 8 of 10 could be luck
    assert "binomial p 0.055 >= 0.05" in luck and "skill" not in luck
    both = M.withheld_reason(0.3, 0.25, 20)
    assert "skill" in both and "binomial" in both and " and " in both


def test_collapse_reason_says_which_classes_were_not_judged():
    m = {"duplicate_rate": 0.0, "dropped_classes": [], "precision": 0.9, "n_samples": 24,
         "class_mix": [0.5, 0.5, 0.0], "class_mix_real": [0.45, 0.45, 0.1]}
    reason = M.collapse_reason(m)
    assert reason.startswith("no collapse") and "class 2: 2.4 of the 24 samples" in reason
    assert "class 0" not in reason  # 10.8 expected: judged
    assert M.unjudged_classes(m | {"n_samples": 100}) == []  # 10 expected in class 2: every class judged
    assert M.withheld_reason(math.nan, math.nan, 0).startswith("the reference network has no held-out accuracy")


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
    # any real values: a field of amplitude 30 around -7 has the same spectrum shape, 30^2 times the power
    assert M.power_spectrum_distance(-7 + 30 * noise, noise) == pytest.approx(np.log10(900), abs=1e-9)


def test_pixel_hist_distance_in_the_datas_units():
    a, b = np.full((4, 3, 8, 8), 0.2), np.full((4, 3, 8, 8), 0.7)
    assert M.pixel_hist_distance(a, b, value_range=UNIT_INTERVAL) == pytest.approx(0.5, abs=1 / 256)
    # unbounded: the joint range of both sets, nothing clipped (the old [0, 1] clip made this 0)
    assert M.pixel_hist_distance(a * 10 + 3, b * 10 + 3) == pytest.approx(5.0, rel=0.01)
    assert M.pixel_hist_distance(-a - 5, -b - 5, value_range=ValueRange()) == pytest.approx(0.5, rel=0.01)
    spins = ValueRange(-1.0, 1.0, values=(-1.0, 1.0))
    up, down = np.ones((2, 1, 8, 8)), -np.ones((2, 1, 8, 8))
    assert M.pixel_span(spins, up) == (-1, 1) and M.pixel_hist_distance(up, down, value_range=spins) == pytest.approx(2, rel=0.01)


def test_c2st():
    rng = np.random.default_rng(2)
    assert M.c2st_auc(rng.normal(size=(100, 5)), rng.normal(3, 1, size=(100, 5))) > 0.99
    assert abs(M.c2st_auc(rng.normal(size=(200, 5)), rng.normal(size=(200, 5))) - 0.5) < 0.1


def test_bad_input_is_an_error_and_nothing_is_clipped():
    with pytest.raises(ValueError, match="NaN"):
        M.as_images(np.full((2, 3, 8, 8), np.nan))
    with pytest.raises(ValueError, match="NaN/inf"):
        M.as_images(np.full((2, 3, 8, 8), np.inf))
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        M.as_images(np.zeros((3, 8, 8)))
    x = np.linspace(-3, 5, 64).reshape(1, 1, 8, 8)
    assert np.array_equal(M.as_images(x), x.astype(np.float32))
