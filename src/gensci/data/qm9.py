"""QM9 (130,831 small organic molecules, up to 29 atoms H/C/N/O/F) from the `qm9pack` PyPI package.

The molecules are parsed once from qm9pack's CSV files into arrays and cached as a compressed
npz in the gensci cache directory (`GENSCI_CACHE`, default the user's cache dir); later loads
read the npz (seconds). Nothing is downloaded.

Representation and splits follow EDM (Hoogeboom et al., ICML 2022; code:
github.com/ehoogeboom/e3_diffusion_for_molecules, "EDM code" below):
- items: positions [29, 3] in Angstrom with the plain mean of the real atoms removed, one_hot [29, 5]
  over H, C, N, O, F, charges [29, 1] (atomic number, 0 on padding), node_mask [29];
- splits: `gen_splits_gdb9` in qm9/data/prepare/qm9.py drops the 3,054 "uncharacterized" molecules
  from the 133,885 of GDB9, then `np.random.seed(0); perm = np.random.permutation(130831)` and takes
  train = perm[:100000], valid = perm[100000:117748], test = perm[117748:] as positions in the
  list of included molecules sorted by index. qm9pack holds exactly those 130,831 molecules (its
  `Index` runs over 1..133,885 with 3,054 missing, see qm9pack_utility.helper('Index')), so sorting
  its rows by `Index` gives the same list. `process_xyz_files` keeps the selected files in archive
  (= index) order, so each EDM split is sorted by molecule index; we sort likewise. This reproduces
  the EDM training split exactly: its atom-count histogram equals `n_nodes` in EDM's
  configs/datasets_config.py (tested in tests/data/test_qm9.py).
- conditional generation: `initialize_datasets` in qm9/data/utils.py permutes the training split
  with `np.random.seed(42)` and takes the first half (property classifier, "qm9_first_half") or the
  second half (generator, "qm9_second_half"), 50,000 each.
- remove_h: heavy atoms only (at most 9), re-centred with the plain mean (qm9/data/utils.py),
  one_hot over C, N, O, F.
"""

from __future__ import annotations

import csv
import importlib.util
import time
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import Field

from gensci.config import DataConfig
from gensci.data.base import DataSplits, TensorDictDataset, default_cache_dir
from gensci.spec import DataSpec, TensorSpec, ValueRange
from gensci.errors import UserError
from gensci.files import atomic_write
from gensci.progress import Progress

SOURCE = "PyPI package qm9pack (CSV files of the QM9 data set, Ramakrishnan et al., Sci. Data 1, 140022 (2014))"
N_MOLECULES = 130_831  # 133,885 GDB9 molecules minus the 3,054 uncharacterized ones
MAX_ATOMS = 29
MAX_HEAVY_ATOMS = 9
ELEMENTS = ("H", "C", "N", "O", "F")
ATOMIC_NUMBERS = (1, 6, 7, 8, 9)
SPLIT_SIZES = {"train": 100_000, "valid": 17_748, "test": 13_083}  # EDM gen_splits_gdb9: test = int(0.1 * 130831)
HARTREE_TO_EV = 27.211386  # CODATA 2018 (27.211386245988); the EDM code uses 27.2114 (qm9/dataset.py)

# Properties exposed as [n] float32 tensors, in these units (qm9pack column, factor from its unit).
PROPERTY_UNITS = {"alpha": "Bohr^3", "gap": "eV", "homo": "eV", "lumo": "eV", "mu": "Debye", "Cv": "cal/(mol K)"}
_PROPERTY_COLUMNS = {
    "alpha": ("Polarizability_bohr3", 1.0),
    "gap": ("HOMO_LUMO_gap_au", HARTREE_TO_EV),  # qm9pack: Hartree
    "homo": ("HOMO_au", HARTREE_TO_EV),
    "lumo": ("LUMO_au", HARTREE_TO_EV),
    "mu": ("Dipole_debye", 1.0),
    "Cv": ("Heatcapacity_Cv_cal_mol_K", 1.0),
}
_CACHE_VERSION = 1


def qm9pack_data_dir() -> Path:
    """qm9pack's data folder, found without importing qm9pack (its __init__ needs pkg_resources)."""
    spec = importlib.util.find_spec("qm9pack")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("the qm9pack package is not installed (pip install qm9pack)")
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    if not (folder / "qm9_part1.csv").exists():
        raise UserError(f"{folder}: expected qm9pack's qm9_part1..3.csv")
    return folder


def parse_qm9pack(folder: Path | None = None) -> dict[str, np.ndarray]:
    """Parse qm9pack's CSVs into arrays, rows sorted by QM9 index.

    Returns index [M] int32, n_atoms [M] int8, charges [M, 29] int8 (atomic numbers, 0 = padding),
    positions [M, 29, 3] float32 (Angstrom, as in the file), smiles [M] (GDB SMILES from qm9pack),
    and one float64 [M] array per PROPERTY_UNITS key, converted to those units.
    """
    folder = folder or qm9pack_data_dir()
    z_of = dict(zip(ELEMENTS, ATOMIC_NUMBERS))
    rows: list[tuple] = []
    csv.field_size_limit(1 << 24)
    with Progress("parsing QM9 (qm9pack's CSV files, once):", N_MOLECULES, unit="molecules") as progress:
        for part in ("qm9_part1.csv", "qm9_part2.csv", "qm9_part3.csv"):
            path = folder / part
            with open(path, newline="") as f:
                for line_no, rec in enumerate(csv.DictReader(f), start=2):
                    progress.advance()
                    try:
                        elements = [e.strip().strip("'\"") for e in rec["Elements"].strip("[]").split(",")]
                        xyz = _number_list(rec["XYZ_Ang"]).reshape(-1, 3)
                        charges = [z_of[e] for e in elements]
                        props = [float(rec[col]) * factor for col, factor in _PROPERTY_COLUMNS.values()]
                        n = int(rec["N_atoms"])
                    except (KeyError, ValueError) as err:
                        raise ValueError(f"{path}, line {line_no}: cannot parse molecule: {err!r}") from None
                    if len(xyz) != n or len(charges) != n or not np.isfinite(xyz).all():
                        raise ValueError(f"{path}, line {line_no}: expected {n} atoms with finite x, y, z")
                    rows.append((int(rec["Index"]), rec["SMILES"], charges, xyz, props))
    rows.sort(key=lambda r: r[0])
    m = len(rows)
    out = {
        "index": np.array([r[0] for r in rows], dtype=np.int32),
        "smiles": np.array([r[1] for r in rows]),
        "n_atoms": np.array([len(r[2]) for r in rows], dtype=np.int8),
        "charges": np.zeros((m, MAX_ATOMS), dtype=np.int8),
        "positions": np.zeros((m, MAX_ATOMS, 3), dtype=np.float32),
    }
    for i, (_, _, charges, xyz, _) in enumerate(rows):
        out["charges"][i, : len(charges)] = charges
        out["positions"][i, : len(charges)] = xyz
    props = np.array([r[4] for r in rows], dtype=np.float64)
    for k, name in enumerate(PROPERTY_UNITS):
        out[name] = props[:, k]
    return out


def _number_list(text: str) -> np.ndarray:
    # "[[0.59,0.,1.],...]": numbers may end in "." or use Mathematica's "*^" exponent (raw QM9 files)
    cleaned = text.replace("[", "").replace("]", "").replace("*^", "e")
    return np.array([float(v) for v in cleaned.split(",") if v.strip()], dtype=np.float64)


def load_arrays(cache_dir: Path | None = None) -> dict[str, np.ndarray]:
    """All 130,831 molecules as arrays (see parse_qm9pack), from the npz cache (parsed on first use)."""
    path = (cache_dir or default_cache_dir()) / "qm9" / f"qm9pack_arrays_v{_CACHE_VERSION}.npz"
    if not path.exists():
        with Progress("QM9: parsing and caching its arrays (once):", stages=True):  # the compression too: ~5 s
            arrays = parse_qm9pack()
            atomic_write(path, lambda tmp: np.savez_compressed(tmp, **arrays))  # a reader sees all of it or none
        return arrays
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def edm_split_indices(n: int = N_MOLECULES) -> dict[str, np.ndarray]:
    """Row indices (into the index-sorted molecule list) of EDM's train/valid/test splits, each sorted."""
    np_state = np.random.RandomState(0)  # same stream as EDM's np.random.seed(0); np.random.permutation
    perm = np_state.permutation(n)
    n_train, n_valid = SPLIT_SIZES["train"], n - SPLIT_SIZES["train"] - int(0.1 * n)
    cuts = np.split(perm, [n_train, n_train + n_valid])
    return {name: np.sort(idx) for name, idx in zip(("train", "valid", "test"), cuts)}


def conditional_halves(n_train: int = SPLIT_SIZES["train"]) -> dict[str, np.ndarray]:
    """Positions within the training split of EDM's halves: seed-42 permutation cut in two (qm9/data/utils.py)."""
    perm = np.random.RandomState(42).permutation(n_train)
    return {"first_half": perm[: n_train // 2], "second_half": perm[n_train // 2 :]}


def split_rows(split: str, train_subset: str = "edm") -> np.ndarray:
    """Rows of load_arrays() in a split; train_subset picks EDM's conditional halves of the train split."""
    rows = edm_split_indices()[split]
    if split == "train" and train_subset != "edm":
        rows = rows[conditional_halves(len(rows))[train_subset]]
    return rows


def molecule_tensors(arrays: dict[str, np.ndarray], rows: np.ndarray, remove_h: bool = False
                     ) -> dict[str, torch.Tensor]:
    """EDM-style padded tensors for the given rows: positions, one_hot, charges, node_mask + properties."""
    charges = arrays["charges"][rows].astype(np.int64)
    pos = arrays["positions"][rows].astype(np.float64)
    numbers, width = ATOMIC_NUMBERS, MAX_ATOMS
    if remove_h:
        numbers, width = ATOMIC_NUMBERS[1:], MAX_HEAVY_ATOMS
        keep = charges > 1
        order = heavy_atoms_first(charges)
        charges = np.take_along_axis(charges * keep, order, 1)[:, :width]
        pos = np.take_along_axis(pos * keep[..., None], order[..., None], 1)[:, :width]
    mask = charges > 0
    centre = (pos * mask[..., None]).sum(1, keepdims=True) / mask.sum(1, keepdims=True)[..., None].clip(min=1)
    pos = (pos - centre) * mask[..., None]  # plain mean as in EDM's remove_mean_with_mask
    one_hot = charges[..., None] == np.asarray(numbers)
    out = {
        "positions": torch.from_numpy(pos.astype(np.float32)),
        "one_hot": torch.from_numpy(one_hot.astype(np.float32)),
        "charges": torch.from_numpy(charges[..., None].astype(np.float32)),
        "node_mask": torch.from_numpy(mask.astype(np.float32)),
    }
    for name in PROPERTY_UNITS:
        out[name] = torch.from_numpy(arrays[name][rows].astype(np.float32))
    return out


def heavy_atoms_first(charges: np.ndarray) -> np.ndarray:
    """[M, 29] atom order putting the heavy atoms (atomic number > 1) first, each group in its original order."""
    return np.argsort(~(charges > 1), axis=1, kind="stable")


def n_nodes_histogram(node_mask: torch.Tensor) -> dict[str, int]:
    """{"n_atoms": count} over molecules, keys as strings (plain data for checkpoints)."""
    counts = np.bincount(node_mask.sum(1).round().long().numpy())
    return {str(n): int(c) for n, c in enumerate(counts) if c}


def heavy_counts(charges: torch.Tensor) -> torch.Tensor:
    """[M] heavy atoms (atomic number > 1) per molecule of charges [M, N, 1] (atomic numbers, 0 on padding)."""
    return (charges[..., 0] > 1).sum(1).long()


def n_nodes_heavy_histogram(node_mask: torch.Tensor, charges: torch.Tensor) -> dict[str, int]:
    """{"n_atoms,n_heavy": count} over molecules: the joint p(M, M_heavy) of a composition prior (gensci.methods.midi
    composition_prior); ~150 keys for QM9, plain data for checkpoints."""
    pairs = torch.stack([node_mask.sum(1).round().long(), heavy_counts(charges)], 1)
    unique, counts = torch.unique(pairs, dim=0, return_counts=True)
    return {f"{m},{h}": int(c) for (m, h), c in zip(unique.tolist(), counts.tolist())}


class QM9DataConfig(DataConfig):
    name: Literal["qm9"] = "qm9"
    remove_h: bool = Field(False, description="heavy atoms only (<= 9), one-hot over C, N, O, F")
    split: Literal["edm", "first_half", "second_half"] = Field(
        "edm", description="training set: EDM's 100k, or its seed-42 halves for conditional generation"
    )
    limit_train: int | None = Field(None, ge=1, description="keep the first N training molecules")
    limit_eval: int | None = Field(None, ge=1, description="keep the first N validation/test molecules")
    property_table: bool = Field(False, description="keep the training split's atom counts and properties (each in "
                                 "PROPERTY_BINS bins) in info: what property-conditional models need for p(c, M) and "
                                 "p(M | c); ~1 MB per 50,000 molecules in every checkpoint")


QM9_INFO = frozenset({"dataset", "split", "remove_h", "atom_types", "atomic_numbers", "max_n_atoms", "n_nodes_hist",
                      "atom_type_counts", "properties", "sizes", "property_stats"})
PROPERTY_BINS = 1000  # EDM's histogram of each property per atom count (qm9/models.py DistributionProperty, num_bins)


class QM9Data:
    """QM9 with EDM's representation and splits (see module docstring). Properties in PROPERTY_UNITS."""

    Config: ClassVar = QM9DataConfig

    @classmethod
    def spec(cls, config: QM9DataConfig) -> DataSpec:
        n_types = len(ELEMENTS) - int(config.remove_h)
        items = {
            "positions": TensorSpec(("N", 3), "float", "Angstrom, centre of mass removed"),
            "one_hot": TensorSpec(("N", n_types), "float", "element one-hot (zero on padding)"),
            "charges": TensorSpec(("N", 1), "float", "atomic number (0 on padding)"),
            "node_mask": TensorSpec(("N",), "float", "1 for real atoms"),
        } | {p: TensorSpec((), "float", unit) for p, unit in PROPERTY_UNITS.items()}
        return DataSpec("molecules", items, qm9_info_keys(config), {"positions": ValueRange(unit="Angstrom")})

    @classmethod
    def load(cls, config: QM9DataConfig) -> DataSplits:
        arrays = load_arrays()
        tensors = {split: molecule_tensors(arrays, rows, config.remove_h) for split, rows in limited_rows(config).items()}
        return DataSplits(*(TensorDictDataset(tensors[k]) for k in ("train", "valid", "test")),
                          info=qm9_info(config, tensors))


def limited_rows(config: QM9DataConfig) -> dict[str, np.ndarray]:
    """Rows of load_arrays() per split ("train", "valid", "test") after the config's split and limits."""
    limits = {"train": config.limit_train, "valid": config.limit_eval, "test": config.limit_eval}
    return {split: split_rows(split, config.split)[:limit] for split, limit in limits.items()}


def qm9_info_keys(config: QM9DataConfig) -> frozenset[str]:
    """The info keys a load with this config provides (QM9_INFO, plus property_table when asked for, plus the joint
    histogram of atom and heavy-atom counts with hydrogens)."""
    return (QM9_INFO | ({"property_table"} if config.property_table else set())
            | (set() if config.remove_h else {"n_nodes_heavy_hist"}))


def property_stats(train: dict[str, torch.Tensor]) -> dict[str, dict[str, float | str]]:
    """Per property over the training split: mean and mean absolute deviation (EDM's normalisation (c - mean) / MAD,
    qm9/utils.py compute_mean_mad_from_dataloader), min, max and unit."""
    out = {}
    for name, unit in PROPERTY_UNITS.items():
        v = train[name].double()
        mean = v.mean() if len(v) else torch.tensor(0.0)
        out[name] = {"mean": float(mean), "mad": float((v - mean).abs().mean()) if len(v) else 0.0,
                     "min": float(v.min()) if len(v) else 0.0, "max": float(v.max()) if len(v) else 0.0, "unit": unit}
    return out


def property_table(train: dict[str, torch.Tensor], stats: dict[str, dict], heavy: bool = False
                   ) -> dict[str, list[int] | int]:
    """The training split's atom count and property bins per molecule, {"bins": PROPERTY_BINS, "n_atoms": [M],
    name: [M]}: bin i of a property covers [min + i w, min + (i + 1) w), w = (max - min) / bins, the maximum in the
    last bin (as DistributionProperty, on one range per property). heavy: also "n_heavy" [M], each molecule's
    heavy-atom count (p(M, M_heavy | c) of midi's composition prior; data with hydrogens)."""
    out: dict[str, list[int] | int] = {"bins": PROPERTY_BINS,
                                       "n_atoms": train["node_mask"].sum(1).round().long().tolist()}
    if heavy:
        out["n_heavy"] = heavy_counts(train["charges"]).tolist()
    for name in PROPERTY_UNITS:
        lo, hi = stats[name]["min"], stats[name]["max"]
        scaled = (train[name].double() - lo) / max(hi - lo, 1e-12) * PROPERTY_BINS
        out[name] = scaled.floor().long().clamp(0, PROPERTY_BINS - 1).tolist()
    return out


def qm9_info(config: QM9DataConfig, tensors: dict[str, dict[str, torch.Tensor]]) -> dict:
    """The QM9_INFO metadata of loaded splits (tensors per split as molecule_tensors returns them)."""
    train = tensors["train"]
    elements = list(ELEMENTS[1:] if config.remove_h else ELEMENTS)
    stats = property_stats(train)
    table = {"property_table": property_table(train, stats, not config.remove_h)} if config.property_table else {}
    return {
        "dataset": config.name,
        "split": config.split,
        "remove_h": config.remove_h,
        "atom_types": elements,
        "atomic_numbers": list(ATOMIC_NUMBERS[1:] if config.remove_h else ATOMIC_NUMBERS),
        "max_n_atoms": MAX_HEAVY_ATOMS if config.remove_h else MAX_ATOMS,
        "n_nodes_hist": n_nodes_histogram(train["node_mask"]),
        **({} if config.remove_h else {"n_nodes_heavy_hist": n_nodes_heavy_histogram(train["node_mask"], train["charges"])}),
        "atom_type_counts": dict(zip(elements, (int(c) for c in train["one_hot"].sum((0, 1)).long()))),
        "properties": dict(PROPERTY_UNITS),
        "sizes": {k: int(len(v["node_mask"])) for k, v in tensors.items()},
        "property_stats": stats,
    } | table


def _time_loads() -> None:  # python -m gensci.data.qm9: parse (if needed) and time a cached load
    t0 = time.perf_counter()
    load_arrays()
    t1 = time.perf_counter()
    load_arrays()
    print(f"first load {t1 - t0:.1f} s, cached load {time.perf_counter() - t1:.1f} s")


if __name__ == "__main__":
    _time_loads()
