"""Measurements of generated images against real ones, in a feature space gensci trains itself.

Images are arrays or tensors [N, C, H, W] in [0, 1]. NaN/inf raise; values outside [0, 1] are
clipped with a warning. The feature space is a small CNN classifier trained on the real training
images (`reference_network`, gensci.nets.classifier.FeatureNet; no downloaded Inception network), so
numbers are comparable only between runs on the same data set and the same reference seed.

- frechet_distance: FID's formula (Heusel et al. 2017, eq. 6) on the local features, ||mu1 - mu2||^2 +
  tr(S1 + S2 - 2 (S1 S2)^(1/2)). Biased at small N; prefer kernel_distance there.
- kernel_distance: KID (Bińkowski et al. 2018, "Demystifying MMD GANs", Sec. 3): the unbiased MMD^2
  with the kernel k(x, y) = (x.y / d + 1)^3 on all pairs.
- prdc: precision, recall, density, coverage with k = 5 (Naeem et al. 2020; the `prdc` package).
- duplicate_rate: see its docstring (calibrated so that real data give `percentile` / 100 = 0.01).
- pixel_hist_distance, power_spectrum_distance: pixel statistics, no network.
- c2st_auc: classifier two-sample test (Lopez-Paz & Oquab 2017): cross-validated AUC of a logistic
  regression telling real from generated features; 0.5 means indistinguishable, 1.0 fully separable.
- class_mix_distance: total variation between the classes the reference network sees in the samples
  and in the real images (0: same mix; 2/3: one class of three balanced ones). Evidence of dropped
  modes that a scientist can read off directly; not part of the flag (a poor sample set is
  classified arbitrarily).
- mode_collapse: duplicate_rate > 0.2, or coverage < 0.5 x precision when precision >= 0.3 (see there).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import warnings
from pathlib import Path

import numpy as np
import torch
from scipy.spatial.distance import cdist

from gensci.data.base import default_cache_dir
from gensci.nets.classifier import FeatureNet

REF_NET_VERSION = 1  # part of the cache file name: bump when FeatureNet or its training changes
MAX_DUPLICATES, MIN_PRECISION, MIN_COVERAGE_RATIO = 0.2, 0.3, 0.5  # the mode-collapse rule (see mode_collapse)


def as_images(x, name: str = "images") -> np.ndarray:
    """Validate [N, C, H, W] images: float32 numpy, NaN/inf raise, clipped to [0, 1] with a warning."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().float().numpy()
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 4:
        raise ValueError(f"{name}: expected images [N, C, H, W], got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name}: {int((~np.isfinite(x)).sum())} NaN/inf pixel values")
    outside = (x < -1e-3) | (x > 1 + 1e-3)
    if outside.any():
        warnings.warn(f"{name}: {outside.mean():.2%} of pixel values outside [0, 1], clipped", stacklevel=2)
    return np.clip(x, 0, 1)


@torch.no_grad()
def _net_outputs(net: FeatureNet, images, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    x = as_images(images)
    net.eval()
    device = next(net.parameters()).device
    feats, probs = [], []
    for start in range(0, len(x), batch_size):
        xb = torch.from_numpy(x[start : start + batch_size]).to(device)
        feats.append(net.features(xb).double().cpu())
        probs.append(torch.softmax(net(xb).double(), dim=1).cpu())
    return torch.cat(feats).numpy(), torch.cat(probs).numpy()


def features(net: FeatureNet, images, batch_size: int = 256) -> np.ndarray:
    """Reference-network features [N, D] (float64)."""
    return _net_outputs(net, images, batch_size)[0]


def class_probabilities(net: FeatureNet, images, batch_size: int = 256) -> np.ndarray:
    """Reference-classifier class probabilities [N, K]."""
    return _net_outputs(net, images, batch_size)[1]


def _accuracy(probs: np.ndarray, labels) -> float:
    return float((probs.argmax(1) == np.asarray(labels).reshape(-1)).mean())


def _mix(probs: np.ndarray) -> np.ndarray:
    return np.bincount(probs.argmax(1), minlength=probs.shape[1]) / len(probs)


def class_accuracy(net: FeatureNet, samples, labels) -> float:
    """Fraction of class-conditional samples G(z, c) that the reference classifier assigns to c."""
    return _accuracy(class_probabilities(net, samples), labels)


def class_mix(net: FeatureNet, samples) -> list[float]:
    """Fraction of samples the reference classifier assigns to each class (length K)."""
    return _mix(class_probabilities(net, samples)).tolist()


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


def pixel_histogram(images, bins: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Bin edges [bins + 1] over [0, 1] and the fraction of pixel values (all channels) per bin."""
    h, edges = np.histogram(as_images(images), bins=bins, range=(0, 1))
    return edges, h / max(h.sum(), 1)


def pixel_hist_distance(samples, reference, bins: int = 256) -> float:
    """Wasserstein-1 distance between the pixel-intensity distributions, per channel, averaged:
    sum_b |CDF_s(b) - CDF_r(b)| / bins (in intensity units: 0 same, at most 1)."""
    s, r = as_images(samples, "samples"), as_images(reference, "reference")
    w = [np.abs(np.cumsum(pixel_histogram(s[:, c : c + 1], bins)[1]) - np.cumsum(pixel_histogram(r[:, c : c + 1], bins)[1])).sum()
         for c in range(r.shape[1])]
    return float(np.mean(w) / bins)


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


def mode_collapse(precision: float, coverage: float, duplicate_rate: float) -> bool:
    """Collapse flag: duplicate_rate > 0.2, or precision >= 0.3 with coverage < 0.5 * precision.

    Healthy values: for samples drawn from the data, coverage is about 1 - 2^-k = 0.97 at k = 5
    (Naeem et al. 2020, Sec. 4) and the duplicate rate about 0.01 by construction. Collapse means
    realistic samples that reach only a few real neighbourhoods: precision stays high while coverage
    drops, so coverage / precision measures diversity apart from fidelity. Plain coverage < 0.25 would
    also flag diverse but poor samples and miss a generator of one class only. Measured (precision /
    coverage / duplicate rate) for 600 images against the 600 simulated 64x64 test galaxies, reference
    net seed 0, 150 steps: real training images 0.96 / 0.96 / 0.01; blurred (5x5 box) 0.94 / 0.81 / 0.05;
    strong pixel noise (sigma 0.1) 0.05 / 0.01 / 0.0 (poor, not collapsed); only ellipticals 0.98 /
    0.33 / 0.10 (flagged by the ratio); 50 images copied 0.94 / 0.39 / 0.99 and 5 copied 1.0 / 0.07 / 1.0
    (flagged by both rules).
    When precision < 0.3 the samples are mostly unrealistic and only the duplicate rule can speak."""
    if duplicate_rate > MAX_DUPLICATES:
        return True
    return bool(precision >= MIN_PRECISION and coverage < MIN_COVERAGE_RATIO * precision)


def collapse_reason(precision: float, coverage: float, duplicate_rate: float) -> str:
    """One line saying why `mode_collapse` is (or is not) raised, for reports."""
    if duplicate_rate > MAX_DUPLICATES:
        return f"duplicate rate {duplicate_rate:.3f} > {MAX_DUPLICATES} (about 0.01 for real data)"
    if mode_collapse(precision, coverage, duplicate_rate):
        return (f"coverage {coverage:.3f} < {MIN_COVERAGE_RATIO} x precision {precision:.3f}: "
                "realistic samples of few modes")
    low = f" (precision < {MIN_PRECISION}: too unrealistic to judge coverage)" if precision < MIN_PRECISION else ""
    return f"no collapse: duplicate rate {duplicate_rate:.3f} <= {MAX_DUPLICATES}, coverage {coverage:.3f}, precision {precision:.3f}{low}"


def image_metrics(samples, reference, ref_net: FeatureNet, labels=None) -> dict:
    """All image metrics of `samples` against real `reference` images ([N, C, H, W] in [0, 1]).

    Keys: fd_local, kd_local, precision, recall, density, coverage, duplicate_rate, pixel_hist_distance,
    power_spectrum_distance, c2st_auc, mode_collapse (bool), n_samples, class_mix (list),
    class_mix_distance, and
    class_accuracy when the requested `labels` of class-conditional samples are given.
    """
    s, r = as_images(samples, "samples"), as_images(reference, "reference")
    if s.shape[1:] != r.shape[1:]:
        raise ValueError(f"samples {s.shape[1:]} and reference {r.shape[1:]} differ in [C, H, W]")
    fs, ps = _net_outputs(ref_net, s)
    fr, pr = _net_outputs(ref_net, r)
    out = {"fd_local": frechet_distance(fs, fr), "kd_local": kernel_distance(fs, fr), **prdc(fr, fs)}
    out["duplicate_rate"] = duplicate_rate(fs, fr)
    out["pixel_hist_distance"] = pixel_hist_distance(s, r)
    out["power_spectrum_distance"] = power_spectrum_distance(s, r)
    out["c2st_auc"] = c2st_auc(fr, fs)
    out["mode_collapse"] = mode_collapse(out["precision"], out["coverage"], out["duplicate_rate"])
    out["n_samples"] = len(s)
    mix = _mix(ps)
    out["class_mix"] = mix.tolist()
    out["class_mix_distance"] = float(0.5 * np.abs(mix - _mix(pr)).sum())
    if labels is not None:
        out["class_accuracy"] = _accuracy(ps, labels)
    return out


def anomaly_auroc(scores, is_anomaly) -> float:
    """ROC AUC of anomaly scores (higher = more anomalous) against the true anomaly flags."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(np.asarray(is_anomaly).astype(int).reshape(-1), np.asarray(scores).reshape(-1)))


# --- the reference network -------------------------------------------------------------------


def _split_arrays(split) -> tuple[torch.Tensor, torch.Tensor]:
    t = split.tensors if hasattr(split, "tensors") else {k: torch.stack([it[k] for it in split]) for k in ("x", "label")}
    return t["x"].float(), t["label"].long().reshape(-1)


def train_reference_network(x, y, x_test, y_test, n_classes: int, seed: int = 0, steps: int = 150,
                            batch_size: int = 64, width: int = 16, lr: float = 3e-3) -> FeatureNet:
    """Train FeatureNet by cross-entropy (Adam, one-cycle lr, `steps` random batches), seeded by `seed`
    without touching torch's global RNG; sets `test_accuracy` on (x_test, y_test). With fewer than two
    classes it stays at its seeded random initialisation (random CNN features are a usable embedding,
    Naeem et al. 2020, Sec. 5) and test_accuracy is nan."""
    with torch.random.fork_rng(devices=[]), torch.enable_grad():  # callers may be under no_grad
        torch.manual_seed(seed)
        net = FeatureNet(x.shape[1], n_classes, width)
        if n_classes < 2:
            warnings.warn("fewer than two classes: the reference features are an untrained CNN", stacklevel=2)
            return net.eval()
        g = torch.Generator().manual_seed(seed)
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
        net.train()
        for _ in range(steps):
            idx = torch.randint(len(x), (min(batch_size, len(x)),), generator=g)
            loss = torch.nn.functional.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    net.eval()
    if len(x_test):
        with torch.no_grad():
            pred = torch.cat([net(x_test[i : i + 256]).argmax(1) for i in range(0, len(x_test), 256)])
        net.test_accuracy = float((pred == y_test).float().mean())
    return net


def reference_network(data_splits, cache_key: str, seed: int = 0, steps: int = 150, width: int = 16,
                      cache_dir: Path | None = None) -> FeatureNet:
    """The reference FeatureNet of a data set: loaded from GENSCI_CACHE/refnets/ (safetensors) or
    trained on `data_splits.train` (and scored on `.test`) and saved there. `cache_key` names the data
    set and its config (e.g. "galaxies-<config hash>"); the file also encodes seed, steps and width."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    stem = f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', cache_key)}-w{width}-s{steps}-seed{seed}-v{REF_NET_VERSION}"
    path = (cache_dir or default_cache_dir()) / "refnets" / f"{stem}.safetensors"
    if path.exists():
        with safe_open(str(path), "pt") as f:
            meta = f.metadata()
        net = FeatureNet(int(meta["in_channels"]), int(meta["n_classes"]), int(meta["width"]))
        net.load_state_dict(load_file(str(path)))
        net.test_accuracy = float(meta["test_accuracy"])
        return net.eval()
    x, y = _split_arrays(data_splits.train)
    x_test, y_test = _split_arrays(data_splits.test)
    seen = torch.isin(y_test, y.unique())  # held-out classes (anomaly detection) are not its job
    x_test, y_test = x_test[seen], y_test[seen]
    n_classes = int(data_splits.info.get("n_classes") or int(y.max()) + 1)
    net = train_reference_network(x, y, x_test, y_test, n_classes, seed, steps, width=width)
    meta = {"in_channels": net.in_channels, "n_classes": n_classes, "width": width, "test_accuracy": net.test_accuracy}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp")
        save_file(net.state_dict(), str(tmp), metadata={k: str(v) for k, v in meta.items()})
        os.replace(tmp, path)
    except OSError as err:
        warnings.warn(f"could not cache the reference network at {path}: {err}", stacklevel=2)
    return net

