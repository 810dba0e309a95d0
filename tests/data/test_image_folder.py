"""The user's image folders: PNG/JPEG/FITS in class subfolders, corrupt files skipped and named."""

import warnings

import numpy as np
import pytest

from gensci.errors import InputFileError
import torch
from astropy.io import fits
from PIL import Image

from gensci.config import validate
from gensci.data.images import ImageFolderData, ImageFolderDataConfig, read_image, stratified_splits
from gensci.registry import DATASETS


def _png(path, value, size=(40, 30), mode="RGB"):
    arr = np.full((size[1], size[0], 3), value, np.uint8)
    arr[:, : size[0] // 2, 0] = 255  # left half red: survives the centre crop
    Image.fromarray(arr).convert(mode).save(path)


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "imgs"
    (root / "cats").mkdir(parents=True)
    (root / "dogs").mkdir()
    (root / ".hidden").mkdir()  # ignored
    for i in range(6):
        _png(root / "cats" / f"c{i}.png", 40 + i)
    for i in range(3):
        _png(root / "dogs" / f"d{i}.jpg", 200)
    _png(root / "dogs" / "grey.png", 120, mode="L")
    fits.PrimaryHDU(np.arange(64, dtype=np.float32).reshape(8, 8)).writeto(root / "dogs" / "sky.fits")
    (root / "dogs" / "broken.png").write_bytes(b"not a png at all")
    nan = np.ones((8, 8), np.float32)
    nan[0, 0] = np.nan
    fits.PrimaryHDU(nan).writeto(root / "dogs" / "blank.fits")
    (root / "dogs" / "notes.txt").write_text("ignored: not an image suffix")
    return root


def test_folder_loads_skips_and_names_corrupt_files(folder):
    assert DATASETS.get("images") is ImageFolderData and ImageFolderData.spec(ImageFolderData.Config(path="x")).domain == "images"
    config = ImageFolderDataConfig(path=str(folder), image_size=16, valid_fraction=0.2, test_fraction=0.2)
    with pytest.warns(UserWarning, match="skipped 2 unreadable") as record:
        data = ImageFolderData.load(config)
    message = str(record[0].message)
    assert "broken.png" in message and "blank.fits" in message and "NaN" in message
    assert data.info["class_names"] == ["cats", "dogs"] and data.info["n_skipped"] == 2
    assert data.info["orientation_free"] is False  # cats and dogs have an up; sky images set it true
    assert len(data.train) + len(data.valid) + len(data.test) == 11  # 6 cats + 3 jpg + grey png + fits
    assert (len(data.valid), len(data.test)) == (2, 2)  # round(0.2 * 6) + round(0.2 * 5) each
    x = data.train.tensors["x"]
    assert x.shape[1:] == (3, 16, 16) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    assert data.train[0]["label"].dtype == torch.int64


def test_grey_channels_and_fits_scaling(folder):
    grey = read_image(folder / "cats" / "c0.png", 16, 1)
    assert grey.shape == (1, 16, 16)
    rgb = read_image(folder / "cats" / "c0.png", 16, 3)
    assert rgb[0, :, :4].mean() > 0.95 and rgb[0, :, -4:].mean() < 0.3  # centre-cropped, not squashed
    sky = read_image(folder / "dogs" / "sky.fits", 16, 3)
    assert sky.shape == (3, 16, 16) and sky.min() >= 0 and sky.max() <= 1
    assert sky[0, -1].mean() > sky[0, 0].mean()  # the ramp survives (rows increase downwards)


def test_empty_or_flat_folders_name_the_path(tmp_path):
    with pytest.raises(ValueError, match=str(tmp_path)):
        ImageFolderData.load(ImageFolderDataConfig(path=str(tmp_path)))
    _png(tmp_path / "loose.png", 10)
    with pytest.raises(ValueError, match="no class subfolders"):
        ImageFolderData.load(ImageFolderDataConfig(path=str(tmp_path)))
    (tmp_path / "empty").mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="no readable images"):
            ImageFolderData.load(ImageFolderDataConfig(path=str(tmp_path)))
    with pytest.raises(InputFileError, match="nowhere"):
        ImageFolderData.load(ImageFolderDataConfig(path=str(tmp_path / "nowhere")))


def test_splits_are_stratified_and_seeded():
    y = np.repeat([0, 1, 2], [10, 20, 30])
    a, b, c = (stratified_splits(y, 0.1, 0.2, seed) for seed in (0, 0, 1))
    assert all(np.array_equal(a[s], b[s]) for s in a) and not np.array_equal(a["test"], c["test"])
    assert np.bincount(y[a["test"]]).tolist() == [2, 4, 6] and np.bincount(y[a["valid"]]).tolist() == [1, 2, 3]
    assert len(np.unique(np.concatenate(list(a.values())))) == 60


def test_config_through_the_registry(folder):
    cfg = validate({"data": {"name": "images", "path": str(folder), "channels": 1}, "method": {"name": "vae"}})
    assert isinstance(cfg.data, ImageFolderDataConfig) and cfg.data.channels == 1
    with pytest.raises(Exception, match="channels"):
        validate({"data": {"name": "images", "path": str(folder), "channels": 2}, "method": {"name": "vae"}})
