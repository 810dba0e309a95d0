"""Measurements of generated images against real ones: pixel statistics on any real values, and
statistics in the feature space of a reference classifier trained on the real images (a `Judge`).

Images are arrays or tensors [N, C, H, W] of real values in whatever range the data set declares
(images in [0, 1], unbounded fields, ±1 spins); they are never clipped, and NaN/inf raise. The
feature space is a small CNN trained on the real training images (gensci.workflows.reference_net;
no downloaded Inception network), so feature numbers are comparable only between runs on the same
data set and the same reference seed, and they are withheld (`withheld_reason`) when that network
is not clearly better than chance on held-out images.

- frechet_distance: FID's formula (Heusel et al. 2017, eq. 6) on the local features, ||mu1 - mu2||^2 +
  tr(S1 + S2 - 2 (S1 S2)^(1/2)). Biased at small N; prefer kernel_distance there.
- kernel_distance: KID (Bińkowski et al. 2018, "Demystifying MMD GANs", Sec. 3): the unbiased MMD^2
  with the kernel k(x, y) = (x.y / d + 1)^3 on all pairs.
- prdc: precision, recall, density, coverage with k = 5 (Naeem et al. 2020; the `prdc` package).
- duplicate_rate: see its docstring (calibrated so that real data give `percentile` / 100 = 0.01).
- pixel_hist_distance, power_spectrum_distance: pixel statistics, no network.
- c2st_auc: classifier two-sample test (Lopez-Paz & Oquab 2017): cross-validated AUC of a logistic
  regression telling real from generated features; 0.5 means indistinguishable, 1.0 fully separable.
- class_mix, class_mix_distance: the classes the reference network sees in the samples, and the total
  variation from its view of the real images (0: same mix; 2/3: one class of three balanced ones).
- mode_collapse: diversity only: near-duplicates or a dropped class (see `mode_collapse`). Fidelity
  (precision, fd_local, kd_local, c2st_auc) is reported beside it, not folded into it.
Anomaly scores of images (AUROC, PNG complexity) are in gensci.metrics.anomaly.
"""

from __future__ import annotations

import contextlib
import io
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.spatial.distance import cdist

from gensci.spec import ValueRange

MAX_DUPLICATES = 0.2  # mode collapse: more near-duplicates than this (real data: ~0.01)
DROP_FACTOR = 5  # mode collapse: a real class generated at under 1/DROP_FACTOR of its real rate ...
MIN_EXPECTED = 10  # ... judged only when a faithful generator would put >= MIN_EXPECTED samples in it
MIN_CLASSIFIABLE = 0.5  # ... and when at least this share of the samples lies in the real feature manifold
MIN_SKILL = 0.5  # the reference net's (accuracy - chance) / (1 - chance) needed to trust its features
FEATURE_KEYS = ("fd_local", "kd_local", "precision", "recall", "density", "coverage", "duplicate_rate", "c2st_auc",
                "class_mix", "class_mix_real", "class_mix_distance", "class_accuracy", "dropped_classes", "mode_collapse")


def as_images(x, name: str = "images") -> np.ndarray:
    """Validate [N, C, H, W] images: float32 numpy of any real values; NaN/inf raise (nothing is clipped)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().float().numpy()
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 4:
        raise ValueError(f"{name}: expected images [N, C, H, W], got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name}: {int((~np.isfinite(x)).sum())} NaN/inf pixel values")
    return x


# --- the feature space ------------------------------------------------------------------------


@dataclass(frozen=True)
class Judge:
    """The feature space of the image metrics: a classifier trained on the real images.

    embed: images [N, C, H, W] float32 -> (features [N, D], class probabilities [N, K]);
    accuracy: its accuracy on `n_test` held-out real images (nan if it could not be trained);
    chance: the share of the most frequent class among those images (what always guessing it scores).
    """

    embed: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
    accuracy: float
    chance: float
    n_test: int

    def withheld_reason(self) -> str | None:
        return withheld_reason(self.accuracy, self.chance, self.n_test)


def withheld_reason(accuracy: float, chance: float, n_test: int) -> str | None:
    """Why feature-space metrics cannot be trusted, or None when they can.

    The rule: the reference network must be clearly above chance on held-out images, i.e. its skill
    (accuracy - chance) / (1 - chance) is at least MIN_SKILL = 0.5 (half-way from guessing the most
    frequent class to perfect) and a one-sided binomial test rejects "no better than chance" at 5 %.
    A network that has not learned the data embeds every image alike, so distances in its features
    say nothing about the images."""
    if not n_test or not math.isfinite(accuracy):
        return "the reference network has no held-out accuracy (fewer than two classes, or no test images)"
    from scipy.stats import binomtest

    skill = (accuracy - chance) / (1 - chance) if chance < 1 else 0.0
    p = binomtest(round(accuracy * n_test), n_test, chance, alternative="greater").pvalue
    failed = ([f"skill {skill:.2f} < {MIN_SKILL}"] if skill < MIN_SKILL else []) + (
        [f"one-sided binomial p {p:.2g} >= 0.05"] if p >= 0.05 else [])  # only the conditions that failed
    if failed:
        return (f"reference network accuracy {accuracy:.3f} on {n_test} held-out images is not clearly above "
                f"chance {chance:.3f} ({' and '.join(failed)})")
    return None


def _accuracy(probs: np.ndarray, labels) -> float:
    return float((probs.argmax(1) == np.asarray(labels).reshape(-1)).mean())


def _mix(probs: np.ndarray) -> np.ndarray:
    return np.bincount(probs.argmax(1), minlength=probs.shape[1]) / len(probs)


def features(judge: Judge, images) -> np.ndarray:
    """Reference-network features [N, D]."""
    return judge.embed(as_images(images))[0]


def class_accuracy(judge: Judge, samples, labels) -> float:
    """Fraction of class-conditional samples G(z, c) that the reference classifier assigns to c."""
    return _accuracy(judge.embed(as_images(samples))[1], labels)


def class_mix(judge: Judge, samples) -> list[float]:
    """Fraction of samples the reference classifier assigns to each class (length K)."""
    return _mix(judge.embed(as_images(samples))[1]).tolist()


def frechet_distance_gaussians(mu1, cov1, mu2, cov2) -> float:
    """||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)); tr (S1 S2)^(1/2) = sum sqrt(eig(S1^½ S2 S1^½))."""
    w, v = np.linalg.eigh(cov1)
    s1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(s1 @ cov2 @ s1), 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(cov1) + np.trace(cov2) - 2 * cross)


def frechet_distance(f1, f2) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets [N1, D], [N2, D]."""
    f1, f2 = np.asarray(f1, np.float64), np.asarray(f2, np.float64)
    stats = [(f.mean(0), np.atleast_2d(np.cov(f, rowvar=False))) for f in (f1, f2)]
    return frechet_distance_gaussians(*stats[0], *stats[1])


def kernel_distance(f1, f2) -> float:
    """Unbiased MMD^2 with the cubic polynomial kernel (x.y / d + 1)^3 (KID), on all pairs."""
    f1, f2 = np.asarray(f1, np.float64), np.asarray(f2, np.float64)
    m, n, d = len(f1), len(f2), f1.shape[1]
    k11, k22, k12 = ((a @ b.T / d + 1) ** 3 for a, b in ((f1, f1), (f2, f2), (f1, f2)))
    xx = (k11.sum() - np.trace(k11)) / (m * (m - 1))
    yy = (k22.sum() - np.trace(k22)) / (n * (n - 1))
    return float(xx + yy - 2 * k12.mean())


def prdc(real_features, fake_features, k: int = 5) -> dict[str, float]:
    """Precision, recall, density, coverage (Naeem et al. 2020) via the `prdc` package, nearest_k = k."""
    from prdc import compute_prdc

    if min(len(real_features), len(fake_features)) <= k:
        raise ValueError(f"prdc needs more than k = {k} real and generated images")
    with contextlib.redirect_stdout(io.StringIO()):  # compute_prdc prints the set sizes
        out = compute_prdc(np.asarray(real_features), np.asarray(fake_features), nearest_k=k)
    return {key: float(v) for key, v in out.items()}


def _nn_distance(f: np.ndarray) -> np.ndarray:
    d = cdist(f, f)
    np.fill_diagonal(d, np.inf)
    return d.min(1)


def duplicate_rate(sample_features, real_features, percentile: float = 1.0, seed: int = 0) -> float:
    """Fraction of samples whose nearest other sample is at most as far as the `percentile`-th
    percentile of nearest-neighbour distances among real images.

    Nearest-neighbour distances shrink as a set grows, so both sets are first subsampled (seeded) to
    the same size m = min(N_samples, N_real): a generator as diverse as the data then scores about
    percentile / 100 (0.01), a collapsed one (copies of a few images) close to 1.
    """
    rng = np.random.default_rng(seed)
    s, r = np.asarray(sample_features, np.float64), np.asarray(real_features, np.float64)
    m = min(len(s), len(r))
    if m < 2:
        raise ValueError("duplicate_rate needs at least 2 samples and 2 real images")
    s, r = (x[rng.choice(len(x), m, replace=False)] for x in (s, r))
    threshold = np.percentile(_nn_distance(r), percentile)
    return float((_nn_distance(s) <= threshold).mean())


def pixel_span(value_range: ValueRange | None, *image_sets) -> tuple[float, float]:
    """The interval pixel histograms cover: the declared [low, high] when the range is bounded,
    else the joint min and max of the given image sets (widened by 0.5 if they are all one value)."""
    if value_range is not None and value_range.values:
        return float(min(value_range.values)), float(max(value_range.values))
    if value_range is not None and value_range.bounded:
        return value_range.span()
    lo = min(float(as_images(x).min()) for x in image_sets)
    hi = max(float(as_images(x).max()) for x in image_sets)
    return (lo - 0.5, hi + 0.5) if hi == lo else (lo, hi)


def pixel_histogram(images, bins: int = 256, span: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Bin edges [bins + 1] over `span` (default: the images' own min and max) and the fraction of
    pixel values (all channels) per bin."""
    x = as_images(images)
    h, edges = np.histogram(x, bins=bins, range=span or pixel_span(None, x))
    return edges, h / max(h.sum(), 1)


def pixel_hist_distance(samples, reference, bins: int = 256, value_range: ValueRange | None = None) -> float:
    """Wasserstein-1 distance between the pixel-value distributions, per channel, averaged:
    sum_b |CDF_s(b) - CDF_r(b)| x bin width, over `pixel_span` (the declared range, or the joint range
    of both sets when it is unbounded). In the data's units: 0.5 for constant images 0.2 vs 0.7."""
    s, r = as_images(samples, "samples"), as_images(reference, "reference")
    span = pixel_span(value_range, s, r)
    width = (span[1] - span[0]) / bins
    w = [np.abs(np.cumsum(pixel_histogram(s[:, c : c + 1], bins, span)[1])
                - np.cumsum(pixel_histogram(r[:, c : c + 1], bins, span)[1])).sum() * width for c in range(r.shape[1])]
    return float(np.mean(w))


def radial_power_spectrum(images) -> tuple[np.ndarray, np.ndarray]:
    """Radially averaged power spectrum of the grey level (channel mean, image mean removed),
    averaged over images: k = 1..S/2 in cycles per image, P(k) = mean |FFT|^2 / (H W) in that annulus."""
    x = as_images(images).mean(1).astype(np.float64)
    x = x - x.mean(axis=(1, 2), keepdims=True)
    n_y, n_x = x.shape[1:]
    power = (np.abs(np.fft.fft2(x)) ** 2).mean(0) / (n_y * n_x)
    kr = np.rint(np.hypot(*np.meshgrid(np.fft.fftfreq(n_y) * n_y, np.fft.fftfreq(n_x) * n_x, indexing="ij")))
    k = np.arange(1, min(n_y, n_x) // 2 + 1)
    p = np.bincount(kr.ravel().astype(int), weights=power.ravel())[k] / np.bincount(kr.ravel().astype(int))[k]
    return k, p


def power_spectrum_distance(samples, reference) -> float:
    """Mean over k = 1..S/2 of |log10(P_samples(k) / P_reference(k))|: 0 for equal spectra,
    0.3 for a factor of 2 at every frequency (a blurry generator is far off at high k)."""
    _, ps = radial_power_spectrum(samples)
    _, pr = radial_power_spectrum(reference)
    tiny = 1e-30  # a constant image has zero power; keep the log finite
    return float(np.mean(np.abs(np.log10((ps + tiny) / (pr + tiny)))))


def c2st_auc(real_features, fake_features, folds: int = 5, seed: int = 0) -> float:
    """Cross-validated ROC AUC of a standardised logistic regression separating real from generated
    features (equal class sizes by seeded subsampling). 0.5 ideal; 1.0 every sample is recognisable.
    The sets must be independent: an image present in both (a memorised reference image) is learned as
    the other set in cross-validation, which pushes the AUC below 0.5 (a set against itself gives ~0.1)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    m = min(len(real_features), len(fake_features))
    if m < folds:
        raise ValueError(f"c2st needs at least {folds} real and generated images")
    r, f = (np.asarray(a)[rng.choice(len(a), m, replace=False)] for a in (real_features, fake_features))
    x, y = np.concatenate([r, f]), np.r_[np.zeros(m), np.ones(m)]
    clf = make_pipeline(StandardScaler(), LogisticRegression(solver="liblinear", max_iter=1000))  # lbfgs: 30x slower here
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    p = cross_val_predict(clf, x, y, cv=cv, method="predict_proba")[:, 1]
    return float(roc_auc_score(y, p))


def dropped_classes(sample_mix, real_mix, n_samples: int, precision: float = 1.0) -> list[int]:
    """Classes the samples drop: real class k (share r_k of the real images, as the reference network
    sees them) generated at a share under r_k / DROP_FACTOR (5).

    Judged only where the network's classes mean something: when at least MIN_CLASSIFIABLE (half) of
    the samples lie in the real images' feature manifold (precision), since a network classifies
    unrealistic images arbitrarily (pixel noise on galaxies: 82 % "spiral"); and only for classes
    where a faithful generator would place at least MIN_EXPECTED (10) of the n samples (n r_k >= 10),
    so a small sample does not flag a class by chance. Precision can only keep this arm silent, never
    raise the flag."""
    if precision < MIN_CLASSIFIABLE:
        return []
    s, r = np.asarray(sample_mix, float), np.asarray(real_mix, float)
    return [int(k) for k in np.flatnonzero((n_samples * r >= MIN_EXPECTED) & (s < r / DROP_FACTOR))]


def mode_collapse(duplicate_rate: float, dropped: list[int]) -> bool:
    """Mode collapse is a lack of diversity: duplicate_rate > 0.2, or a class of the real data dropped
    (`dropped_classes`). Fidelity (precision, fd/kd, c2st) is reported beside the flag and is not part
    of it: poor but varied samples are not collapsed.

    Measured for 600 images against the first 600 simulated 64x64 test galaxies in the features of
    the galaxies' reference network (seed 0, held-out accuracy 0.998; benchmarks/images/README.md
    has the command):

    | samples                        | precision | coverage | duplicate rate | class mix (barred, ell., spiral) | flag |
    |--------------------------------|-----------|----------|----------------|----------------------------------|------|
    | real training images           | 0.96      | 0.95     | 0.02           | 0.36, 0.33, 0.31                 | no |
    | blurred (5x5 box)              | 0.89      | 0.58     | 0.05           | 0.36, 0.33, 0.31                 | no |
    | strong pixel noise (sigma 0.1) | 0.12      | 0.01     | 0.00           | 0.15, 0.04, 0.82                 | no (classes not judged) |
    | only ellipticals               | 0.98      | 0.33     | 0.08           | 0.00, 1.00, 0.00                 | yes: classes 0, 2 dropped |
    | 50 images copied               | 0.94      | 0.36     | 1.00           | 0.32, 0.40, 0.28                 | yes: duplicates |
    | 5 images copied                | 1.00      | 0.04     | 1.00           | 0.00, 0.80, 0.20                 | yes: duplicates, class 0 |

    Real data give a duplicate rate of about 0.01 by construction (duplicate_rate) and coverage about
    1 - 2^-5 = 0.97 (Naeem et al. 2020, Sec. 4). Blurring costs coverage (fidelity), not diversity."""
    return bool(duplicate_rate > MAX_DUPLICATES or dropped)


def collapse_reason(metrics: dict) -> str:
    """One line saying why `mode_collapse` is (or is not) raised, from image_metrics' output."""
    if "feature_metrics_withheld" in metrics:
        return f"not measured: {metrics['feature_metrics_withheld']}"
    dup, dropped = metrics["duplicate_rate"], metrics.get("dropped_classes") or []
    mix, real = metrics.get("class_mix") or [], metrics.get("class_mix_real") or []
    parts = []
    if dup > MAX_DUPLICATES:
        parts.append(f"duplicate rate {dup:.3f} > {MAX_DUPLICATES} (about 0.01 for real data)")
    for k in dropped:
        parts.append(f"class {k} dropped: {mix[k]:.3f} of the samples vs {real[k]:.3f} of the real images "
                     f"(< 1/{DROP_FACTOR})")
    if parts:
        return "; ".join(parts + unjudged_classes(metrics))
    classes = ("no real class dropped" if metrics.get("precision", 1.0) >= MIN_CLASSIFIABLE else
               f"dropped classes not judged (precision {metrics['precision']:.2f} < {MIN_CLASSIFIABLE}: most samples "
               "lie outside the real images' feature manifold, where the reference network's classes mean little)")
    return "; ".join([f"no collapse: duplicate rate {dup:.3f} <= {MAX_DUPLICATES}, {classes}", *unjudged_classes(metrics)])


def unjudged_classes(metrics: dict) -> list[str]:
    """Why classes were left out of the dropped-class test although it ran (`dropped_classes`): a faithful generator
    would have put fewer than MIN_EXPECTED of the n samples in them. Empty when every class was judged."""
    real, n = metrics.get("class_mix_real") or [], metrics.get("n_samples") or 0
    if metrics.get("precision", 1.0) < MIN_CLASSIFIABLE:
        return []  # no class was judged, and the reason says so
    small = [k for k, r in enumerate(real) if n * r < MIN_EXPECTED]
    if not small:
        return []
    expected = ", ".join(f"class {k}: {n * real[k]:.1f}" for k in small)
    return [f"not judged for dropping: {expected} of the {n} samples expected from a faithful generator "
            f"(< {MIN_EXPECTED}; draw more samples to judge them)"]


def image_metrics(samples, reference, judge: Judge, labels=None, value_range: ValueRange | None = None) -> dict:
    """All image metrics of `samples` against real `reference` images [N, C, H, W].

    Always: pixel_hist_distance (over the declared `value_range`, or the joint range when unbounded),
    power_spectrum_distance, n_samples, n_reference, reference_accuracy and reference_chance (the judge's).
    When the judge is clearly above chance (`withheld_reason`): fd_local, kd_local, precision, recall,
    density, coverage, duplicate_rate, c2st_auc, class_mix, class_mix_real, class_mix_distance,
    dropped_classes, mode_collapse (bool), and class_accuracy when the requested `labels` of
    class-conditional samples are given. Otherwise feature_metrics_withheld: the reason.
    """
    s, r = as_images(samples, "samples"), as_images(reference, "reference")
    if s.shape[1:] != r.shape[1:]:
        raise ValueError(f"samples {s.shape[1:]} and reference {r.shape[1:]} differ in [C, H, W]")
    out = {"pixel_hist_distance": pixel_hist_distance(s, r, value_range=value_range),
           "power_spectrum_distance": power_spectrum_distance(s, r), "n_samples": len(s), "n_reference": len(r),
           "reference_accuracy": judge.accuracy, "reference_chance": judge.chance}
    reason = judge.withheld_reason()
    if reason:
        return out | {"feature_metrics_withheld": reason}
    fs, ps = judge.embed(s)
    fr, pr = judge.embed(r)
    out |= {"fd_local": frechet_distance(fs, fr), "kd_local": kernel_distance(fs, fr), **prdc(fr, fs)}
    out["duplicate_rate"] = duplicate_rate(fs, fr)
    out["c2st_auc"] = c2st_auc(fr, fs)
    mix, real_mix = _mix(ps), _mix(pr)
    out["class_mix"], out["class_mix_real"] = mix.tolist(), real_mix.tolist()
    out["class_mix_distance"] = float(0.5 * np.abs(mix - real_mix).sum())
    out["dropped_classes"] = dropped_classes(mix, real_mix, len(s), out["precision"])
    out["mode_collapse"] = mode_collapse(out["duplicate_rate"], out["dropped_classes"])
    if labels is not None:
        out["class_accuracy"] = _accuracy(ps, labels)
    return out
