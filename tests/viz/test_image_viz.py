"""Image figures: grids, per-class grids, strips, GIFs, power spectra and pixel histograms."""

import numpy as np
import pytest
import torch
from PIL import Image

from gensci.viz import images as V


@pytest.fixture
def imgs():
    g = torch.Generator().manual_seed(0)
    return torch.rand(10, 3, 16, 16, generator=g)


def test_grids_and_strip_are_pngs(imgs, tmp_path):
    grid = V.image_grid(imgs, tmp_path / "grid.png", nrow=5, titles=[f"#{i}" for i in range(10)], title="t")
    per_class = V.grid_per_class(imgs, torch.arange(10) % 3, ["a", "b", "c"], tmp_path / "sub" / "pc.png", per_class=4)
    line = V.strip(imgs[:6].numpy(), tmp_path / "strip.png")
    grey = V.image_grid(imgs[:, :1], tmp_path / "grey.png")
    for p in (grid, per_class, line, grey):
        with Image.open(p) as im:
            assert im.format == "PNG" and min(im.size) > 16
    with Image.open(line) as im:
        assert im.size[0] > 3 * im.size[1]  # one row


def test_tiles_are_placed_where_expected():
    x = np.zeros((3, 4, 4, 3), np.float32)
    x[1] = 1.0
    canvas = V._tile(x, 2)
    pad = V._PAD
    assert canvas.shape == (2 * (4 + pad) + pad, 2 * (4 + pad) + pad, 3)
    assert canvas[pad : pad + 4, pad : pad + 4].max() == 0  # image 0 top left
    assert canvas[pad : pad + 4, 2 * pad + 4 : 2 * pad + 8].min() == 1  # image 1 top right


def test_gif_has_the_frames(imgs, tmp_path):
    path = V.write_gif(imgs[:5], tmp_path / "movie.gif", fps=5, bounce=False)
    with Image.open(path) as im:
        assert im.n_frames == 5 and im.size[0] >= 192
    with Image.open(V.write_gif(imgs[:5], tmp_path / "loop.gif")) as im:
        assert im.n_frames == 8  # forward and back


def test_spectra_and_histograms(imgs, tmp_path):
    blurred = torch.nn.functional.avg_pool2d(imgs, 3, 1, 1)
    for p in (V.plot_power_spectra(imgs, {"blurred": blurred, "same": imgs}, tmp_path / "ps.png"),
              V.plot_pixel_hist(imgs, blurred, tmp_path / "ph.png")):
        assert p.exists() and p.stat().st_size > 1000


def test_bad_shapes_raise(tmp_path):
    with pytest.raises(ValueError, match="C = 1 or 3"):
        V.image_grid(np.zeros((2, 2, 8, 8)), tmp_path / "x.png")
