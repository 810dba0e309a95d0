"""QM9 with bonds and formal charges: `qm9-bonds` (explicit hydrogens, 3D) and `qm9-graph` (heavy atoms only).

Molecules, EDM splits, properties and padding are those of `gensci.data.qm9` (see its docstring).
Bonds (Kekulé: 1, 2, 3) and formal charges come from the 3D structure and the data set's SMILES by
`gensci.chem.perception.perceive_bonds`; the molecules where that fails (2 of 130,831: their
geometry's graph is not the SMILES's, see benchmarks/molecules/README.md) are left out of every split
(counted per split in info["excluded"]). Nitro groups, written `O=N(=O)` in the SMILES, become
`[N+](=O)[O-]` (RDKit's normal form); 580 molecules carry charges, each neutral overall.

Perception is computed once, in chunks of CHUNK molecules (index order), and cached under
`<gensci cache>/qm9/perception_v{PERCEPTION_VERSION}_c{CHUNK}/`; a load computes only the chunks
holding the rows it needs (a `limit_train`/`limit_eval` load of the first molecules touches one
chunk). All chunks (`python -m gensci.data.qm9_bonds`): ~1 ms CPU per molecule, ~130 s CPU in all
(9 min wall on the busy 2-core test machine); a cached full load takes ~10 s.

Items (padded to N = 29, or 9 for qm9-graph; a batch is trimmed to its largest molecule):
- positions [N, 3] float (Angstrom, mean of the real atoms removed), one_hot [N, K] float (element),
  charges [N, 1] float (atomic number, 0 on padding), node_mask [N] float, the properties of qm9 — all
  exactly as `qm9` (with / without hydrogens), so EDM trains on these data sets too;
- atom_types [N] int64: index into info["atom_types"], -1 on padding;
- formal_charges [N] int64: the formal charge itself (-1, 0, +1), 0 on padding; its class index for a
  one-hot is `info["charge_values"].index(value)` = value + 1;
- bonds [N, N] int64: 0 none, 1 single, 2 double, 3 triple (index into info["bond_types"]); symmetric,
  zero diagonal, zero on padding. Stored as int8 (100k x 29 x 29 int64 would be 673 MB) and widened on access.
"""

from __future__ import annotations

import time
from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import Field

from gensci.data.base import DataSplits, TensorDictDataset, default_cache_dir, trim_padding
from gensci.data.qm9 import (MAX_ATOMS, N_MOLECULES, QM9_INFO, QM9Data, QM9DataConfig, heavy_atoms_first, limited_rows,
                             load_arrays, molecule_tensors, qm9_info, qm9_info_keys)
from gensci.files import atomic_write
from gensci.progress import Progress
from gensci.spec import DataSpec, TensorSpec, ValueRange

PERCEPTION_VERSION = 1  # bump when perceive_bonds or the cache layout changes
CHUNK = 2048
CHARGE_VALUES = (-1, 0, 1)  # the formal charges in QM9 (measured over all molecules, benchmarks/molecules/README.md)
BOND_TYPES = ("none", "single", "double", "triple")
BONDED_INFO = QM9_INFO | {"charge_values", "bond_types", "atom_type_marginal", "charge_marginal",
                          "atom_charge_marginal", "bond_type_marginal", "excluded"}


def perception_dir():
    return default_cache_dir() / "qm9" / f"perception_v{PERCEPTION_VERSION}_c{CHUNK}"


def _chunk_path(k: int):
    return perception_dir() / f"chunk_{k:03d}.npz"


def _chunk_size(k: int) -> int:
    return min(CHUNK, N_MOLECULES - k * CHUNK)


def perceive_chunk(arrays: dict[str, np.ndarray], k: int) -> dict[str, np.ndarray]:
    """Perception of rows k*CHUNK ... (k+1)*CHUNK - 1 of load_arrays(): bonds [C, 29, 29] int8,
    formal_charges [C, 29] int8, status [C] int8 (Perception.code: 0/1 success, >= 2 failure)."""
    from gensci.chem.perception import perceive_bonds

    rows = np.arange(k * CHUNK, min((k + 1) * CHUNK, len(arrays["n_atoms"])))
    out = {"bonds": np.zeros((len(rows), MAX_ATOMS, MAX_ATOMS), np.int8),
           "formal_charges": np.zeros((len(rows), MAX_ATOMS), np.int8), "status": np.zeros(len(rows), np.int8)}
    for b, row in enumerate(rows):
        n = int(arrays["n_atoms"][row])
        p = perceive_bonds(arrays["charges"][row, :n], arrays["positions"][row, :n], str(arrays["smiles"][row]))
        out["status"][b] = p.code
        if p.ok:
            out["bonds"][b, :n, :n], out["formal_charges"][b, :n] = p.bonds, p.formal_charges
    return out


def load_perception(rows: np.ndarray, arrays: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Bonds, formal charges and status (see perceive_chunk) of the given rows of load_arrays(),
    from the chunk cache; missing chunks are computed and written atomically."""
    rows = np.asarray(rows, dtype=np.int64)
    out = {"bonds": np.zeros((len(rows), MAX_ATOMS, MAX_ATOMS), np.int8),
           "formal_charges": np.zeros((len(rows), MAX_ATOMS), np.int8), "status": np.zeros(len(rows), np.int8)}
    chunks = np.unique(rows // CHUNK).tolist()
    missing = [k for k in chunks if not _chunk_path(k).exists()]
    if missing:  # ~1 ms per molecule: minutes for all of QM9, so say how far it is
        arrays = load_arrays() if arrays is None else arrays
        with Progress("QM9 bond perception (once):", sum(_chunk_size(k) for k in missing), unit="molecules") as progress:
            for k in missing:
                computed = perceive_chunk(arrays, k)
                atomic_write(_chunk_path(k), lambda p, c=computed: np.savez_compressed(p, **c))
                progress.advance(_chunk_size(k))
    for k in chunks:
        path = _chunk_path(k)
        sel = rows // CHUNK == k
        with np.load(path, allow_pickle=False) as f:
            for name in out:
                out[name][sel] = f[name][rows[sel] % CHUNK]
    return out


def bonded_tensors(arrays: dict[str, np.ndarray], perception: dict[str, np.ndarray], rows: np.ndarray,
                   remove_h: bool) -> dict[str, torch.Tensor]:
    """molecule_tensors (qm9) plus atom_types, formal_charges and bonds (int8) for rows whose perception
    succeeded; `perception` is load_perception(rows)."""
    out = molecule_tensors(arrays, rows, remove_h)
    bonds, charges = perception["bonds"], perception["formal_charges"]
    width = out["node_mask"].shape[1]
    if remove_h:
        order = heavy_atoms_first(arrays["charges"][rows])
        charges = np.take_along_axis(charges, order, 1)[:, :width]
        bonds = np.take_along_axis(np.take_along_axis(bonds, order[:, :, None], 1), order[:, None, :], 2)
        bonds = bonds[:, :width, :width]
    mask = out["node_mask"].bool()
    out["atom_types"] = torch.where(mask, out["one_hot"].argmax(-1), -1).to(torch.int8)
    out["formal_charges"] = torch.from_numpy(np.ascontiguousarray(charges)) * mask
    out["bonds"] = torch.from_numpy(np.ascontiguousarray(bonds)) * (mask[:, :, None] & mask[:, None, :])
    return out


def marginals(tensors: dict[str, torch.Tensor], n_types: int) -> dict[str, list[float]]:
    """Frequencies over the real atoms (atom types, formal charges in CHARGE_VALUES order, and the two jointly:
    `atom_charge_marginal[type][charge]`) and over the unordered pairs of real atoms (bond types incl. "none"), for
    marginal priors (MiDi, DiGress)."""
    mask = tensors["node_mask"].bool()
    if not np.isin(tensors["formal_charges"][mask].numpy(), CHARGE_VALUES).all():
        raise ValueError(f"formal charges outside {CHARGE_VALUES}: update CHARGE_VALUES")
    atoms = torch.bincount(tensors["atom_types"][mask].long(), minlength=n_types).double()
    charges = torch.bincount(tensors["formal_charges"][mask].long() - CHARGE_VALUES[0],
                             minlength=len(CHARGE_VALUES)).double()
    bonds = torch.bincount(torch.triu(tensors["bonds"].long(), 1).flatten(), minlength=len(BOND_TYPES)).double()
    joint = torch.bincount(tensors["atom_types"][mask].long() * len(CHARGE_VALUES) + tensors["formal_charges"][mask].long()
                           - CHARGE_VALUES[0], minlength=n_types * len(CHARGE_VALUES)).double()
    n = mask.sum(1).double()
    bonds[0] = (n * (n - 1) / 2).sum() - bonds[1:].sum()  # pairs of real atoms without a bond
    return {key: (v / v.sum().clamp(min=1)).tolist() for key, v in
            (("atom_type_marginal", atoms), ("charge_marginal", charges),
             ("atom_charge_marginal", joint.reshape(n_types, len(CHARGE_VALUES))), ("bond_type_marginal", bonds))}


class CompactIntDataset(TensorDictDataset):
    """TensorDictDataset whose integer tensors are stored compactly (int8) and returned as int64."""

    def __getitem__(self, i):
        return _widen(super().__getitem__(i))

    def __getitems__(self, indices):
        return [_widen(super().__getitems__(indices)[0])]


def _widen(item: dict) -> dict:
    return {k: v.long() if v.dtype == torch.int8 else v for k, v in item.items()}


def collate_bonded(items: list[dict]) -> dict:
    """Collate for CompactIntDataset.__getitems__: trims padding, bond matrices in both atom dims."""
    return trim_padding(items[0], pair_keys=("bonds",))


class QM9BondsDataConfig(QM9DataConfig):
    name: Literal["qm9-bonds"] = "qm9-bonds"
    remove_h: Literal[False] = Field(False, description="explicit hydrogens (qm9-graph: heavy atoms only)")


class QM9GraphDataConfig(QM9DataConfig):
    name: Literal["qm9-graph"] = "qm9-graph"
    remove_h: Literal[True] = Field(True, description="heavy atoms only (qm9-bonds: explicit hydrogens)")


class QM9BondsData:
    """QM9 with explicit hydrogens, 3D positions, Kekulé bonds and formal charges (module docstring)."""

    Config: ClassVar = QM9BondsDataConfig

    @classmethod
    def spec(cls, config: QM9DataConfig) -> DataSpec:
        base = QM9Data.spec(config)
        items = base.items | {
            "atom_types": TensorSpec(("N",), "int", "index into info['atom_types'], -1 on padding"),
            "formal_charges": TensorSpec(("N",), "int", "formal charge (-1, 0, 1; index = value + 1), 0 on padding"),
            "bonds": TensorSpec(("N", "N"), "int", "0 none, 1 single, 2 double, 3 triple; symmetric, 0 on padding"),
        }
        ranges = base.ranges | {"formal_charges": ValueRange(-1, 1, values=(-1.0, 0.0, 1.0)),
                                "bonds": ValueRange(0, 3, values=(0.0, 1.0, 2.0, 3.0))}
        return DataSpec("molecules", items, BONDED_INFO | qm9_info_keys(config), ranges)

    @classmethod
    def load(cls, config: QM9DataConfig) -> DataSplits:
        """Splits of qm9 (same config fields); the first limit_* molecules are taken before the
        failed perceptions are dropped, so a limited split may hold fewer."""
        arrays = load_arrays()
        tensors, excluded = {}, {}
        for split, rows in limited_rows(config).items():
            perception = load_perception(rows, arrays)
            ok = perception["status"] < 2
            excluded[split] = int((~ok).sum())
            tensors[split] = bonded_tensors(arrays, {k: v[ok] for k, v in perception.items()}, rows[ok],
                                            config.remove_h)
        info = qm9_info(config, tensors)
        info |= marginals(tensors["train"], len(info["atom_types"])) | {"charge_values": list(CHARGE_VALUES), "bond_types": list(BOND_TYPES), "excluded": excluded}
        return DataSplits(*(CompactIntDataset(tensors[k]) for k in ("train", "valid", "test")), info=info,
                          collate=collate_bonded)


class QM9GraphData(QM9BondsData):
    """QM9 heavy atoms only (<= 9, hydrogens implicit), with Kekulé bonds and formal charges; positions kept
    (centred on the heavy atoms) for viewing."""

    Config: ClassVar = QM9GraphDataConfig


def _perceive_all() -> None:  # python -m gensci.data.qm9_bonds: fill the perception cache, report the time
    t0 = time.perf_counter()
    status = load_perception(np.arange(N_MOLECULES))["status"]
    print(f"perception of {N_MOLECULES} molecules: {time.perf_counter() - t0:.0f} s "
          f"(status counts {dict(zip(*np.unique(status, return_counts=True)))})")


if __name__ == "__main__":
    _perceive_all()
