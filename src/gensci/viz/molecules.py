"""Pictures of molecules: 3D ball-and-stick (matplotlib), RDKit 2D depictions, grids, GIFs.

Atoms are coloured with the CPK/Jmol convention; bonds are the molecule's own (a model that predicts
bonds, an SDF file) or else the orders inferred from the geometry with EDM's rules
(gensci.chem.distance_bonds), double and triple bonds drawn as parallel lines. Molecules without
positions (2D graphs) are drawn as RDKit depictions.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
from PIL import Image

from gensci.chem.molecule import Molecule, as_molecule
from gensci.viz.figures import plt, save_figure
from gensci.files import atomic_write

# Jmol CPK colours (jmol.sourceforge.net/jscolors); hydrogen light grey so it shows on white.
CPK_COLOURS = {
    "H": "#E8E8E8", "C": "#909090", "N": "#3050F8", "O": "#FF0D0D", "F": "#90E050", "Cl": "#1FF01F",
    "Br": "#A62929", "I": "#940094", "S": "#FFFF30", "P": "#FF8000", "B": "#FFB5B5", "Si": "#F0C8A0",
}
OTHER_COLOUR = "#FF1493"
# Covalent radii in Angstrom (Cordero et al., Dalton Trans. 2008), for the ball sizes.
COVALENT_RADII = {"H": 0.31, "C": 0.76, "N": 0.71, "O": 0.66, "F": 0.57, "Cl": 1.02, "Br": 1.20, "I": 1.39,
                  "S": 1.05, "P": 1.07, "B": 0.84, "Si": 1.11}
_BOND_GAP = 0.13  # Angstrom between the lines of a double/triple bond


def plot_molecule_3d(ax, positions, atom_types, bonds=None, title: str | None = None,
                     atom_scale: float = 1.0, limits: float | None = None) -> None:
    """Ball-and-stick view on a 3D axes (`fig.add_subplot(projection="3d")`).

    positions: [N, 3] Angstrom; atom_types: N symbols; bonds: [N, N] orders (None: inferred).
    limits: half-width of the box in Angstrom (fixed across frames of an animation); default fits the molecule.
    """
    if not hasattr(ax, "zaxis"):
        raise ValueError("plot_molecule_3d needs a 3D axes: fig.add_subplot(projection='3d')")
    m = Molecule(positions, atom_types, bonds=bonds)
    pos, types, bonds = m.positions, m.atom_types, m.bonds_or_inferred()
    centre = pos.mean(0)
    elev, azim = math.radians(ax.elev), math.radians(ax.azim)
    view = np.array([math.cos(elev) * math.cos(azim), math.cos(elev) * math.sin(azim), math.sin(elev)])
    for i, j in zip(*np.nonzero(np.triu(bonds, 1))):
        a, b = pos[i], pos[j]
        side = np.cross(b - a, view)
        side = side / (np.linalg.norm(side) or 1.0)
        n_lines = min(int(bonds[i, j]), 3)
        for k in range(n_lines):
            shift = (k - (n_lines - 1) / 2) * _BOND_GAP * side
            seg = np.stack([a + shift, b + shift])
            ax.plot(seg[:, 0], seg[:, 1], seg[:, 2], color="#404040", lw=1.6, solid_capstyle="round", zorder=1)
    half = limits or max(float(np.abs(pos - centre).max()) + 0.4, 1.2)
    for setter, c in zip((ax.set_xlim, ax.set_ylim, ax.set_zlim), centre if limits is None else np.zeros(3)):
        setter(c - half, c + half)
    ax.set_box_aspect((1, 1, 1), zoom=1.35)
    # marker sizes are in points^2: scale balls (radius 0.5 x covalent radius) to the axes' Angstrom scale
    width_pt = ax.get_position().width * ax.figure.get_figwidth() * 72
    pt_per_angstrom = 1.35 * width_pt / (2 * half * math.sqrt(3))
    sizes = [(atom_scale * COVALENT_RADII.get(t, 0.8) * pt_per_angstrom) ** 2 for t in types]
    colours = [CPK_COLOURS.get(t, OTHER_COLOUR) for t in types]
    ax.scatter(pos[:, 0], pos[:, 1], pos[:, 2], s=sizes, c=colours, edgecolors="#202020", linewidths=0.6,
               depthshade=False, alpha=1.0, zorder=2)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)


def draw_2d(molecule, size: tuple[int, int] = (300, 300), remove_hs: bool = True) -> Image.Image:
    """RDKit 2D depiction as a PIL image; molecule: an RDKit Mol, or a Molecule / (positions, atom types)
    pair, drawn with its own bonds and charges, else the bonds inferred from its geometry.

    Molecules that fail RDKit's sanitization are drawn as built (no aromaticity perception)."""
    from rdkit import Chem
    from rdkit.Chem import Draw, rdDepictor
    from rdkit.Chem.Draw import rdMolDraw2D

    from gensci.chem.rdmol import molecule_to_rdkit

    if not hasattr(rdMolDraw2D, "MolDraw2DCairo"):
        raise RuntimeError("this RDKit build has no Cairo support, so it cannot draw PNG images")
    if isinstance(molecule, Chem.Mol):
        mol = Chem.Mol(molecule)
    else:
        mol = molecule_to_rdkit(as_molecule(molecule))
    try:
        Chem.SanitizeMol(mol)
        sanitized = True
    except ValueError:
        mol.UpdatePropertyCache(strict=False)
        sanitized = False
    if remove_hs:
        mol = Chem.RemoveHs(mol, sanitize=False)
    mol.RemoveAllConformers()
    rdDepictor.Compute2DCoords(mol)
    return Draw.MolToImage(mol, size=size, kekulize=sanitized)


def molecule_grid(molecules, path, ncols: int = 4, titles=None, mode: str = "3d", panel: float = 2.6) -> Path:
    """Several molecules in one PNG: `mode` "3d" (ball-and-stick, own bonds else inferred) or "2d" (RDKit
    depiction). Molecules without positions can only be drawn in 2D."""
    if mode not in ("3d", "2d"):
        raise ValueError(f"mode must be '3d' or '2d', got {mode!r}")
    mols = [as_molecule(m, k) for k, m in enumerate(molecules)]
    if not mols:
        raise ValueError("no molecules to draw")
    if mode == "3d" and any(m.positions is None for m in mols):
        raise ValueError("molecules without positions can only be drawn in 2D (mode='2d')")
    titles = list(titles) if titles is not None else [None] * len(mols)
    if len(titles) != len(mols):
        raise ValueError(f"got {len(titles)} titles for {len(mols)} molecules")
    ncols = max(1, min(ncols, len(mols)))
    nrows = math.ceil(len(mols) / ncols)
    fig = plt.figure(figsize=(panel * ncols, panel * nrows))
    for k, (m, title) in enumerate(zip(mols, titles)):
        if mode == "3d":
            ax = fig.add_subplot(nrows, ncols, k + 1, projection="3d")
            plot_molecule_3d(ax, m.positions, m.atom_types, m.bonds, title=title)
        else:
            ax = fig.add_subplot(nrows, ncols, k + 1)
            ax.imshow(draw_2d(m, size=(300, 300)))
            ax.set_axis_off()
            if title:
                ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=120, tight=False)


def chain_gif(frames, path, titles=None, fps: int = 10, hold_last: int = 10) -> Path:
    """Animate a trajectory (e.g. a denoising chain), one picture per frame, the last held `hold_last` extra
    frames. frames: Molecules (each with its own atom types and bonds, if any) or (positions, atom types)
    pairs; with positions a 3D view in a box fixed over the whole trajectory, without an RDKit depiction."""
    frames = [as_molecule(f, k) for k, f in enumerate(frames)]
    if not frames:
        raise ValueError("no frames to draw")
    titles = list(titles) if titles is not None else [None] * len(frames)
    three_d = all(f.positions is not None for f in frames)
    if three_d:
        half = max(float(np.abs(f.positions - f.positions.mean(0)).max()) for f in frames) + 0.6
    images = []
    for frame, title in zip(frames, titles):
        fig = plt.figure(figsize=(3, 3))
        if three_d:
            ax = fig.add_subplot(projection="3d")
            plot_molecule_3d(ax, frame.positions - frame.positions.mean(0), frame.atom_types, frame.bonds,
                             title=title, limits=half)
        else:
            ax = fig.add_subplot()
            ax.imshow(draw_2d(frame, size=(300, 300)))
            ax.set_axis_off()
            if title:
                ax.set_title(title, fontsize=9)
        images.append(figure_to_image(fig))
    return write_gif(images + images[-1:] * hold_last, path, fps)


def chain_pictures(frames, times, base: Path, note: str = "") -> list[Path]:
    """A strip of 10 frames (PNG) and the whole trajectory as a GIF (base.png, base.gif), each frame titled
    with its time t, as the reference's visualize_chain. frames: Molecules (3D, or 2D graphs)."""
    frames = [as_molecule(f, k) for k, f in enumerate(frames)]
    mode = "3d" if all(f.positions is not None for f in frames) else "2d"
    pick = np.linspace(0, len(frames) - 1, min(10, len(frames))).round().astype(int)
    title = [f"t = {times[i]:.2f}" for i in pick]
    if note:
        title[-1] += f" ({note})"
    strip = molecule_grid([frames[i] for i in pick], Path(base).with_suffix(".png"), ncols=len(pick), titles=title,
                          mode=mode)
    gif = chain_gif(frames, Path(base).with_suffix(".gif"), [f"t = {t:.2f}" for t in times])
    return [strip, gif]


def write_gif(frames, path, fps: int = 10) -> Path:
    """Write PIL images or uint8 arrays [H, W, 3|4] as a looping GIF."""
    images = [f if isinstance(f, Image.Image) else Image.fromarray(np.asarray(f, dtype=np.uint8)) for f in frames]
    if not images:
        raise ValueError("no frames to write")
    images = [im.convert("RGB") for im in images]
    return atomic_write(path, lambda tmp: images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                                                         duration=max(1, round(1000 / fps)), loop=0))


def figure_to_image(fig, dpi: int = 100) -> Image.Image:
    """Render a matplotlib figure to a PIL image and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    plt.close(fig)
    buf.seek(0)
    return Image.open(buf).convert("RGB")
