"""Anomaly scores: the AUROC of a score against known anomalies, and the input-complexity correction of
likelihood scores (Serrà et al. 2020, "Input complexity and out-of-distribution detection with
likelihood-based generative models", ICLR), whose complexity estimate is an image's PNG length."""

from __future__ import annotations

import io
import math

import numpy as np

from gensci.metrics.images import as_images, pixel_span
from gensci.spec import ValueRange


def anomaly_auroc(scores, is_anomaly) -> float:
    """ROC AUC of anomaly scores (higher = more anomalous) against the true anomaly flags."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(np.asarray(is_anomaly).astype(int).reshape(-1), np.asarray(scores).reshape(-1)))


def compressed_bits(images, value_range: ValueRange | None = None) -> np.ndarray:
    """Length in bits of each image [N, C, H, W] as a PNG (Pillow, compression level 9): the input
    complexity L(x) of Serrà et al. (2020, Sec. 3; PNG is one of their compressors).

    Values are quantised to 8 bits over `pixel_span` (the declared range; for an unbounded range the
    joint min and max of these images, so that all are quantised alike). One or three channels are
    one grey or RGB image; any other count is one grey image per channel, the lengths summed."""
    from PIL import Image

    x = as_images(images)
    lo, hi = pixel_span(value_range, x)
    q = np.clip(np.round((x - lo) / (hi - lo) * 255), 0, 255).astype(np.uint8)
    planes = [q.transpose(0, 2, 3, 1)] if x.shape[1] == 3 else [q[:, c] for c in range(x.shape[1])]
    bits = np.zeros(len(x))
    for plane in planes:
        for i, img in enumerate(plane):
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, format="PNG", compress_level=9)
            bits[i] += 8 * buf.tell()
    return bits


def complexity_corrected_score(nll, bits, fit_nll=None, fit_bits=None) -> np.ndarray:
    """A likelihood score corrected for input complexity (Serrà et al. 2020, Sec. 3): higher = more anomalous.

    Serrà et al.'s S(x) = -l_M(x) - L(x) subtracts the compressed length L from the model's negative
    log-likelihood, both in bits, so that an image the model finds likely only because it is simple
    (smooth, dark) no longer looks typical. Without `fit_*` that is what is returned, in nats
    (nll - bits ln 2): right when nll is a likelihood of the same 8-bit image. gensci's Bernoulli VAE
    score of grey levels is not (a score, not a density: ~0.3 nats per value where the PNG needs ~3),
    so with `fit_nll`, `fit_bits` of in-distribution images (e.g. the validation split) the exchange
    rate is measured instead: nll ~ a bits + b by least squares there, and the score is the residual
    nll - (a bits + b); a = ln 2, b = 0 gives the paper's S. nll, bits: [N]."""
    nll, bits = np.asarray(nll, float), np.asarray(bits, float)
    if fit_nll is None:
        return nll - bits * math.log(2)
    fb, fn = np.asarray(fit_bits, float), np.asarray(fit_nll, float)
    a = float(np.cov(fb, fn)[0, 1] / fb.var(ddof=1)) if fb.var() > 0 else 0.0
    return nll - (a * bits + fn.mean() - a * fb.mean())
