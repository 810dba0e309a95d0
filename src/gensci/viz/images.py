"""Figures for image data: sample grids (per class), interpolation strips and GIFs, power spectra and
pixel-intensity histograms of real vs generated images.

Images are numpy arrays or tensors [N, C, H, W] (C = 1 or 3) of real values. For display they are
mapped from `span` = (low, high) to [0, 1] (default: [0, 1] when all values lie there, else the
images' own min and max; workflows pass the data's declared range), values outside are clipped and
NaN pixels drawn black (the metrics raise on NaN).
"""

from __future__ import annotations

from pathlib import Path

from gensci.viz.figures import plt, save_figure
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from gensci.metrics.images import pixel_histogram, pixel_span, radial_power_spectrum  # noqa: E402

_PAD = 2  # pixels between tiles


def _hwc(images, span: tuple[float, float] | None = None) -> np.ndarray:
    """[N, C, H, W] (tensor or array) -> [N, H, W, 3] float in [0, 1], `span` mapped onto [0, 1]."""
    if hasattr(images, "detach"):
        images = images.detach().cpu().numpy()
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"expected images [N, C, H, W] with C = 1 or 3, got shape {x.shape}")
    x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    if span is None:
        inside = x.size == 0 or (x.min() >= 0 and x.max() <= 1)
        span = (0.0, 1.0) if inside else (float(x.min()), float(x.max()) if x.max() > x.min() else float(x.min()) + 1)
    x = np.clip((x - span[0]) / (span[1] - span[0]), 0, 1).transpose(0, 2, 3, 1)  # display only
    return np.repeat(x, 3, axis=-1) if x.shape[-1] == 1 else x


def _tile(x: np.ndarray, nrow: int) -> np.ndarray:
    """[N, H, W, 3] -> one [rows*(H+pad)+pad, nrow*(W+pad)+pad, 3] canvas (white gaps)."""
    n, h, w, _ = x.shape
    rows = max(1, -(-n // nrow))
    canvas = np.ones((rows * (h + _PAD) + _PAD, nrow * (w + _PAD) + _PAD, 3), np.float32)
    for i in range(n):
        r, c = divmod(i, nrow)
        canvas[_PAD + r * (h + _PAD) : (r + 1) * (h + _PAD), _PAD + c * (w + _PAD) : (c + 1) * (w + _PAD)] = x[i]
    return canvas


def _save(fig, path) -> Path:
    return save_figure(fig, path, dpi=100)


def _show(canvas: np.ndarray, path, scale: float = 2.0, labels_left=None, titles=None, tile=None, title=""):
    """Save a canvas with roughly `scale` screen pixels per image pixel, optional row labels/titles."""
    h, w = canvas.shape[:2]
    fig = plt.figure(figsize=(w * scale / 100 + (1.2 if labels_left else 0), h * scale / 100 + 0.3))
    ax = fig.add_axes([0, 0, 1, 1])
    ax.imshow(canvas, interpolation="nearest")
    ax.set_axis_off()
    if tile is not None:
        th, tw = tile
        for i, text in enumerate(titles or []):
            r, c = divmod(i, (w - _PAD) // (tw + _PAD))
            ax.text(_PAD + c * (tw + _PAD) + tw / 2, r * (th + _PAD) + _PAD + 1, str(text), ha="center", va="top",
                    fontsize=7, color="w", bbox=dict(fc="k", alpha=0.5, lw=0, pad=1))
        for r, text in enumerate(labels_left or []):
            ax.text(-_PAD, _PAD + r * (th + _PAD) + th / 2, str(text), ha="right", va="center", fontsize=9)
    if title:
        ax.set_title(title, fontsize=10)
    return _save(fig, path)


def image_grid(images, path, nrow: int = 8, titles=None, title: str = "", span=None) -> Path:
    """A grid of images, `nrow` per row, optional per-image `titles` (e.g. predicted classes)."""
    x = _hwc(images, span)
    return _show(_tile(x, nrow), path, titles=titles, tile=x.shape[1:3], title=title)


def grid_per_class(images, labels, class_names, path, per_class: int = 8, title: str = "", span=None) -> Path:
    """One row per class with up to `per_class` of its images, the class name on the left."""
    x, labels = _hwc(images, span), np.asarray(labels).reshape(-1)
    blank = np.ones_like(x[:1])
    rows = []
    for k in range(len(class_names)):
        sel = x[labels == k][:per_class]
        rows.append(np.concatenate([sel, np.repeat(blank, per_class - len(sel), 0)]))
    return _show(_tile(np.concatenate(rows), per_class), path, labels_left=list(class_names),
                 tile=x.shape[1:3], title=title)


def strip(images, path, title: str = "", span=None) -> Path:
    """One row: an interpolation strip (first and last frames are the end points)."""
    x = _hwc(images, span)
    return _show(_tile(x, len(x)), path, title=title)


def write_gif(images, path, fps: float = 8, min_side: int = 192, bounce: bool = True, span=None) -> Path:
    """An animated GIF of the frames (upscaled, nearest, to at least `min_side` px); with `bounce`
    the movie plays forward then back, so the loop has no jump."""
    x = (_hwc(images, span) * 255).round().astype(np.uint8)
    factor = max(1, int(np.ceil(min_side / x.shape[1])))
    frames = [Image.fromarray(f).resize((f.shape[1] * factor, f.shape[0] * factor), Image.NEAREST) for f in x]
    if bounce and len(frames) > 2:
        frames = frames + frames[-2:0:-1]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=int(1000 / fps), loop=0)
    return path


def _sets(fake) -> dict:
    return fake if isinstance(fake, dict) else {"generated": fake}


def plot_power_spectra(real, fake, path, title: str = "") -> Path:
    """Radially averaged power spectra (mean over images, grey level) of real vs generated images;
    `fake` may be a dict {name: images} to compare several models."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    k, p = radial_power_spectrum(real)
    ax.loglog(k, p, color="k", lw=2, label="real")
    for name, images in _sets(fake).items():
        k, p = radial_power_spectrum(images)
        ax.loglog(k, p, lw=1.2, label=name)
    ax.set_xlabel("spatial frequency k (cycles per image)")
    ax.set_ylabel("P(k)")
    ax.legend(fontsize=8)
    ax.set_title(title or "radially averaged power spectrum")
    return _save(fig, path)


def plot_pixel_hist(real, fake, path, title: str = "", bins: int = 64, value_range=None) -> Path:
    """Pixel-value histograms (all channels pooled, log counts) of real vs generated images, over the
    declared `value_range` (gensci.spec.ValueRange) or, when unbounded, the joint range of all sets."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    span = pixel_span(value_range, real, *_sets(fake).values())
    edges, h = pixel_histogram(real, bins, span)
    centres = (edges[:-1] + edges[1:]) / 2
    ax.step(centres, h, where="mid", color="k", lw=2, label="real")
    for name, images in _sets(fake).items():
        ax.step(centres, pixel_histogram(images, bins, span)[1], where="mid", lw=1.2, label=name)
    ax.set_yscale("log")
    ax.set_xlabel("pixel value")
    ax.set_ylabel("fraction of pixels")
    ax.legend(fontsize=8)
    ax.set_title(title or "pixel-intensity histogram")
    return _save(fig, path)
