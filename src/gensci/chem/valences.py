"""The "predicted-bond" stability protocol: an atom is stable when the bond orders of its own (given or
predicted) bonds add up to a valence allowed for its element and formal charge.

Source: MiDi (Vignac, Osman, Toni, Frossard, "MiDi: Mixed Graph and 3D Denoising Diffusion for Molecule
Generation", ECML 2023), code github.com/cvignac/MiDi commit 775b731, midi/analysis/rdkit_functions.py:
`allowed_bonds` (copied below as MIDI_ALLOWED_VALENCES) and `check_stability`. The same table is used
verbatim by SemlaFlow (semlaflow/util/metrics.py `ALLOWED_VALENCIES`), EQGAT-diff and FlowMol.

`check_stability`, rule by rule, and what this module does:
- `edge_types[edge_types == 4] = 1.5`, `valencies = torch.sum(edge_types, dim=-1).long()`: an aromatic
  bond counts 1.5 and the summed valence is truncated to an integer (floor; sums are >= 0). Note: in
  MiDi's code `edge_types` is an integer tensor, so the assignment stores 1, not 1.5 (checked with
  torch: `t = torch.tensor([4]); t[t == 4] = 1.5` gives 1); SemlaFlow assigns 1.5 to a float
  adjacency. Kekulé bonds (MiDi's QM9 data, ours) are unaffected; `aromatic_order=1.0` reproduces
  MiDi's code bit for bit.
- an element whose entry is an int or a list ignores the formal charge (`'Cl': 1`);
- a dict entry is looked up by the formal charge, and a charge absent from it falls back to the neutral
  entry (`possible_bonds[charge] if charge in possible_bonds.keys() else possible_bonds[0]`); SemlaFlow
  instead calls such an atom unstable. We follow MiDi.
- MiDi raises KeyError for an element outside the table; here such an atom is unstable (as SemlaFlow).
- a molecule is stable when all its atoms are; atom stability is pooled over atoms (MiDi's
  `atom_stable.update(value=at_stable / num_bonds, weight=num_bonds)`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

# cvignac/MiDi@775b731 midi/analysis/rdkit_functions.py `allowed_bonds`, verbatim:
# element -> valence | [valences] | {formal charge: valence | [valences]}.
MIDI_ALLOWED_VALENCES = {
    "H": {0: 1, 1: 0, -1: 0},
    "C": {0: [3, 4], 1: 3, -1: 3},
    "N": {0: [2, 3], 1: [2, 3, 4], -1: 2},  # MiDi: "In QM9, N+ seems to be present in the form NH+ and NH2+"
    "O": {0: 2, 1: 3, -1: 1},
    "F": {0: 1, -1: 0},
    "B": 3, "Al": 3, "Si": 4,
    "P": {0: [3, 5], 1: 4},
    "S": {0: [2, 6], 1: [2, 3], 2: 4, 3: 5, -1: 3},
    "Cl": 1, "As": 3,
    "Br": {0: 1, 1: 2}, "I": 1, "Hg": [1, 2], "Bi": [3, 5], "Se": [2, 4, 6],
}
# Strict valences: an atom's bond orders must add up to its element's normal valence for its formal charge, so no
# hydrogen is implied (MiDi's table above accepts neutral C with 3 and N with 2, i.e. a missing H). The values are
# RDKit's default valences (Chem.GetPeriodicTable().GetValenceList) of the element that is isoelectronic with the
# charged atom (N+ like C, O+ like N, O- like F, N- like O, C+ like B, C- like N), RDKit's own rule for charged
# atoms. S and P keep their higher normal valences (sulfoxides, sulfones, phosphates), which imply no H either.
# A charge not listed is never allowed (no fallback to the neutral entry: `ValenceTable(..., fallback=False)`).
STRICT_VALENCES = {
    "H": {0: 1},
    "B": {0: 3, -1: 4},
    "C": {0: 4, 1: 3, -1: 3},
    "N": {0: 3, 1: 4, -1: 2},
    "O": {0: 2, 1: 3, -1: 1},
    "F": {0: 1},
    "Si": {0: 4},
    "P": {0: [3, 5], 1: 4},
    "S": {0: [2, 4, 6], 1: 3, -1: 1},
    "Cl": {0: 1}, "Br": {0: 1}, "I": {0: 1},
}
BOND_ORDERS = np.array([0.0, 1.0, 2.0, 3.0, 1.5])  # by bond code: none, single, double, triple, aromatic
MAX_CHARGE = 4  # charges are clipped to [-4, 4]: every key of the tables lies inside, so outside = neutral entry
MAX_VALENCE = 8  # valences are clipped to 8 + 1 = "too many" (nothing allows more than 6)


class ValenceTable:
    """Allowed valences keyed by element (and formal charge), as a lookup array.

    entries: element -> valence | [valences] | {formal charge: valence | [valences]} (the form of MiDi's
    `allowed_bonds`; EDM's `allowed_bonds` uses the first two forms only). An int or list ignores the
    charge; a dict falls back to its neutral entry for a charge it does not list (MiDi's rule), unless
    fallback=False (then that charge allows nothing: the strict table).
    """

    def __init__(self, entries: dict, fallback: bool = True):
        self.entries = entries
        self.elements = tuple(entries)
        # [element (+1 unknown), charge + MAX_CHARGE, valence (0..MAX_VALENCE + 1)] -> allowed
        self.allowed = np.zeros((len(self.elements) + 1, 2 * MAX_CHARGE + 1, MAX_VALENCE + 2), dtype=bool)
        for e, entry in enumerate(entries.values()):
            for c in range(-MAX_CHARGE, MAX_CHARGE + 1):
                allowed = entry.get(c, entry[0] if fallback else []) if isinstance(entry, dict) else entry
                self.allowed[e, c + MAX_CHARGE, np.atleast_1d(np.asarray(allowed, dtype=np.int64))] = True

    def element_indices(self, symbols: Sequence[str]) -> np.ndarray:
        """Indices into self.elements (unknown symbols -> len(self.elements): never allowed)."""
        lookup = {e: i for i, e in enumerate(self.elements)}
        return np.array([lookup.get(str(e), len(self.elements)) for e in symbols], dtype=np.int64)

    def is_allowed(self, element_index, formal_charges, valence) -> np.ndarray:
        """Whether each atom's (integer) valence is allowed for its element index and formal charge
        (arrays of one shape; charges clipped to [-MAX_CHARGE, MAX_CHARGE], valences to MAX_VALENCE + 1)."""
        charge = np.clip(np.asarray(formal_charges), -MAX_CHARGE, MAX_CHARGE) + MAX_CHARGE
        return self.allowed[element_index, charge, np.minimum(valence, MAX_VALENCE + 1)]


MIDI_TABLE = ValenceTable(MIDI_ALLOWED_VALENCES)
STRICT_TABLE = ValenceTable(STRICT_VALENCES, fallback=False)


def valences(bonds, aromatic_order: float = 1.5) -> np.ndarray:
    """Summed bond orders per atom, truncated to integers as MiDi's `.long()`.

    bonds: [..., N, N] bond codes 0-4 (4 = aromatic, counting `aromatic_order`) -> [..., N] int64.
    """
    bonds = np.asarray(bonds)
    if bonds.size and (bonds.min() < 0 or bonds.max() > 4):
        raise ValueError(f"bond codes must lie in 0..4 (none, single, double, triple, aromatic); got "
                         f"{int(bonds.min())}..{int(bonds.max())}")
    orders = BOND_ORDERS.copy()
    orders[4] = aromatic_order
    return np.floor(orders[bonds].sum(-1)).astype(np.int64)


def atom_stable_batch(atom_types, formal_charges, bonds, mask, elements: Sequence[str],
                      aromatic_order: float = 1.5, table: ValenceTable = MIDI_TABLE) -> tuple[np.ndarray, np.ndarray]:
    """Predicted-bond stability of a padded batch (MiDi's check_stability, vectorised; `table`: MiDi's allowed
    valences, or STRICT_TABLE for strict valences).

    atom_types: [B, N] int, index into `elements` (any value on padding);
    formal_charges: [B, N] int; bonds: [B, N, N] int bond codes 0-4 (rows/columns of padding ignored);
    mask: [B, N] real atoms; elements: the symbol of each atom-type index (e.g. info["atom_types"]).
    Returns (atom_stable [B, N] bool, False on padding; molecule_stable [B] bool, all real atoms stable).
    Array-likes (numpy, CPU torch tensors) are accepted.
    """
    mask = np.asarray(mask).astype(bool)
    types = np.where(mask, np.asarray(atom_types), 0)
    bonds = np.asarray(bonds) * (mask[:, :, None] & mask[:, None, :])
    table_index = table.element_indices(elements)[types]
    stable = table.is_allowed(table_index, formal_charges, valences(bonds, aromatic_order)) & mask
    return stable, (stable | ~mask).all(-1)


def molecule_stability(symbols: Sequence[str], formal_charges, bonds,
                       aromatic_order: float = 1.5) -> tuple[bool, int, int]:
    """(molecule stable, number of stable atoms, number of atoms) of one molecule, as MiDi's
    check_stability returns them. symbols: N element symbols; formal_charges: [N] int; bonds: [N, N] codes."""
    n = len(symbols)
    elements = list(dict.fromkeys(str(s) for s in symbols))
    types = np.array([elements.index(str(s)) for s in symbols], dtype=np.int64)[None]
    charges = np.zeros((1, n), dtype=np.int64) if formal_charges is None else np.asarray(formal_charges)[None]
    bonds = np.asarray(bonds)
    if bonds.shape != (n, n) or charges.shape != (1, n):
        raise ValueError(f"expected bonds [{n}, {n}] and formal charges [{n}] for {n} atoms; got "
                         f"{list(bonds.shape)} and {list(charges.shape[1:])}")
    atom, molecule = atom_stable_batch(types, charges, bonds[None], np.ones((1, n), bool), elements, aromatic_order)
    return bool(molecule[0]), int(atom.sum()), n
