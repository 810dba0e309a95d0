"""How far generated molecules' distributions lie from a reference's: elements, sizes, bond lengths, bond angles.

- atom_type_tv, n_atoms_tv: total variation between element frequencies and between molecule sizes.
- bond lengths per bond kind ("C-H", "C=O", "C#N", ":" aromatic; elements in Hill order: C, H, then
  alphabetical) and bond angles per angle kind (atom-bond-atom-bond-atom with the central atom in the
  middle, e.g. "H-C-H", "C-C=O"), in Angstrom and degrees. The bonds are the molecule's own when it has
  them, else EDM's inferred from distances (gensci.chem.molecule.Molecule.bonds_or_inferred); compare
  like with like: a reference made the same way (QM9's perceived bonds for models with bonds, EDM's
  inferred ones for models without).
- bond_length_w1 / bond_angle_w1: the Wasserstein-1 distance per kind, averaged with the reference's
  kind frequencies as weights, over the kinds that make up at least MIN_KIND_FRACTION of the reference
  (rarer kinds are too noisy) and that the samples have; `bond_length_w1_<kind>` / `bond_angle_w1_<kind>`
  per such kind; `bond_length_kinds_missing` / `bond_angle_kinds_missing` list the common reference kinds
  the samples lack. MiDi (cvignac/MiDi@775b731, midi/metrics/molecular_metrics.py `bond_length_distance`,
  `angle_distance`) weights per bond order and per central element the same way; the kinds here are finer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gensci.chem.molecule import as_molecule
from gensci.progress import Progress

MIN_KIND_FRACTION = 0.005
BOND_SYMBOLS = {1: "-", 2: "=", 3: "#", 4: ":"}


@dataclass
class MoleculeStats:
    """Distributions of a set of molecules: element and size counts; bond lengths (Angstrom) and angles
    (degrees) per kind (possibly a subsample), and how many bonds / angles of each kind there were."""

    atom_counts: dict[str, int] = field(default_factory=dict)
    size_counts: dict[int, int] = field(default_factory=dict)
    bond_lengths: dict[str, np.ndarray] = field(default_factory=dict)
    bond_angles: dict[str, np.ndarray] = field(default_factory=dict)
    bond_counts: dict[str, int] = field(default_factory=dict)
    angle_counts: dict[str, int] = field(default_factory=dict)

    _PARTS = ("atom_counts", "size_counts", "bond_lengths", "bond_angles", "bond_counts", "angle_counts")
    _VALUES = ("bond_lengths", "bond_angles")

    def to_arrays(self, packed: bool = False) -> dict[str, np.ndarray]:
        """Flat {"<part>/<key>": array} for np.savez; packed: lengths and angles as pack_values (lossless, sorted)."""
        return {f"{part}/{k}": pack_values(v) if packed and part in self._VALUES else np.asarray(v)
                for part in self._PARTS for k, v in getattr(self, part).items()}

    @classmethod
    def from_arrays(cls, arrays) -> "MoleculeStats":
        """From to_arrays (packed or not)."""
        stats = cls()
        for key in arrays:
            part, _, name = key.partition("/")
            value = np.asarray(arrays[key])
            if part == "size_counts":
                stats.size_counts[int(name)] = int(value)
            elif part in cls._VALUES:
                getattr(stats, part)[name] = unpack_values(value) if value.dtype == np.uint8 else value
            else:
                getattr(stats, part)[name] = int(value)
        return stats

    def subsampled(self, max_per_kind: int, seed: int = 0) -> "MoleculeStats":
        """At most max_per_kind lengths and angles per kind (seeded), counts unchanged: a compact reference."""
        rng = np.random.default_rng(seed)
        pick = lambda v: v if len(v) <= max_per_kind else rng.choice(v, max_per_kind, replace=False)  # noqa: E731
        return MoleculeStats(dict(self.atom_counts), dict(self.size_counts),
                             {k: pick(v) for k, v in sorted(self.bond_lengths.items())},
                             {k: pick(v) for k, v in sorted(self.bond_angles.items())},
                             dict(self.bond_counts), dict(self.angle_counts))


def pack_values(values: np.ndarray) -> np.ndarray:
    """Non-negative float32 values [n] as uint8 [4, n], losslessly: sorted, their bit patterns (which sort like
    the values) delta-coded, the four bytes of each delta in separate rows. Compressed (npz) it takes a third
    of the floats' bytes (~1 byte per value for QM9's 20,000 bond lengths per kind). Order is lost: W1 and
    histograms do not depend on it."""
    values = np.asarray(values, dtype=np.float32)
    if not (values >= 0).all():  # negative floats' bit patterns sort backwards (and NaN not at all)
        raise ValueError("pack_values needs finite non-negative values")
    bits = np.sort(values).view(np.uint32)
    deltas = np.diff(bits, prepend=np.uint32(0))
    return deltas.view(np.uint8).reshape(-1, 4).T.copy()


def unpack_values(packed: np.ndarray) -> np.ndarray:
    """pack_values' inverse: the values [n] float32, sorted."""
    deltas = np.ascontiguousarray(np.asarray(packed, dtype=np.uint8).T).view(np.uint32).ravel()
    return np.cumsum(deltas, dtype=np.uint32).view(np.float32)


def hill_order(elements) -> list[str]:
    """C, H, then the others alphabetically."""
    return sorted(set(elements), key=lambda e: ({"C": 0, "H": 1}.get(e, 2), e))


def molecule_stats(molecules, bonds=None, chunk: int = 512) -> MoleculeStats:
    """Distributions of molecules; bonds: [n, n] codes per molecule (default: each molecule's own bonds,
    else EDM's inferred). Molecules without positions count towards elements and sizes only. Progress
    (gensci.progress) on stderr when it takes long (QM9's training split: ~10 CPU-s)."""
    mols = [as_molecule(m, k) for k, m in enumerate(molecules)]
    stats = MoleculeStats()
    for m in mols:
        stats.size_counts[m.n_atoms] = stats.size_counts.get(m.n_atoms, 0) + 1
        for el in m.atom_types:
            stats.atom_counts[el] = stats.atom_counts.get(el, 0) + 1
    with_pos = [k for k, m in enumerate(mols) if m.positions is not None]
    elements = hill_order(e for k in with_pos for e in mols[k].atom_types)
    lengths, angles = {}, {}
    with Progress("bond lengths and angles:", len(with_pos), unit="molecules") as progress:
        for start in range(0, len(with_pos), chunk):
            part = [mols[k] for k in with_pos[start : start + chunk]]
            part_bonds = [m.bonds_or_inferred() if bonds is None else bonds[k]
                          for m, k in zip(part, with_pos[start : start + chunk])]
            _collect(part, part_bonds, elements, lengths, angles)
            progress.advance(len(part))
    for kinds, values, counts in ((lengths, stats.bond_lengths, stats.bond_counts),
                                  (angles, stats.bond_angles, stats.angle_counts)):
        for kind, parts in sorted(kinds.items()):
            values[kind] = np.concatenate(parts).astype(np.float32)
            counts[kind] = len(values[kind])
    return stats


def _collect(part, part_bonds, elements, lengths: dict, angles: dict) -> None:
    """Bond lengths and angles of a chunk of molecules, appended per kind (vectorised over the padded chunk)."""
    width, index = max(m.n_atoms for m in part), {e: i for i, e in enumerate(elements)}
    pos = np.zeros((len(part), width, 3))
    types = np.zeros((len(part), width), np.int64)
    orders = np.zeros((len(part), width, width), np.int64)
    for b, (m, bo) in enumerate(zip(part, part_bonds)):
        n = m.n_atoms
        pos[b, :n], types[b, :n], orders[b, :n, :n] = m.positions, [index[e] for e in m.atom_types], bo
    b, i, j = np.nonzero(np.triu(orders, 1))
    ti, tj, o = types[b, i], types[b, j], orders[b, i, j]
    code = (np.minimum(ti, tj) * len(elements) + np.maximum(ti, tj)) * 5 + o
    length = np.linalg.norm(pos[b, i] - pos[b, j], axis=-1)
    for c in np.unique(code):
        lo, hi, order = c // 5 // len(elements), c // 5 % len(elements), c % 5
        key = f"{elements[lo]}{BOND_SYMBOLS[order]}{elements[hi]}"
        lengths.setdefault(key, []).append(length[code == c])
    bonded = orders > 0  # angles i-j-k at the centre j, i < k: axes [b, j, i, k]
    b, j, i, k = np.nonzero(bonded[:, :, :, None] & bonded[:, :, None, :] & np.triu(np.ones((width,) * 2, bool), 1))
    v1, v2 = pos[b, i] - pos[b, j], pos[b, k] - pos[b, j]
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = (v1 * v2).sum(-1) / (np.linalg.norm(v1, axis=-1) * np.linalg.norm(v2, axis=-1))
    angle = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    end1, end2 = types[b, i] * 5 + orders[b, j, i], types[b, k] * 5 + orders[b, j, k]  # Hill order, then bond order
    ends = len(elements) * 5
    code = (types[b, j] * ends + np.minimum(end1, end2)) * ends + np.maximum(end1, end2)
    finite = np.isfinite(angle)  # coincident atoms have no angle
    for c in np.unique(code[finite]):
        centre, lo, hi = c // ends // ends, c // ends % ends, c % ends
        key = (f"{elements[lo // 5]}{BOND_SYMBOLS[lo % 5]}{elements[centre]}"
               f"{BOND_SYMBOLS[hi % 5]}{elements[hi // 5]}")
        angles.setdefault(key, []).append(angle[(code == c) & finite])


def distribution_distances(samples: MoleculeStats, reference: MoleculeStats, geometry: bool = True) -> dict:
    """atom_type_tv, n_atoms_tv; with `geometry` bond_length_w1 (Angstrom) and bond_angle_w1 (degrees) overall
    and per kind, and the common reference kinds the samples lack (module docstring)."""
    out = {"atom_type_tv": _total_variation(samples.atom_counts, reference.atom_counts),
           "n_atoms_tv": _total_variation(samples.size_counts, reference.size_counts)}
    if not geometry:
        return out
    for name, part, counts in (("bond_length", "bond_lengths", "bond_counts"),
                               ("bond_angle", "bond_angles", "angle_counts")):
        out |= _weighted_w1(name, getattr(samples, part), getattr(reference, part), getattr(reference, counts))
    return out


def _weighted_w1(name: str, samples: dict, reference: dict, reference_counts: dict) -> dict:
    from scipy.stats import wasserstein_distance

    total = sum(reference_counts.values())
    common = [k for k, c in sorted(reference_counts.items(), key=lambda kv: -kv[1]) if c >= MIN_KIND_FRACTION * total]
    per_kind = {k: float(wasserstein_distance(samples[k], reference[k])) for k in common
                if len(samples.get(k, ())) and len(reference.get(k, ()))}
    weight = sum(reference_counts[k] for k in per_kind)
    out = {f"{name}_w1": sum(reference_counts[k] * v for k, v in per_kind.items()) / weight if weight else None,
           f"{name}_kinds_missing": [k for k in common if k not in per_kind]}
    return out | {f"{name}_w1_{k}": v for k, v in per_kind.items()}


def _total_variation(p: dict, q: dict) -> float:
    keys = sorted(set(p) | set(q), key=str)  # a fixed order: a set's varies between runs, and so the sum's last bit
    sp, sq = max(sum(p.values()), 1), max(sum(q.values()), 1)
    return 0.5 * sum(abs(p.get(k, 0) / sp - q.get(k, 0) / sq) for k in keys)
