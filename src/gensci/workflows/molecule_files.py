"""Evaluate real molecules with EDM's measures: a QM9 split, or an XYZ/SDF file a user brings.

Wiring for `gensci evaluate --dataset qm9` and `gensci evaluate FILE`. The QM9 training split's
SMILES (novelty reference, rebuilt from the 3D geometries with the same pipeline) and its
distributions (element frequencies, sizes, bond lengths) are computed once and cached next to the
parsed QM9 arrays (`GENSCI_CACHE`/qm9/); building the SMILES cache takes a few minutes, once.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from gensci.data import qm9
from gensci.data.base import default_cache_dir
from gensci.data.molecule_io import Molecule, MoleculeFileError, read_molecules, read_molecules_lenient
from gensci.errors import UserError
from gensci.metrics.molecules import MoleculeStats, evaluate_molecules, molecule_smiles, molecule_stats

_SYMBOL = dict(zip(qm9.ATOMIC_NUMBERS, qm9.ELEMENTS))
_MAX_SKIPPED_SHOWN = 10


def qm9_molecules(split: str = "train", limit: int | None = None, remove_h: bool = False) -> list[Molecule]:
    """QM9 molecules of an EDM split (first `limit`), positions in Angstrom as in the data set."""
    arrays = qm9.load_arrays()
    out = []
    for row in qm9.split_rows(split)[:limit]:
        n = int(arrays["n_atoms"][row])
        z, pos = arrays["charges"][row, :n], arrays["positions"][row, :n].astype(np.float64)
        keep = z > 1 if remove_h else np.ones(n, dtype=bool)
        out.append(Molecule(pos[keep], [_SYMBOL[int(v)] for v in z[keep]], f"qm9 {arrays['index'][row]}"))
    return out


def smiles_list(molecules) -> list[str | None]:
    """The validity pipeline's SMILES per molecule (None = invalid), RDKit warnings silenced."""
    from rdkit import rdBase

    with rdBase.BlockLogs():
        return [molecule_smiles(m.positions, m.atom_types) for m in molecules]


def qm9_train_smiles(remove_h: bool = False) -> list[str | None]:
    """Per-molecule SMILES of the QM9 training split (cached; a few minutes the first time)."""
    path = _cache_path(f"train_smiles_{_tag(remove_h)}.txt")
    if path.exists():
        return [s or None for s in path.read_text().split("\n")[:-1]]
    smiles = smiles_list(qm9_molecules("train", None, remove_h))
    _atomic_write(path, lambda tmp: tmp.write_text("".join(f"{s or ''}\n" for s in smiles)))
    return smiles


def qm9_reference_smiles(remove_h: bool = False) -> set[str]:
    """Distinct valid SMILES of the QM9 training split: the novelty reference."""
    return {s for s in qm9_train_smiles(remove_h) if s}


def qm9_reference_stats(remove_h: bool = False) -> MoleculeStats:
    """Element, size and bond-length distributions of the QM9 training split (cached)."""
    path = _cache_path(f"train_stats_{_tag(remove_h)}.npz")
    if path.exists():
        with np.load(path, allow_pickle=False) as f:
            return MoleculeStats.from_arrays({k: f[k] for k in f.files})
    stats = molecule_stats(qm9_molecules("train", None, remove_h))
    _atomic_write(path, lambda tmp: np.savez_compressed(tmp, **stats.to_arrays()))
    return stats


def evaluate_dataset(split: str = "train", limit: int | None = None, remove_h: bool = False,
                     distributions: bool = True) -> dict:
    """EDM's measures on a QM9 split (first `limit` molecules, i.e. the smallest: splits are in index
    order as in EDM), novelty against the training split.

    On the training split novelty is 0 by construction, so its SMILES need not be looked up (the
    full split fills the SMILES cache as a side effect). `distributions` compares element, size and
    bond-length distributions with the training split's.
    """
    if split not in qm9.SPLIT_SIZES:
        raise UserError(f"unknown split {split!r}; choices: {', '.join(qm9.SPLIT_SIZES)}")
    start = time.perf_counter()
    molecules = qm9_molecules(split, limit, remove_h)
    cached = _cache_path(f"train_smiles_{_tag(remove_h)}.txt").exists()
    if split == "train" and (limit is None or cached):
        smiles = qm9_train_smiles(remove_h)[:limit]
    else:
        smiles = smiles_list(molecules)
    reference = {s for s in smiles if s} if split == "train" else qm9_reference_smiles(remove_h)
    stats = qm9_reference_stats(remove_h) if distributions else None
    result = evaluate_molecules(molecules, reference, stats, smiles=smiles)
    result |= {"dataset": "qm9", "split": split, "remove_h": remove_h, "novelty_reference": "qm9 train",
               "seconds": round(time.perf_counter() - start, 2)}
    return result


def evaluate_file(path, reference=None) -> dict:
    """EDM's measures on the molecules of an XYZ/SDF file; malformed records are skipped and counted.

    Bonds are inferred from the 3D geometry (EDM's rules) even when an SDF lists bonds. Novelty and
    distributions are against QM9's training split (with or without H, following the file), or
    against the molecules of `reference` (an XYZ/SDF file) when given.
    """
    start = time.perf_counter()
    molecules, skipped = read_molecules_lenient(path)
    if not molecules:
        raise MoleculeFileError(path, None, f"no readable molecules ({_skipped_summary(skipped)})")
    if reference is not None:
        ref = read_molecules(reference)
        ref_smiles, ref_stats, ref_name = {s for s in smiles_list(ref) if s}, molecule_stats(ref), str(reference)
    else:
        remove_h = not any("H" in m.atom_types for m in molecules)
        ref_smiles, ref_stats = qm9_reference_smiles(remove_h), qm9_reference_stats(remove_h)
        ref_name = f"qm9 train ({'without' if remove_h else 'with'} H)"
    result = evaluate_molecules(molecules, ref_smiles, ref_stats)
    result |= {"file": str(path), "n_skipped": len(skipped), "skipped": _skipped_summary(skipped),
               "novelty_reference": ref_name, "seconds": round(time.perf_counter() - start, 2)}
    return result


def _skipped_summary(skipped: list[tuple[int, str]]) -> str:
    shown = "; ".join(f"record {r}: {why}" for r, why in skipped[:_MAX_SKIPPED_SHOWN])
    more = len(skipped) - _MAX_SKIPPED_SHOWN
    return shown + (f"; ... and {more} more" if more > 0 else "")


def _tag(remove_h: bool) -> str:
    return "noh" if remove_h else "h"


def _cache_path(name: str) -> Path:
    return default_cache_dir() / "qm9" / f"v1_{name}"


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp{path.suffix}")
    write(tmp)
    os.replace(tmp, path)
