"""Real radio-galaxy images from the FIRST survey, as bundled in the PyPI package `firstgalaxydata`.

The package (Griese et al. 2023, "A FIRST radio galaxy data set", Data in Brief 47, 108974; data on
Zenodo record 7689127) holds 2,158 grey 300x300 uint8 images in four classes, FRI 0, FRII 1,
Compact 2, Bent 3, each with a literature train/valid/test split ("Split_literature": 1,758 / 200 /
200). Its licence is non-commercial, so it is an optional dependency:
    pip install --no-deps firstgalaxydata
(--no-deps: its metadata pulls torchvision). gensci never imports the module (that imports
torchvision); it reads the bundled galaxy_data_h5.zip (one HDF5 file: groups data_i with Img,
Label_literature, Split_literature) with h5py, keeps the central `crop` x `crop` pixels (default 150:
the sources sit in the middle of a mostly empty 300x300 field; the main source of the large FRI/Bent
examples we looked at spans < 150 px), resizes with area averaging to image_size and caches the
result as npz in GENSCI_CACHE. Items: {"x": [C, S, S] float32 in [0, 1], "label": int64}, C = 1
(grey) or 3 (the grey level repeated).
"""

from __future__ import annotations

import importlib.util
import io
import zipfile
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import Field

from gensci.data.base import DataSplits
from gensci.data.images import SPLITS, ImageDataConfig, image_spec, image_splits, load_cached
from gensci.spec import DataSpec
from gensci.data.base import default_cache_dir
from gensci.errors import InputFileError, UserError

CLASS_NAMES = ["FRI", "FRII", "Compact", "Bent"]  # firstgalaxydata.FIRSTGalaxyData.get_class_dict
ARCHIVE = "galaxy_data_h5.zip"
_CACHE_VERSION = 1


class FirstGalaxyDataConfig(ImageDataConfig):
    """image_size: the 300x300 originals are area-averaged down to it."""

    name: Literal["first"] = "first"
    channels: Literal[1, 3] = Field(1, description="1 = grey as in the survey, 3 = grey repeated as RGB")
    crop: int = Field(150, ge=16, le=300, description="centre crop of the 300x300 originals before resizing (300: all)")


def archive_path() -> Path:
    """The bundled zip, found without importing firstgalaxydata (its __init__ imports torchvision)."""
    spec = importlib.util.find_spec("firstgalaxydata")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "the FIRST galaxy images come from the optional package firstgalaxydata (non-commercial licence): "
            "pip install --no-deps firstgalaxydata   (--no-deps: its metadata would pull torchvision)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / ARCHIVE
    if not path.exists():
        raise UserError(f"{path}: expected the archive {ARCHIVE} inside the firstgalaxydata package")
    return path


def read_archive(path: Path, image_size: int, crop: int = 300) -> dict[str, np.ndarray]:
    """{split}_x [N, 1, S, S] float32 in [0, 1] and {split}_y [N] int64, in the archive's key order."""
    import h5py

    with zipfile.ZipFile(path) as z:
        names = [n for n in z.namelist() if n.endswith(".h5")]
        if len(names) != 1:
            raise InputFileError(f"{path}: expected one .h5 file inside, found {names}")
        raw = z.read(names[0])  # a deflated member is not seekable cheaply: read it whole (~200 MB, ~1 s)
    images, labels, splits = [], [], []
    with h5py.File(io.BytesIO(raw), "r") as f:
        for key in f:
            try:
                images.append(f[key]["Img"][()])
                labels.append(int(f[key]["Label_literature"][()]))
                splits.append(f[key]["Split_literature"].asstr()[()])
            except KeyError as err:
                raise InputFileError(f"{path}:{names[0]}: record {key!r} lacks {err}") from None
    x = torch.from_numpy(np.stack(images)).float().unsqueeze(1) / 255
    top = (x.shape[-1] - crop) // 2
    x = x[..., top : top + crop, top : top + crop]
    x = torch.nn.functional.interpolate(x, size=(image_size, image_size), mode="area").numpy()
    y, splits = np.asarray(labels, np.int64), np.asarray(splits)
    out = {}
    for split in SPLITS:
        sel = splits == split
        out[f"{split}_x"], out[f"{split}_y"] = x[sel], y[sel]
    return out


class FirstGalaxyData:
    """2,158 FIRST radio galaxies (FRI, FRII, Compact, Bent) with their literature splits."""

    Config: ClassVar[type[FirstGalaxyDataConfig]] = FirstGalaxyDataConfig

    @classmethod
    def spec(cls, config: FirstGalaxyDataConfig) -> DataSpec:
        return image_spec(config.channels, config.image_size)

    @classmethod
    def load(cls, config: FirstGalaxyDataConfig) -> DataSplits:
        path = archive_path()
        name = f"first_{config.image_size}px_crop{config.crop}_v{_CACHE_VERSION}.npz"
        arrays = load_cached(default_cache_dir() / "first" / name, lambda: read_archive(path, config.image_size, config.crop))
        if config.channels == 3:
            arrays = {k: np.repeat(v, 3, axis=1) if k.endswith("_x") else v for k, v in arrays.items()}
        info = {
            "channels": config.channels,
            "image_size": config.image_size,
            "n_classes": len(CLASS_NAMES),
            "class_names": list(CLASS_NAMES),
            "orientation_free": True,  # sky images: a flipped or turned galaxy keeps its class
            "dataset": "first",
        }
        return image_splits(arrays, info, config.held_out_classes)
