"""Image data: the pieces every image data set shares, and your own images in class folders.

Shared (used by gensci.data.galaxies and gensci.data.firstgalaxy): `ImageDataConfig` (image_size,
held_out_classes), `load_cached` (npz cache), `image_splits` (arrays -> DataSplits). A class listed in
`held_out_classes` is removed from train and valid and kept in test, and info["held_out_classes"]
lists it: train a VAE on the other classes, then score the held-out one as anomalies.

Your own images: a folder with one subfolder per class.

    my_images/
      spiral/      a.png  b.jpg  c.fits ...
      elliptical/  ...

PNG/JPEG/TIFF/BMP/GIF are read with Pillow (converted to grey "L" or "RGB"), FITS (.fits, .fit, .fts,
optionally .gz) with astropy: the first image HDU, a [C, H, W] cube with C = 1 or 3 kept as
channels, scaled per image to [0, 1] by its min and max. Non-square images are centre-cropped to a
square, then resized (Lanczos) to image_size. Classes are the subfolder names in sorted order (hidden
folders ignored). A file that cannot be read (corrupt, wrong format, NaN pixels, odd shape) is
skipped and named in one warning with the count; it never stops loading. Splits are stratified per
class with a seeded permutation. Items: {"x": [C, S, S] float32 in [0, 1], "label": int64}.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import torch
from PIL import Image
from pydantic import Field, field_validator

from gensci.config import DataConfig
from gensci.data.base import DataSplits, TensorDictDataset
from gensci.spec import UNIT_INTERVAL, DataSpec, TensorSpec
from gensci.errors import InputFileError, UserError
from gensci.files import atomic_write

SPLITS = ("train", "valid", "test")

PIL_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp"}
FITS_SUFFIXES = {".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fts.gz"}


class ImageDataConfig(DataConfig):
    """Fields of every image data set."""

    image_size: int = Field(64, description="side in pixels (a power of two, 16..512: the conv nets need it)")
    held_out_classes: list[int] = Field(default_factory=list, description="classes only in test (anomaly detection)")

    @field_validator("image_size")
    @classmethod
    def _power_of_two(cls, v: int) -> int:
        if v < 16 or v > 512 or v & (v - 1):
            raise ValueError(f"image_size must be a power of two in 16..512 (the conv nets need it), got {v}")
        return v


IMAGE_INFO = frozenset({"channels", "image_size", "n_classes", "class_names", "dataset", "pixel_mean", "orientation_free"})


def image_spec(channels: int, image_size: int) -> DataSpec:
    """What every image data set provides: x [C, S, S] in [0, 1] (no physical unit), label []."""
    return DataSpec(
        domain="images",
        items={"x": TensorSpec((channels, image_size, image_size), "float", "image"),
               "label": TensorSpec((), "int", "class index")},
        info=IMAGE_INFO,
        ranges={"x": UNIT_INTERVAL},
    )


def load_cached(path: Path, make, cache: bool = True) -> dict[str, np.ndarray]:
    """Arrays from the npz at `path`, or `make()` written there atomically (a warning if unwritable)."""
    if cache and path.exists():
        with np.load(path) as f:
            return dict(f)
    arrays = make()
    if cache:
        try:  # atomic: a concurrent reader sees the whole file or none
            atomic_write(path, lambda tmp: np.savez_compressed(tmp, **arrays))
        except OSError as err:
            warnings.warn(f"could not write the cache {path}: {err}", stacklevel=2)
    return arrays


def image_splits(arrays: dict[str, np.ndarray], info: dict, held_out_classes=()) -> DataSplits:
    """uint8 (/255) or float arrays {split}_x [N, C, S, S], {split}_y [N] -> DataSplits of
    {"x": float32 [C, S, S] in [0, 1], "label": int64}; held-out classes leave train and valid.
    info gains "pixel_mean" (per channel, training split), which generators start from. info must say
    whether "orientation_free" holds (flips and quarter turns preserve the class: true for sky images),
    which the reference classifier uses to augment its training images."""
    if "orientation_free" not in info:
        raise ValueError("image info must say whether flips/rotations preserve the class (orientation_free)")
    held = sorted(set(held_out_classes))
    bad = [k for k in held if not 0 <= k < info["n_classes"]]
    if bad or len(held) >= info["n_classes"]:
        raise UserError(f"held_out_classes {held}: expected some (not all) of 0..{info['n_classes'] - 1} "
                         f"({', '.join(info['class_names'])})")

    def split(name: str) -> TensorDictDataset:
        x, y = arrays[f"{name}_x"], arrays[f"{name}_y"]
        if held and name != "test":
            keep = ~np.isin(y, held)
            x, y = x[keep], y[keep]
        x = torch.from_numpy(np.ascontiguousarray(x))
        x = x.float() / 255 if x.dtype == torch.uint8 else x.float()
        return TensorDictDataset({"x": x, "label": torch.from_numpy(np.ascontiguousarray(y)).long()})

    train = split("train")
    info = info | {"pixel_mean": train.tensors["x"].mean(dim=(0, 2, 3)).tolist()}
    return DataSplits(train, split("valid"), split("test"), info | ({"held_out_classes": held} if held else {}))


class ImageFolderDataConfig(ImageDataConfig):
    name: Literal["images"] = "images"
    path: str = Field(..., description="folder with one subfolder of images per class")
    channels: Literal[1, 3] = Field(3, description="1 = grey, 3 = RGB")
    valid_fraction: float = Field(0.1, ge=0, lt=1)
    test_fraction: float = Field(0.1, ge=0, lt=1)
    orientation_free: bool = Field(False, description="flips and quarter turns keep an image's class (e.g. sky "
                                                         "images); the reference classifier then augments with them")


def _suffix(path: Path) -> str:
    s = "".join(path.suffixes[-2:]).lower()
    return s if s in FITS_SUFFIXES else path.suffix.lower()


def _square(img: Image.Image, size: int) -> Image.Image:
    w, h = img.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    return img.crop((left, top, left + side, top + side)).resize((size, size), Image.LANCZOS)


def _read_fits(path: Path, size: int, channels: int) -> np.ndarray:
    from astropy.io import fits

    with fits.open(path) as hdul:
        data = next((h.data for h in hdul if h.data is not None and h.data.ndim in (2, 3)), None)
        if data is None:
            raise ValueError("no 2D image or [C, H, W] cube in any HDU")
        data = np.asarray(data, np.float64)
    if data.ndim == 2:
        data = data[None]
    if data.shape[0] not in (1, 3):
        raise ValueError(f"cube with {data.shape[0]} planes (expected 1 or 3)")
    if not np.isfinite(data).all():
        raise ValueError(f"{int((~np.isfinite(data)).sum())} NaN/inf pixels")
    lo, hi = data.min(), data.max()
    data = (data - lo) / (hi - lo) if hi > lo else np.zeros_like(data)
    planes = [np.asarray(_square(Image.fromarray(p.astype(np.float32)), size)) for p in data]
    x = np.clip(np.stack(planes), 0, 1)
    if channels == 1:
        return x.mean(0, keepdims=True)
    return np.repeat(x, 3, axis=0) if len(x) == 1 else x


def read_image(path: Path, size: int, channels: int) -> np.ndarray:
    """One file as [channels, size, size] float32 in [0, 1]; raises on anything unreadable."""
    if _suffix(path) in FITS_SUFFIXES:
        return _read_fits(path, size, channels).astype(np.float32)
    with Image.open(path) as img:
        img = _square(img.convert("L" if channels == 1 else "RGB"), size)
        x = np.asarray(img, np.float32) / 255
    return x[None] if channels == 1 else x.transpose(2, 0, 1)


def read_folder(root: Path, size: int, channels: int) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """All readable images under root/<class>/: x [N, C, S, S], y [N], class names, skipped files
    ("relative/path: reason")."""
    if not root.is_dir():
        raise InputFileError(f"{root}: image folder not found")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise InputFileError(f"{root}: no class subfolders; expected {root}/<class name>/<images>")
    xs, ys, names, skipped = [], [], [], []
    for d in class_dirs:
        files = sorted(f for f in d.rglob("*") if f.is_file() and not f.name.startswith("."))
        files = [f for f in files if _suffix(f) in PIL_SUFFIXES | FITS_SUFFIXES]
        images = []
        for f in files:
            try:
                images.append(read_image(f, size, channels))
            except Exception as err:  # noqa: BLE001 - any unreadable file is reported and skipped
                skipped.append(f"{f.relative_to(root)}: {type(err).__name__}: {err}")
        if not images:
            warnings.warn(f"{d}: no readable images ({len(files)} candidate files); not used as a class", stacklevel=3)
            continue
        xs += images
        ys += [len(names)] * len(images)
        names.append(d.name)
    if not names:
        raise InputFileError(f"{root}: no readable images in any class subfolder ({', '.join(d.name for d in class_dirs)})")
    if skipped:
        warnings.warn(f"{root}: skipped {len(skipped)} unreadable file(s):\n  " + "\n  ".join(skipped), stacklevel=3)
    return np.stack(xs), np.asarray(ys, np.int64), names, skipped


def stratified_splits(y: np.ndarray, valid_fraction: float, test_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """Indices per split: within each class a seeded permutation, round(n * fraction) to valid/test."""
    rng = np.random.default_rng(seed)
    parts = {s: [] for s in SPLITS}
    for k in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == k))
        n_valid, n_test = round(len(idx) * valid_fraction), round(len(idx) * test_fraction)
        parts["valid"].append(idx[:n_valid])
        parts["test"].append(idx[n_valid : n_valid + n_test])
        parts["train"].append(idx[n_valid + n_test :])
    return {s: np.sort(np.concatenate(p)) for s, p in parts.items()}


class ImageFolderData:
    """Images from class subfolders, resized, with seeded stratified train/valid/test splits."""

    Config: ClassVar[type[ImageFolderDataConfig]] = ImageFolderDataConfig

    @classmethod
    def spec(cls, config: ImageFolderDataConfig) -> DataSpec:
        return image_spec(config.channels, config.image_size)

    @classmethod
    def load(cls, config: ImageFolderDataConfig) -> DataSplits:
        if config.valid_fraction + config.test_fraction >= 1:
            raise UserError(f"valid_fraction + test_fraction must be < 1, got "
                             f"{config.valid_fraction} + {config.test_fraction}")
        root = Path(config.path).expanduser()
        x, y, names, skipped = read_folder(root, config.image_size, config.channels)
        idx = stratified_splits(y, config.valid_fraction, config.test_fraction, config.seed)
        arrays = {f"{s}_{k}": a[idx[s]] for s in SPLITS for k, a in (("x", x), ("y", y))}
        info = {
            "channels": config.channels,
            "image_size": config.image_size,
            "n_classes": len(names),
            "class_names": names,
            "dataset": "images",
            "path": str(root),
            "n_skipped": len(skipped),
            "skipped_files": skipped,
            "orientation_free": config.orientation_free,
        }
        return image_splits(arrays, info, config.held_out_classes)
