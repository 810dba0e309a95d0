"""`gensci sample RUN --input maps.npz [--mask mask.npz] --out filled.npz`: posterior samples from a diffusion
model given incomplete measurements (DPS, gensci.methods.diffusion.guidance), for any grid domain.

- With --mask: inpainting. The input's `images` array [N, C, S, S] (or [N, S, S] for one channel; the only
  array of the file is taken when it has one) holds the measured values in the data's units (anything at hidden
  pixels); the mask's `mask` array (1/True = observed pixel) is [N, C, S, S], [N, S, S], [S, S] or [1, ...],
  broadcast over images and channels.
- Without --mask: super-resolution. The input images are [N, C, s, s] with s dividing the model's side S; the
  samples' f x f block means (f = S / s) match them.
The measurement noise sigma_y (data units) is --measurement-noise, else the run's method.measurement_noise.
Written: `samples` [N, K, C, S, S] (K = --n posterior samples per input, default 8), `mean` and `std` over them
[N, C, S, S], `input`, `mask` (inpainting) and `measurement_noise`; and a PNG panel (per input: the measurement,
posterior samples, their mean).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from gensci.errors import InputFileError, UserError
from gensci.workflows.base import Run, SampleOptions

DEFAULT_PER_INPUT = 8


def wants_posterior(options: SampleOptions) -> bool:
    """True when `gensci sample` was given measurements (--input); --mask without --input is a UserError."""
    if options.mask is not None and options.input is None:
        raise UserError("--mask marks the observed pixels of --input images; give --input too")
    return options.input is not None


def read_npz_array(path: Path, key: str, expected: str) -> np.ndarray:
    """The array `key` of an npz file (or its only array), as float32; an InputFileError names the file."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: no such file (expected an npz with a `{key}` array {expected})")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except Exception as err:  # noqa: BLE001 - any unreadable file is the user's to fix
        raise InputFileError(f"{path}: not a readable npz of numeric arrays ({type(err).__name__}: {err})") from None
    if key not in arrays and len(arrays) != 1:
        raise InputFileError(f"{path}: no `{key}` array (found {', '.join(sorted(arrays)) or 'none'}); expected "
                             f"`{key}` {expected}")
    a = arrays[key] if key in arrays else next(iter(arrays.values()))
    if a.dtype.kind not in "biuf":
        raise InputFileError(f"{path}: `{key}` has dtype {a.dtype}, expected numbers")
    a = a.astype(np.float32)
    if not np.isfinite(a).all():
        raise InputFileError(f"{path}: `{key}` has NaN or inf values")
    return a


def read_images(path: Path, channels: int, side: int, super_resolution: bool) -> np.ndarray:
    expected = f"[N, {channels}, {side}, {side}]" + (f" or [N, {side}, {side}]" if channels == 1 else "")
    if super_resolution:
        expected = f"[N, {channels}, s, s] with s dividing {side} (super-resolution)"
    x = read_npz_array(path, "images", expected)
    if x.ndim == 3 and channels == 1:
        x = x[:, None]
    if x.ndim != 4 or x.shape[0] < 1 or x.shape[1] != channels or x.shape[2] != x.shape[3]:
        raise InputFileError(f"{path}: `images` has shape {list(x.shape)}, expected {expected}")
    if not super_resolution and x.shape[2] != side:
        raise InputFileError(f"{path}: `images` are {x.shape[2]}x{x.shape[3]}, the model's are {side}x{side}; give "
                             "images of the model's size with --mask, or images whose side divides it without --mask "
                             "(super-resolution)")
    if super_resolution and (x.shape[2] >= side or side % x.shape[2]):
        raise InputFileError(f"{path}: `images` are {x.shape[2]}x{x.shape[3]}; without --mask they are "
                             f"low-resolution measurements whose side must divide {side} (with --mask: inpainting)")
    return x


def read_mask(path: Path, images: np.ndarray) -> np.ndarray:
    n, c, s, _ = images.shape
    m = read_npz_array(path, "mask", f"[N, {c}, {s}, {s}], [N, {s}, {s}] or [{s}, {s}] (1 = observed)")
    if m.ndim == 2:
        m = m[None, None]
    elif m.ndim == 3:
        m = m[:, None]
    if m.ndim != 4 or m.shape[2:] != (s, s) or m.shape[0] not in (1, n) or m.shape[1] not in (1, c):
        raise InputFileError(f"{path}: `mask` has shape {list(m.shape)}, which does not fit the {n} input images "
                             f"[{n}, {c}, {s}, {s}]; expected [N, {c}, {s}, {s}], [N, {s}, {s}] or [{s}, {s}]")
    if not np.isin(m, (0, 1)).all():
        raise InputFileError(f"{path}: `mask` must hold 0 (hidden) and 1 (observed) only")
    return np.broadcast_to(m, images.shape).copy()


def posterior_method(run: Run, checkpoint: str, wanted: str):
    """The run's method when it has the capability `wanted` ("inpaint", "super_resolve"), else a UserError."""
    method = run.method(checkpoint=checkpoint)
    if wanted not in method.capabilities:
        raise UserError(f"method {run.config.method.name} cannot sample a posterior given measurements "
                        "(--input with --mask); train a diffusion model (method.name=field-diffusion)")
    return method


def posterior_samples(run: Run, options: SampleOptions) -> list[Path]:
    """Fill in / super-resolve the user's images (see the module docstring); returns [npz, png]."""
    from gensci.viz.images import image_grid

    method = posterior_method(run, options.checkpoint, "inpaint" if options.mask is not None else "super_resolve")
    info = run.info
    channels, side = int(info["channels"]), int(info["image_size"])
    x = read_images(options.input, channels, side, super_resolution=options.mask is None)
    k = options.n or DEFAULT_PER_INPUT
    g = torch.Generator().manual_seed(options.seed)
    sampling, noise = options.sampling(), options.measurement_noise
    cond = options.class_label
    if options.mask is not None:
        mask = read_mask(options.mask, x)
        samples = method.inpaint(torch.from_numpy(x), torch.from_numpy(mask), k, noise, g, sampling, cond)
    else:
        mask = None
        samples = method.super_resolve(torch.from_numpy(x), k, noise, g, sampling, cond)
    samples = samples.float().cpu()
    out = Path(options.out) if options.out is not None else run.samples_dir / "posterior.npz"
    if out.is_dir() or out.suffix == "":
        out = out / "posterior.npz"
    out = out.with_suffix(".npz")  # numpy appends .npz to any other name: the file would not be where it is said
    out.parent.mkdir(parents=True, exist_ok=True)
    sigma_y = method.config.measurement_noise if noise is None else noise
    arrays = {"samples": samples.numpy(), "mean": samples.mean(1).numpy(), "std": samples.std(1).numpy(),
              "input": x, "measurement_noise": np.float32(sigma_y)} | ({"mask": mask} if mask is not None else {})
    np.savez_compressed(out, **arrays)
    shown = min(4, len(x))
    measured = torch.from_numpy(x[:shown] * mask[:shown]) if mask is not None else \
        torch.nn.functional.interpolate(torch.from_numpy(x[:shown]), size=side, mode="nearest")
    per_row = min(k, 6)
    rows = [torch.cat([measured[i : i + 1], samples[i, :per_row], samples[i].mean(0, keepdim=True)]) for i in range(shown)]
    vr = (info.get("value_ranges") or {}).get("x") or {}
    span = (vr["low"], vr["high"]) if vr.get("low") is not None and vr.get("high") is not None else None
    png = image_grid(torch.cat(rows), out.with_suffix(".png"), nrow=per_row + 2, span=span,
                     title=f"per row: measurement, {per_row} posterior samples, their mean (sigma_y = {sigma_y:g})")
    return [out, png]
