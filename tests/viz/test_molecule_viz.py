"""Molecule pictures: bonds drawn as inferred (double/triple as parallel lines), grids, 2D depictions, GIFs."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from gensci.chem.molecule import Molecule  # noqa: E402
from gensci.viz import molecules as V  # noqa: E402

ETHYNE = (np.array([[-0.6015, 0, 0], [0.6015, 0, 0], [1.6645, 0, 0], [-1.6645, 0, 0]]), ["C", "C", "H", "H"])
C, H, A = 1.339 / 2, 1.086 * np.cos(np.radians(58.9)), 1.086 * np.sin(np.radians(58.9))
ETHENE = (np.array([[-C, 0, 0], [C, 0, 0], [C + H, A, 0], [C + H, -A, 0], [-C - H, A, 0], [-C - H, -A, 0]]),
          ["C", "C", "H", "H", "H", "H"])
WATER = (np.array([[0.0, 0.0, 0.0], [0.7575, 0.5865, 0.0], [-0.7575, 0.5865, 0.0]]), ["O", "H", "H"])


@pytest.mark.parametrize("molecule, n_lines", [(ETHENE, 4 + 2), (ETHYNE, 2 + 3), (WATER, 2)])
def test_3d_view_draws_one_line_per_bond_order(molecule, n_lines):
    fig = plt.figure()
    ax = fig.add_subplot(projection="3d")
    V.plot_molecule_3d(ax, *molecule)
    assert len(ax.lines) == n_lines
    fig.canvas.draw()
    (balls,) = ax.collections
    colours = balls.get_facecolors()
    drawn = sorted(tuple(np.round(c[:3], 3)) for c in colours)  # drawn depth-sorted: compare as multisets
    want = sorted(tuple(np.round(matplotlib.colors.to_rgb(V.CPK_COLOURS[t]), 3)) for t in molecule[1])
    assert drawn == want
    plt.close(fig)


def test_3d_view_uses_given_bonds_and_needs_3d_axes():
    fig = plt.figure()
    ax = fig.add_subplot(projection="3d")
    V.plot_molecule_3d(ax, *WATER, bonds=np.zeros((3, 3), dtype=int))
    assert len(ax.lines) == 0
    with pytest.raises(ValueError, match="3D axes"):
        V.plot_molecule_3d(fig.add_subplot(2, 2, 4), *WATER)
    plt.close(fig)


def test_draw_2d_valid_and_invalid():
    img = V.draw_2d(ETHENE, size=(200, 150))
    assert isinstance(img, Image.Image) and img.size == (200, 150)
    assert np.asarray(img.convert("L")).min() < 100  # something was drawn
    pentavalent = (np.array([[0, 0, 0], [1.0, 0, 0], [-1.0, 0, 0], [0, 1.0, 0], [0, -1.0, 0], [0, 0, 1.0]]),
                   ["C", "H", "H", "H", "H", "H"])
    assert V.draw_2d(pentavalent).size == (300, 300)


@pytest.mark.parametrize("mode", ["3d", "2d"])
def test_grid_png(tmp_path, mode):
    path = V.molecule_grid([ETHENE, ETHYNE, WATER], tmp_path / f"grid_{mode}.png", ncols=2,
                           titles=["ethene", "ethyne", "water"], mode=mode, panel=2.0)
    with Image.open(path) as img:
        assert img.size == (2 * 2 * 120, 2 * 2 * 120)  # 2 x 2 panels of 2 inches at 120 dpi
    with pytest.raises(ValueError, match="titles"):
        V.molecule_grid([WATER], tmp_path / "x.png", titles=["a", "b"])


def test_gifs(tmp_path):
    path = V.write_gif([np.full((8, 8, 3), k * 40, dtype=np.uint8) for k in range(4)], tmp_path / "a.gif", fps=5)
    with Image.open(path) as img:
        assert img.n_frames == 4
    chain = [(WATER[0] * s, WATER[1]) for s in (3.0, 2.0, 1.0)]
    with Image.open(V.chain_gif(chain, tmp_path / "chain.gif", fps=10, hold_last=2)) as img:
        assert img.n_frames == 3  # PIL merges the held copies of the last frame into one longer frame
        img.seek(2)
        assert img.info["duration"] == 3 * 100


def _graph(smiles):
    from rdkit import Chem

    from gensci.chem.rdmol import graph_from_mol

    mol = Chem.MolFromSmiles(smiles)
    Chem.Kekulize(mol, clearAromaticFlags=True)
    symbols, bonds, charges = graph_from_mol(mol)
    return Molecule(None, symbols, smiles, bonds, charges)


def test_own_bonds_are_drawn_and_graphs_are_drawn_in_2d(tmp_path):
    fig = plt.figure()
    ax = fig.add_subplot(projection="3d")
    triple = np.zeros((4, 4), int)
    triple[0, 1] = triple[1, 0] = 1  # the model says single, the geometry says triple
    V.plot_molecule_3d(ax, *ETHYNE, bonds=triple)
    assert len(ax.lines) == 1
    plt.close(fig)
    graphs = [_graph("[NH3+]CC([O-])=O"), _graph("c1ccccc1")]
    path = V.molecule_grid(graphs, tmp_path / "graphs.png", ncols=2, mode="2d")
    assert path.exists()
    with pytest.raises(ValueError, match="only be drawn in 2D"):
        V.molecule_grid(graphs, tmp_path / "x.png", mode="3d")
    assert V.draw_2d(graphs[0]).size == (300, 300)


def test_chain_pictures_3d_and_2d(tmp_path):
    frames = [Molecule(WATER[0] * s, WATER[1]) for s in (3.0, 2.0, 1.0)]
    strip, gif = V.chain_pictures(frames, [1.0, 0.5, 0.0], tmp_path / "chain3d", "stable")
    assert strip.suffix == ".png" and gif.suffix == ".gif"
    graphs = [_graph("CC"), _graph("CC=O"), _graph("CC(=O)O")]
    strip, gif = V.chain_pictures(graphs, [1.0, 0.5, 0.0], tmp_path / "chain2d")
    with Image.open(gif) as img:
        assert img.n_frames == 3
