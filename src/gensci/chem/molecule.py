"""The one molecule type that data, metrics, viz and workflows share, and the conversions into it.

A `Molecule` holds element symbols and, when known, 3D positions, formal charges and bonds:
- a 3D molecule from EDM or an XYZ file: positions, no bonds (EDM's protocol infers them from distances);
- a model or an SDF file with its own bonds: positions, bonds, formal charges;
- a 2D graph (e.g. DiGress samples): bonds and formal charges, no positions.
Bond codes: 0 none, 1 single, 2 double, 3 triple, 4 aromatic (gensci.chem.BOND_CODES).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from gensci.chem.distance_bonds import checked_positions, infer_bonds


@dataclass
class Molecule:
    """positions [N, 3] Angstrom or None (a 2D graph); atom_types N element symbols; name; bonds [N, N] int
    codes 0-4 or None (not known); formal_charges [N] int or None (not known: treated as neutral).

    The arrays are checked on construction (shapes, finite positions, bond codes): a ValueError says what
    is wrong."""

    positions: np.ndarray | None
    atom_types: list[str]
    name: str = ""
    bonds: np.ndarray | None = None
    formal_charges: np.ndarray | None = None

    def __post_init__(self):
        self.atom_types = [str(t) for t in self.atom_types]
        n = len(self.atom_types)
        if self.positions is not None:
            self.positions = checked_positions(self.positions, n)
        if self.bonds is not None:
            self.bonds = np.asarray(self.bonds).astype(np.int64)
            if self.bonds.shape != (n, n):
                raise ValueError(f"expected bonds of shape ({n}, {n}), got {self.bonds.shape}")
            if self.bonds.size and (self.bonds.min() < 0 or self.bonds.max() > 4):
                raise ValueError("bond codes must lie in 0..4 (none, single, double, triple, aromatic)")
        if self.formal_charges is not None:
            self.formal_charges = np.asarray(self.formal_charges).astype(np.int64)
            if self.formal_charges.shape != (n,):
                raise ValueError(f"expected formal charges of shape ({n},), got {self.formal_charges.shape}")

    @property
    def n_atoms(self) -> int:
        return len(self.atom_types)

    @property
    def charges_or_neutral(self) -> np.ndarray:
        return np.zeros(self.n_atoms, np.int64) if self.formal_charges is None else self.formal_charges

    def bonds_or_inferred(self) -> np.ndarray:
        """The molecule's own bonds, else those EDM's distance rule gives (needs positions)."""
        if self.bonds is not None:
            return self.bonds
        if self.positions is None:
            raise ValueError(f"molecule {self.name!r} has neither bonds nor positions to infer them from")
        return infer_bonds(self.positions, self.atom_types)


def as_molecule(m, k: int | None = None) -> Molecule:
    """A Molecule from a Molecule, a (positions [N, 3], atom_types) pair, or an object with .positions
    and .atom_types (and optionally .bonds, .formal_charges, .name). k: its index, for error messages."""
    if isinstance(m, Molecule):
        return m
    where = "" if k is None else f"molecule {k}: "
    try:
        if hasattr(m, "atom_types"):
            return Molecule(m.positions, m.atom_types, getattr(m, "name", ""), getattr(m, "bonds", None),
                            getattr(m, "formal_charges", None))
        positions, atom_types = m
        return Molecule(positions, atom_types)
    except ValueError as err:
        raise ValueError(f"{where}{err}") from None


def molecules_from_padded(samples: Mapping, elements: Sequence[str], name: str = "sample") -> list[Molecule]:
    """Padded samples -> Molecules (real atoms only, in order), named "<name> <b>".

    samples: atom_types [B, N] int (index into `elements`, any value on padding) and node_mask [B, N];
    optional positions [B, N, 3] Angstrom, formal_charges [B, N] int (charge values), bonds [B, N, N] int
    codes. Tensors (any device) or arrays."""
    arrays = {k: _numpy(v) for k, v in samples.items()
              if k in ("positions", "atom_types", "node_mask", "formal_charges", "bonds")}
    mask = arrays["node_mask"].astype(bool)
    out = []
    for b in range(len(mask)):
        idx = np.flatnonzero(mask[b])
        pos = arrays["positions"][b, idx].astype(np.float64) if "positions" in arrays else None
        bonds = arrays["bonds"][b][np.ix_(idx, idx)] if "bonds" in arrays else None
        charges = arrays["formal_charges"][b, idx] if "formal_charges" in arrays else None
        types = [elements[int(t)] for t in arrays["atom_types"][b, idx]]
        out.append(Molecule(pos, types, f"{name} {b}", bonds, charges))
    return out


def _numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)
