"""Drawings of SMILES molecules (RDKit 2D depictions) in a row or grid, saved through save_figure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rdkit.Chem import Draw

from gensci.chem.properties import mol_from_smiles
from gensci.viz.figures import plt, save_figure


def draw_smiles_grid(smiles: list[str], path: str | Path, legends: list[str] | None = None, per_row: int = 8,
                     title: str = "", size: int = 200) -> Path:
    """One RDKit depiction per SMILES (an empty cell labelled "invalid" for a string RDKit cannot read)."""
    mols = [mol_from_smiles(s) for s in smiles]
    labels = legends or [s if m is not None else f"invalid: {s[:20]}" for s, m in zip(smiles, mols)]
    per_row = max(1, min(per_row, len(mols)))
    image = Draw.MolsToGridImage([m if m is not None else mol_from_smiles("*") for m in mols], molsPerRow=per_row,
                                 subImgSize=(size, size), legends=labels)
    pixels = np.asarray(image)
    rows = -(-len(mols) // per_row)
    fig, ax = plt.subplots(figsize=(per_row * size / 100, rows * size / 100 + (0.4 if title else 0)))
    ax.imshow(pixels)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9)
    return save_figure(fig, path)
