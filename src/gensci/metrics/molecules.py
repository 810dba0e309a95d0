"""Stability, validity, uniqueness, novelty of 3D molecules, measured as EDM measures them.

EDM = Hoogeboom, Satorras, Vignac, Welling, "Equivariant Diffusion for Molecule Generation in 3D",
ICML 2022; code github.com/ehoogeboom/e3_diffusion_for_molecules (commit d28fd52), cited by file:
- bonds: qm9/bond_analyze.py `get_bond_order`: a pair (distance d in pm) is bonded when
  d < bonds1 + margin1; double when also d < bonds2 + margin2; triple when also d < bonds3 + margin3.
- stability: qm9/analyze.py `check_stability`: an atom is stable when the sum of its bond orders is
  an allowed valence (`allowed_bonds`); a molecule when all its atoms are. Atom stability is pooled
  over all atoms of all molecules.
- validity / uniqueness / novelty: qm9/rdkit_functions.py `BasicMolecularMetrics`: build an RDKit
  molecule with those bonds (no charges), `Chem.SanitizeMol`; if it sanitizes, the SMILES of its
  largest fragment counts as valid. Uniqueness = distinct valid SMILES / valid; novelty = unique
  valid SMILES absent from the training set's SMILES (rebuilt with the same pipeline) / unique.
  Papers report validity x uniqueness = validity * uniqueness (EDM Table 1).
Everything here is numpy + RDKit and works on any molecules: a molecule is a pair
(positions [N, 3] in Angstrom, atom_types: list of element symbols) or any object with
`.positions` and `.atom_types`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Bond lengths in pm, qm9/bond_analyze.py (from wiredchemist.com and chemistry-reference.com tables).
_BONDS1 = {
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
_BONDS2 = {"C": {"C": 134, "N": 129, "O": 120, "S": 160}, "N": {"N": 125, "O": 121}, "O": {"O": 121, "P": 150},
           "P": {"S": 186}}
_BONDS3 = {"C": {"C": 120, "N": 116, "O": 113}, "N": {"N": 110}}
MARGINS_PM = (10, 5, 3)  # margin1, margin2, margin3: "tuned to maximize the stability of the QM9 true samples"
ALLOWED_VALENCES = {"H": (1,), "C": (4,), "N": (3,), "O": (2,), "F": (1,), "B": (3,), "Al": (3,), "Si": (4,),
                    "P": (3, 5), "S": (4,), "Cl": (1,), "As": (3,), "Br": (1,), "I": (1,), "Hg": (1, 2),
                    "Bi": (3, 5)}  # allowed_bonds in qm9/bond_analyze.py
# EDM Table 1, row "Data" (QM9 with H): what the measures give on the data set itself, in %.
EDM_QM9_DATA = {"atom_stability": 99.0, "molecule_stability": 95.2, "validity": 97.7, "validity_x_uniqueness": 97.7}

ELEMENTS = tuple(ALLOWED_VALENCES)  # index len(ELEMENTS) = unknown element or padding: never bonded


def _threshold_table(bonds: dict, margin: float) -> np.ndarray:
    t = np.full((len(ELEMENTS) + 1,) * 2, -np.inf)
    for a, row in bonds.items():
        for b, length in row.items():
            i, j = ELEMENTS.index(a), ELEMENTS.index(b)
            t[i, j] = t[j, i] = length + margin
    return t


_THRESHOLDS = np.stack([_threshold_table(b, m) for b, m in zip((_BONDS1, _BONDS2, _BONDS3), MARGINS_PM)])
_MAX_VALENCE = 8
_ALLOWED = np.zeros((len(ELEMENTS) + 1, _MAX_VALENCE + 1), dtype=bool)  # [element, valence] -> stable
for _el, _vals in ALLOWED_VALENCES.items():
    _ALLOWED[ELEMENTS.index(_el), list(_vals)] = True


def type_indices(atom_types) -> np.ndarray:
    """Element symbols -> indices into ELEMENTS (unknown symbols -> len(ELEMENTS), never bonded)."""
    lookup = {e: i for i, e in enumerate(ELEMENTS)}
    return np.array([lookup.get(str(t), len(ELEMENTS)) for t in atom_types], dtype=np.int64)


def bond_orders_batch(positions: np.ndarray, types: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bond orders and distances of a padded batch: positions [B, N, 3] Angstrom, types [B, N]
    (indices from type_indices; padding = len(ELEMENTS)) -> (orders [B, N, N] int8, dist [B, N, N] Angstrom)."""
    dist = np.sqrt(((positions[:, :, None, :] - positions[:, None, :, :]) ** 2).sum(-1))
    d_pm = 100.0 * dist  # get_bond_order: "distance = 100 * distance"
    t = _THRESHOLDS[:, types[:, :, None], types[:, None, :]]  # [3, B, N, N]
    single = d_pm < t[0]
    double = single & (d_pm < t[1])
    triple = double & (d_pm < t[2])
    orders = single.astype(np.int8) + double + triple
    idx = np.arange(positions.shape[1])
    orders[:, idx, idx] = 0
    return orders, dist


def atom_stable_batch(orders: np.ndarray, types: np.ndarray) -> np.ndarray:
    """[B, N] bool: the atom's summed bond order is an allowed valence (False on padding)."""
    valence = np.minimum(orders.sum(-1, dtype=np.int64), _MAX_VALENCE)
    return _ALLOWED[types, valence]


def infer_bonds(positions, atom_types) -> np.ndarray:
    """Bond orders [N, N] (0 none, 1, 2, 3) from distances, as EDM's get_bond_order; positions [N, 3] in Angstrom."""
    pos = _checked_positions(positions, len(atom_types))
    orders, _ = bond_orders_batch(pos[None], type_indices(atom_types)[None])
    return orders[0].astype(np.int64)


def check_stability(positions, atom_types) -> tuple[bool, int, int]:
    """(molecule_stable, n_stable_atoms, n_atoms) as EDM's qm9/analyze.py check_stability."""
    types = type_indices(atom_types)[None]
    orders, _ = bond_orders_batch(_checked_positions(positions, len(atom_types))[None], types)
    n_stable = int(atom_stable_batch(orders, types).sum())
    return n_stable == len(atom_types), n_stable, len(atom_types)


def build_rdkit_mol(positions, atom_types, bonds=None, conformer: bool = False):
    """An unsanitized RDKit RWMol with the given (or inferred) bonds and no formal charges, as EDM's
    build_molecule; bonds [N, N] codes 1, 2, 3 (4 = aromatic, EDM's bond_dict). With `conformer` the
    3D positions are attached (for SDF files)."""
    from rdkit import Chem
    from rdkit.Geometry import Point3D

    pos = _checked_positions(positions, len(atom_types))
    bonds = infer_bonds(pos, atom_types) if bonds is None else np.asarray(bonds)
    kinds = {1: Chem.BondType.SINGLE, 2: Chem.BondType.DOUBLE, 3: Chem.BondType.TRIPLE, 4: Chem.BondType.AROMATIC}
    mol = Chem.RWMol()
    for symbol in atom_types:
        mol.AddAtom(Chem.Atom(str(symbol)))
    for i, j in zip(*np.nonzero(np.triu(bonds, 1))):
        mol.AddBond(int(i), int(j), kinds[int(bonds[i, j])])
    if conformer:
        conf = Chem.Conformer(len(atom_types))
        for k, (x, y, z) in enumerate(pos):
            conf.SetAtomPosition(k, Point3D(float(x), float(y), float(z)))
        mol.AddConformer(conf, assignId=True)
    return mol


def mol_to_smiles(mol) -> str | None:
    """Sanitize in place and return canonical SMILES, or None when RDKit rejects it (EDM's mol2smiles)."""
    from rdkit import Chem

    try:
        Chem.SanitizeMol(mol)
    except ValueError:  # MolSanitizeException and its subclasses derive from ValueError
        return None
    return Chem.MolToSmiles(mol)


def molecule_smiles(positions, atom_types, bonds=None) -> str | None:
    """The validity pipeline of EDM's compute_validity: SMILES of the largest fragment, or None if invalid."""
    from rdkit import Chem

    mol = build_rdkit_mol(positions, atom_types, bonds)
    if mol_to_smiles(mol) is None:
        return None
    frags = Chem.GetMolFrags(mol, asMols=True)
    return mol_to_smiles(max(frags, default=mol, key=lambda m: m.GetNumAtoms()))


@dataclass
class MoleculeStats:
    """Distributions of a set of molecules: element counts, atom counts and bond lengths (Angstrom)
    of inferred bonds per element pair ("C-H", symbols sorted)."""

    atom_counts: dict[str, int] = field(default_factory=dict)
    size_counts: dict[int, int] = field(default_factory=dict)
    bond_lengths: dict[str, np.ndarray] = field(default_factory=dict)

    def to_arrays(self) -> dict[str, np.ndarray]:
        out = {f"atoms/{k}": np.array(v) for k, v in self.atom_counts.items()}
        out |= {f"sizes/{k}": np.array(v) for k, v in self.size_counts.items()}
        return out | {f"bonds/{k}": v for k, v in self.bond_lengths.items()}

    @classmethod
    def from_arrays(cls, arrays) -> "MoleculeStats":
        stats = cls()
        for key in arrays:
            kind, _, name = key.partition("/")
            if kind == "atoms":
                stats.atom_counts[name] = int(arrays[key])
            elif kind == "sizes":
                stats.size_counts[int(name)] = int(arrays[key])
            elif kind == "bonds":
                stats.bond_lengths[name] = np.asarray(arrays[key])
        return stats


@dataclass
class _Analysis:  # per-molecule results of the vectorised bond analysis
    n_stable: np.ndarray
    n_atoms: np.ndarray
    connected: np.ndarray
    bonds: list[np.ndarray]
    stats: MoleculeStats


def analyse(molecules, chunk: int = 1024) -> _Analysis:
    """Bonds, stability, connectivity and distributions of many molecules, `chunk` molecules at a time."""
    mols = [as_molecule(m, k) for k, m in enumerate(molecules)]
    n_stable, n_atoms, connected, bonds = [], [], [], []
    stats, lengths = MoleculeStats(), {}
    for start in range(0, len(mols), chunk):
        part = mols[start : start + chunk]
        width = max(len(t) for _, t in part)
        pos = np.zeros((len(part), width, 3))
        types = np.full((len(part), width), len(ELEMENTS))
        for b, (p, t) in enumerate(part):
            pos[b, : len(t)], types[b, : len(t)] = p, type_indices(t)
        orders, dist = bond_orders_batch(pos, types)
        sizes = np.array([len(t) for _, t in part])
        n_stable.append(atom_stable_batch(orders, types).sum(1))
        n_atoms.append(sizes)
        connected.append(_connected(orders > 0, sizes))
        bonds.extend(orders[b, :n, :n] for b, n in enumerate(sizes))
        b_idx, i_idx, j_idx = np.nonzero(np.triu(orders, 1))
        ti, tj = types[b_idx, i_idx], types[b_idx, j_idx]
        code = np.minimum(ti, tj) * (len(ELEMENTS) + 1) + np.maximum(ti, tj)
        for c in np.unique(code):
            key = "-".join(sorted((ELEMENTS[c // (len(ELEMENTS) + 1)], ELEMENTS[c % (len(ELEMENTS) + 1)])))
            sel = code == c
            lengths.setdefault(key, []).append(dist[b_idx[sel], i_idx[sel], j_idx[sel]])
        for _, t in part:
            stats.size_counts[len(t)] = stats.size_counts.get(len(t), 0) + 1
        for el, count in zip(*np.unique([str(el) for _, t in part for el in t], return_counts=True)):
            stats.atom_counts[str(el)] = stats.atom_counts.get(str(el), 0) + int(count)
    stats.bond_lengths = {k: np.concatenate(v).astype(np.float32) for k, v in lengths.items()}
    cat = lambda xs: np.concatenate(xs) if xs else np.zeros(0, dtype=int)  # noqa: E731
    return _Analysis(cat(n_stable), cat(n_atoms), cat(connected).astype(bool), bonds, stats)


def molecule_stats(molecules) -> MoleculeStats:
    """Element, size and bond-length distributions of a set of molecules (reference for evaluate_molecules)."""
    return analyse(molecules).stats


def evaluate_molecules(molecules, reference_smiles=None, reference_molecules_for_distributions=None,
                       smiles: list[str | None] | None = None) -> dict:
    """EDM's measures on a list of molecules, plus what a chemist also wants.

    molecules: (positions [N, 3] Angstrom, atom_types) pairs or objects with .positions/.atom_types.
    reference_smiles: SMILES (from this same pipeline) for novelty, e.g. the training set's; else novelty None.
    reference_molecules_for_distributions: molecules or a MoleculeStats to compare distributions with.
    smiles: the largest-fragment SMILES per molecule if already computed (None = invalid).

    Returns fractions in [0, 1]: atom_stability (pooled over atoms), molecule_stability, validity,
    uniqueness (distinct among valid), novelty (not in reference, among unique valid),
    validity_x_uniqueness (= validity * uniqueness, EDM Table 1), connected (inferred bond graph in
    one piece); counts n_molecules, n_atoms, n_valid, n_unique; and with a reference:
    atom_type_tv (total variation between element frequencies), n_atoms_tv (between molecule sizes),
    bond_length_w1 (Wasserstein-1 in Angstrom between the lengths of all inferred bonds pooled) and
    bond_length_w1_<pair> per element pair (e.g. "C-H") found in both.
    Stability needs explicit hydrogens (EDM reports it for QM9 with H only); validity works either way,
    since RDKit fills in implicit hydrogens when sanitizing.
    """
    from rdkit import rdBase

    molecules = list(molecules)
    a = analyse(molecules)
    n = len(a.n_atoms)
    if n == 0:
        raise ValueError("no molecules to evaluate")
    if smiles is None:
        with rdBase.BlockLogs():  # RDKit would print one line per molecule that fails to sanitize
            smiles = [molecule_smiles(p, t, b) for (p, t), b in zip(map(as_molecule, molecules), a.bonds)]
    if len(smiles) != n:
        raise ValueError(f"got {len(smiles)} SMILES for {n} molecules")
    valid = [s for s in smiles if s]
    unique = set(valid)
    out = {
        "n_molecules": n,
        "n_atoms": int(a.n_atoms.sum()),
        "atom_stability": float(a.n_stable.sum() / a.n_atoms.sum()),
        "molecule_stability": float(np.mean(a.n_stable == a.n_atoms)),
        "validity": len(valid) / n,
        "uniqueness": len(unique) / len(valid) if valid else 0.0,
        "novelty": None,
        "connected": float(a.connected.mean()),
        "n_valid": len(valid),
        "n_unique": len(unique),
    }
    out["validity_x_uniqueness"] = out["validity"] * out["uniqueness"]
    if reference_smiles is not None and unique:
        reference = reference_smiles if isinstance(reference_smiles, (set, frozenset)) else set(reference_smiles)
        out["novelty"] = len(unique - reference) / len(unique)
    ref = reference_molecules_for_distributions
    if ref is not None:
        out |= distribution_distances(a.stats, ref if isinstance(ref, MoleculeStats) else molecule_stats(ref))
    return out


def distribution_distances(samples: MoleculeStats, reference: MoleculeStats) -> dict[str, float]:
    """Total variation of element and size frequencies; Wasserstein-1 (Angstrom) of bond lengths."""
    from scipy.stats import wasserstein_distance

    out = {"atom_type_tv": _total_variation(samples.atom_counts, reference.atom_counts),
           "n_atoms_tv": _total_variation(samples.size_counts, reference.size_counts)}
    pooled = [np.concatenate(list(s.bond_lengths.values()) or [np.zeros(0)]) for s in (samples, reference)]
    out["bond_length_w1"] = float(wasserstein_distance(*pooled)) if all(len(p) for p in pooled) else None
    for pair in sorted(set(samples.bond_lengths) & set(reference.bond_lengths)):
        out[f"bond_length_w1_{pair}"] = float(wasserstein_distance(samples.bond_lengths[pair],
                                                                   reference.bond_lengths[pair]))
    return out


def _total_variation(p: dict, q: dict) -> float:
    keys = set(p) | set(q)
    sp, sq = max(sum(p.values()), 1), max(sum(q.values()), 1)
    return 0.5 * sum(abs(p.get(k, 0) / sp - q.get(k, 0) / sq) for k in keys)


def _connected(adjacency: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """[B] whether the real atoms of each padded graph [B, N, N] form one component (transitive closure)."""
    reach = np.zeros(adjacency.shape[:2], dtype=bool)
    reach[:, 0] = True
    for _ in range(adjacency.shape[1]):  # grow the set reachable from atom 0 until it stops changing
        grown = reach | (adjacency & reach[:, None, :]).any(2)
        if (grown == reach).all():
            break
        reach = grown
    real = np.arange(adjacency.shape[1])[None, :] < sizes[:, None]
    return (reach | ~real).all(1)


def as_molecule(m, k: int | None = None) -> tuple[np.ndarray, list[str]]:
    """(positions [N, 3] float64, atom_types list[str]) from a pair or an object with .positions/.atom_types."""
    pos, types = (m.positions, m.atom_types) if hasattr(m, "atom_types") else m
    types = [str(t) for t in types]
    where = "" if k is None else f"molecule {k}: "
    if len(types) == 0:
        raise ValueError(f"{where}has no atoms")
    return _checked_positions(pos, len(types), where), types


def _checked_positions(positions, n: int, where: str = "") -> np.ndarray:
    pos = np.asarray(positions, dtype=np.float64)
    if pos.shape != (n, 3):
        raise ValueError(f"{where}expected positions of shape ({n}, 3), got {pos.shape}")
    if not np.isfinite(pos).all():
        raise ValueError(f"{where}positions contain NaN or inf")
    return pos
