"""EDM's bonds from interatomic distances and its valence check (the "distance" stability protocol).

EDM = Hoogeboom, Satorras, Vignac, Welling, "Equivariant Diffusion for Molecule Generation in 3D",
ICML 2022; code github.com/ehoogeboom/e3_diffusion_for_molecules (commit d28fd52), cited by file:
- bonds: qm9/bond_analyze.py `get_bond_order`: a pair at distance d (pm) is bonded when
  d < bonds1 + margin1; double when also d < bonds2 + margin2; triple when also d < bonds3 + margin3.
- stability: qm9/analyze.py `check_stability`: an atom is stable when the sum of its bond orders is
  an allowed valence (`allowed_bonds` in qm9/bond_analyze.py: no formal charges); a molecule when all
  its atoms are.
The lookups here are symmetric in the two elements (EDM sorts the pair before looking it up).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from gensci.chem.valences import ValenceTable

# Bond lengths in pm, qm9/bond_analyze.py (from wiredchemist.com and chemistry-reference.com tables).
BONDS1 = {
    "H": {"H": 74, "C": 109, "N": 101, "O": 96, "F": 92, "B": 119, "Si": 148, "P": 144, "As": 152, "S": 134,
          "Cl": 127, "Br": 141, "I": 161},
    "C": {"C": 154, "N": 147, "O": 143, "F": 135, "Si": 185, "P": 184, "S": 182, "Cl": 177, "Br": 194, "I": 214},
    "N": {"N": 145, "O": 140, "F": 136, "Cl": 175, "Br": 214, "S": 168, "I": 222, "P": 177},
    "O": {"O": 148, "F": 142, "Br": 172, "S": 151, "P": 163, "Si": 163, "Cl": 164, "I": 194},
    "F": {"F": 142, "S": 158, "Si": 160, "Cl": 166, "Br": 178, "P": 156, "I": 187},
    "B": {"Cl": 175},
    "Si": {"Si": 233, "S": 200, "Cl": 202, "Br": 215, "I": 243},
    "Cl": {"Cl": 199, "P": 203, "S": 207, "Br": 214},
    "S": {"S": 204, "Br": 225, "P": 210, "I": 234},
    "Br": {"Br": 228, "P": 222},
    "P": {"P": 221},
    "I": {"I": 266},
}
# The EDM table lists C=S only under "C"; the lookup here is symmetric (as check_consistency intends).
BONDS2 = {"C": {"C": 134, "N": 129, "O": 120, "S": 160}, "N": {"N": 125, "O": 121}, "O": {"O": 121, "P": 150},
          "P": {"S": 186}}
BONDS3 = {"C": {"C": 120, "N": 116, "O": 113}, "N": {"N": 110}}
MARGINS_PM = (10, 5, 3)  # margin1, margin2, margin3: "tuned to maximize the stability of the QM9 true samples"
# qm9/bond_analyze.py `allowed_bonds`, verbatim (element -> valence | [valences]; no formal charges).
EDM_ALLOWED_VALENCES = {"H": 1, "C": 4, "N": 3, "O": 2, "F": 1, "B": 3, "Al": 3, "Si": 4, "P": [3, 5], "S": 4,
                        "Cl": 1, "As": 3, "Br": 1, "I": 1, "Hg": [1, 2], "Bi": [3, 5]}
EDM_TABLE = ValenceTable(EDM_ALLOWED_VALENCES)
ELEMENTS = EDM_TABLE.elements  # index len(ELEMENTS) = unknown element or padding: never bonded, never stable


def _threshold_table(bonds: dict, margin: float) -> np.ndarray:
    t = np.full((len(ELEMENTS) + 1,) * 2, -np.inf)
    for a, row in bonds.items():
        for b, length in row.items():
            i, j = ELEMENTS.index(a), ELEMENTS.index(b)
            t[i, j] = t[j, i] = length + margin
    return t


THRESHOLDS_PM = np.stack([_threshold_table(b, m) for b, m in zip((BONDS1, BONDS2, BONDS3), MARGINS_PM)])


def type_indices(atom_types: Sequence[str]) -> np.ndarray:
    """Element symbols -> indices into ELEMENTS (unknown symbols -> len(ELEMENTS), never bonded)."""
    return EDM_TABLE.element_indices(atom_types)


def bond_orders_batch(positions: np.ndarray, types: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bond orders and distances of a padded batch: positions [B, N, 3] Angstrom, types [B, N]
    (indices from type_indices; padding = len(ELEMENTS)) -> (orders [B, N, N] int8, dist [B, N, N] Angstrom)."""
    dist = np.sqrt(((positions[:, :, None, :] - positions[:, None, :, :]) ** 2).sum(-1))
    d_pm = 100.0 * dist  # get_bond_order: "distance = 100 * distance"
    t = THRESHOLDS_PM[:, types[:, :, None], types[:, None, :]]  # [3, B, N, N]
    single = d_pm < t[0]
    double = single & (d_pm < t[1])
    triple = double & (d_pm < t[2])
    orders = single.astype(np.int8) + double + triple
    idx = np.arange(positions.shape[1])
    orders[:, idx, idx] = 0
    return orders, dist


def distance_stable_batch(orders: np.ndarray, types: np.ndarray) -> np.ndarray:
    """[B, N] bool: EDM's check, the atom's summed bond order is an allowed valence (False on padding).
    orders: [B, N, N] from bond_orders_batch; types: [B, N] indices from type_indices."""
    return EDM_TABLE.is_allowed(types, np.zeros_like(types), orders.sum(-1, dtype=np.int64))


def infer_bonds(positions, atom_types: Sequence[str]) -> np.ndarray:
    """Bond orders [N, N] int64 (0 none, 1, 2, 3) from distances, as EDM's get_bond_order; positions [N, 3] Angstrom."""
    pos = checked_positions(positions, len(atom_types))
    orders, _ = bond_orders_batch(pos[None], type_indices(atom_types)[None])
    return orders[0].astype(np.int64)


def check_stability(positions, atom_types: Sequence[str]) -> tuple[bool, int, int]:
    """(molecule_stable, n_stable_atoms, n_atoms) as EDM's qm9/analyze.py check_stability."""
    types = type_indices(atom_types)[None]
    orders, _ = bond_orders_batch(checked_positions(positions, len(atom_types))[None], types)
    n_stable = int(distance_stable_batch(orders, types).sum())
    return n_stable == len(atom_types), n_stable, len(atom_types)


def checked_positions(positions, n: int, where: str = "") -> np.ndarray:
    """positions as float64 [n, 3], or ValueError (wrong shape, NaN or inf) prefixed with `where`."""
    pos = np.asarray(positions, dtype=np.float64)
    if pos.shape != (n, 3):
        raise ValueError(f"{where}expected positions of shape ({n}, 3), got {pos.shape}")
    if not np.isfinite(pos).all():
        raise ValueError(f"{where}positions contain NaN or inf")
    return pos
