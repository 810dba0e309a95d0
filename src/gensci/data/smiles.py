"""SMILES data sets: the MOSES benchmark split and QM9's SMILES, as token ids with RDKit properties.

- `moses`: the MOSES benchmark (Polykovskiy et al., Front. Pharmacol. 11, 565644 (2020)): 1,584,663 training,
  176,074 test and 176,226 scaffold-test molecules from ZINC Clean Leads, read from the CSV files that the
  `molsets` package ships (moses/dataset/data/{train,test,test_scaffolds}.csv.gz; molsets 0.3.1). Its
  dependencies no longer build, so gensci does not list it as a dependency: install it with
  `pip install --no-deps molsets`; gensci finds its files without importing it. Splits here: train = the
  training file but its last 10,000 molecules, valid = those 10,000, test = the test file.
- `qm9-smiles`: the 130,831 QM9 molecules' SMILES from `qm9pack` (gensci.data.qm9), canonicalised by RDKit,
  in EDM's train/valid/test split.

Items: `tokens` [L] int (gensci.chem.smiles.Vocabulary ids: <bos>, tokens, <eos>, <pad>...) and
`properties` [P] float (logP, QED, SA from RDKit, gensci.chem.properties; NaN for molecules past
`n_property_molecules`, whose properties are not computed to keep loading fast). The vocabulary comes from the
training split; a molecule with a token outside it or longer than `max_length` is skipped and counted in
`info["skipped"]`. Computed properties and canonical QM9 SMILES are cached under the gensci cache directory.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import importlib.util
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import Field

from gensci.chem.properties import canonical_smiles, mol_from_smiles, properties
from gensci.chem.smiles import Vocabulary, tokenize
from gensci.config import DataConfig
from gensci.data.base import DataSplits, TensorDictDataset, default_cache_dir
from gensci.errors import UserError
from gensci.files import atomic_write
from gensci.progress import Progress, track
from gensci.spec import DataSpec, TensorSpec

MOSES_INSTALL = "pip install --no-deps molsets"
MOSES_VALID = 10_000  # molecules held out from the end of MOSES' training file
TRAIN_PROPERTIES = ("logp", "qed", "sa")  # what the property head learns (Gomez-Bombarelli et al. 2018, Sec. 2)
SPLITS = ("train", "valid", "test")


def moses_data_dir() -> Path:
    """The folder of MOSES' CSV files inside the installed molsets package (found, not imported)."""
    spec = importlib.util.find_spec("moses")
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"the MOSES data comes from the molsets package, which is not installed: {MOSES_INSTALL} "
                        "(without its dependencies, which no longer build; gensci only reads its files)")
    package = Path(next(iter(spec.submodule_search_locations)))
    folder = package / "dataset" / "data"
    if not (folder / "train.csv.gz").exists():
        raise UserError(f"{folder}: expected MOSES' train.csv.gz from the molsets package; reinstall it: {MOSES_INSTALL}")
    return folder


def moses_smiles(split: Literal["train", "test", "test_scaffolds"]) -> list[str]:
    """One of MOSES' files as a list of SMILES (column "SMILES" of moses/dataset/data/SPLIT.csv.gz)."""
    path = moses_data_dir() / f"{split}.csv.gz"
    with gzip.open(path, "rt", newline="") as f:
        return [row["SMILES"] for row in csv.DictReader(f)]


def qm9_canonical_smiles() -> np.ndarray:
    """RDKit canonical SMILES [130,831] of QM9 (qm9pack's GDB SMILES), rows as gensci.data.qm9.load_arrays; cached.
    A string RDKit cannot read stays as it is (none in qm9pack 1.0.3)."""
    from gensci.data.qm9 import load_arrays

    path = default_cache_dir() / "smiles" / "qm9_canonical_v1.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as f:
            return f["smiles"]
    raw = load_arrays()["smiles"]
    smiles = np.array([canonical_smiles(s, isomeric=False) or s
                       for s in track(raw, "canonical SMILES of QM9 (once):", unit="SMILES")])
    atomic_write(path, lambda tmp: np.savez_compressed(tmp, smiles=smiles))
    return smiles


class SmilesDataConfig(DataConfig):
    max_length: int | None = Field(None, ge=3, description="token positions incl. <bos>/<eos> (None: longest training SMILES + 2)")
    limit_train: int | None = Field(None, ge=1, description="keep the first N training molecules")
    limit_eval: int | None = Field(None, ge=1, description="keep the first N validation/test molecules")
    n_property_molecules: int | None = Field(
        20_000, ge=0, description="compute logP/QED/SA for the first N molecules of each split (None: all; others NaN)")


class MosesDataConfig(SmilesDataConfig):
    name: Literal["moses"] = "moses"


class QM9SmilesDataConfig(SmilesDataConfig):
    name: Literal["qm9-smiles"] = "qm9-smiles"


SMILES_INFO = frozenset({"dataset", "vocabulary", "max_length", "properties", "property_mean", "property_std",
                         "sizes", "skipped"})


class SmilesData:
    """Base of the SMILES data sets: subclasses give `raw_splits(config) -> {split: [SMILES]}` (before limits)."""

    Config: ClassVar = SmilesDataConfig

    @classmethod
    def raw_splits(cls, config) -> dict[str, list[str]]:
        raise NotImplementedError

    @classmethod
    def spec(cls, config: SmilesDataConfig) -> DataSpec:
        length = config.max_length or "L"
        items = {"tokens": TensorSpec((length,), "int", "vocabulary ids: <bos> SMILES tokens <eos> <pad>..."),
                 "properties": TensorSpec((len(TRAIN_PROPERTIES),), "float", "logP, QED, SA (RDKit); NaN: not computed")}
        return DataSpec("smiles", items, SMILES_INFO)

    @classmethod
    def reference_smiles(cls, config, split: str) -> list[str]:
        """The split's SMILES (after the config's limits) as the metrics compare against: all of them, also those
        the vocabulary skips."""
        return limited(cls.raw_splits(config), config)[split]

    @classmethod
    def load(cls, config: SmilesDataConfig) -> DataSplits:
        with Progress(f"{config.name}: reading the SMILES, building the vocabulary:", stages=True):  # MOSES: ~1 min
            smiles = limited(cls.raw_splits(config), config)
            length = config.max_length or max(len(tokenize(s)) for s in smiles["train"]) + 2
            vocab = Vocabulary.from_smiles([s for s in smiles["train"] if len(tokenize(s)) + 2 <= length])
        tensors, skipped = {}, {}
        for split in SPLITS:
            ids, kept = encode_all(smiles[split], vocab, length)
            skipped[split] = len(smiles[split]) - len(kept)
            props = cached_properties(kept[: config.n_property_molecules], config.name)
            full = np.full((len(kept), len(TRAIN_PROPERTIES)), np.nan, dtype=np.float32)
            full[: len(props)] = props
            tensors[split] = {"tokens": torch.from_numpy(ids), "properties": torch.from_numpy(full)}
        train_props = tensors["train"]["properties"].numpy()
        mean, std = _finite_mean_std(train_props)
        info = {"dataset": config.name, "vocabulary": list(vocab.tokens), "max_length": int(length),
                "properties": list(TRAIN_PROPERTIES), "property_mean": mean, "property_std": std,
                "sizes": {k: len(v["tokens"]) for k, v in tensors.items()}, "skipped": skipped}
        return DataSplits(*(TensorDictDataset(tensors[k]) for k in SPLITS), info=info)


class MosesData(SmilesData):
    """The MOSES benchmark split (module docstring)."""

    Config: ClassVar = MosesDataConfig

    @classmethod
    def raw_splits(cls, config) -> dict[str, list[str]]:
        train = moses_smiles("train")
        return {"train": train[:-MOSES_VALID], "valid": train[-MOSES_VALID:], "test": moses_smiles("test")}


class QM9SmilesData(SmilesData):
    """QM9's SMILES in EDM's split (module docstring)."""

    Config: ClassVar = QM9SmilesDataConfig

    @classmethod
    def raw_splits(cls, config) -> dict[str, list[str]]:
        from gensci.data.qm9 import split_rows

        smiles = qm9_canonical_smiles()
        return {split: [str(s) for s in smiles[split_rows(split)]] for split in SPLITS}


def limited(splits: dict[str, list[str]], config: SmilesDataConfig) -> dict[str, list[str]]:
    limits = {"train": config.limit_train, "valid": config.limit_eval, "test": config.limit_eval}
    return {k: v[: limits[k]] for k, v in splits.items()}


def encode_all(smiles: list[str], vocab: Vocabulary, length: int) -> tuple[np.ndarray, list[str]]:
    """(ids [M, length] int64, the M SMILES kept): those the vocabulary can spell within `length`."""
    rows, kept = [], []
    for s in track(smiles, "tokenizing SMILES:", unit="SMILES"):
        ids = vocab.encode(s, length)
        if ids is not None:
            rows.append(ids)
            kept.append(s)
    return np.array(rows, dtype=np.int64).reshape(len(rows), length), kept


def molecule_properties(smiles: list[str], names=TRAIN_PROPERTIES) -> np.ndarray:
    """[M, len(names)] float32 RDKit properties; NaN rows for SMILES RDKit cannot read."""
    out = np.full((len(smiles), len(names)), np.nan, dtype=np.float32)
    for i, s in enumerate(track(smiles, f"RDKit properties ({', '.join(names)}):", unit="molecules")):
        mol = mol_from_smiles(s)
        if mol is not None:
            out[i] = list(properties(mol, names).values())
    return out


def cached_properties(smiles: list[str], dataset: str) -> np.ndarray:
    """molecule_properties(smiles), cached by the list's content."""
    if not smiles:
        return np.zeros((0, len(TRAIN_PROPERTIES)), dtype=np.float32)
    key = hashlib.sha1("\n".join(smiles).encode()).hexdigest()[:16]
    path = default_cache_dir() / "smiles" / f"{dataset}_properties_{len(smiles)}_{key}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as f:
            return f["values"]
    values = molecule_properties(smiles)
    atomic_write(path, lambda tmp: np.savez_compressed(tmp, values=values))
    return values


def _finite_mean_std(values: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-column mean and std over finite entries ([0, 1] for a column without any)."""
    mean, std = [], []
    for col in values.T:
        col = col[np.isfinite(col)]
        mean.append(float(col.mean()) if len(col) else 0.0)
        std.append(float(col.std()) if len(col) > 1 and col.std() > 0 else 1.0)
    return mean, std


def moses_filter_smarts() -> list[str]:
    """MOSES' MCF and PAINS SMARTS (molsets: moses/metrics/mcf.csv column "smarts", wehi_pains.csv column 1)."""
    folder = moses_data_dir().parent.parent / "metrics"
    with open(folder / "mcf.csv", newline="") as f:
        mcf = [row["smarts"].strip() for row in csv.DictReader(f)]
    with open(folder / "wehi_pains.csv", newline="") as f:
        pains = [row[0].strip() for row in csv.reader(f) if row]
    return mcf + pains


_NUMPY_GLOBALS = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                  ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
                  ("numpy._core.multiarray", "scalar"), ("collections", "Counter"),
                  ("_codecs", "encode")}  # numpy pickles bytes as _codecs.encode(text, "latin1")


def moses_reference_statistics(split: Literal["test", "test_scaffolds"] = "test") -> dict:
    """MOSES' precomputed statistics of its test set (moses/dataset/data/SPLIT_stats.npz, what moses.get_all_metrics
    compares against), as the fields of gensci.metrics.smiles.ReferenceStats (fcd_mu, fcd_sigma, fingerprints,
    fragments, scaffolds, properties).

    The file holds a pickled dict; it is read with an unpickler that accepts only numpy arrays, dtypes and
    collections.Counter (any other object in the file is an error, never executed)."""
    import io
    import pickle
    import zipfile

    class _ArraysOnly(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) not in _NUMPY_GLOBALS:
                raise UserError(f"MOSES statistics file holds an unexpected object {module}.{name}; reinstall molsets")
            return super().find_class(module, name)

    path = moses_data_dir() / f"{split}_stats.npz"
    with zipfile.ZipFile(path) as z, z.open("stats.npy") as f:
        major, _ = np.lib.format.read_magic(f)
        (np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0)(f)
        stats = _ArraysOnly(io.BytesIO(f.read())).load().item()
    return {"fcd_mu": stats["FCD"]["mu"], "fcd_sigma": stats["FCD"]["sigma"], "fingerprints": stats["SNN"]["fps"],
            "fragments": stats["Frag"]["frag"], "scaffolds": stats["Scaf"]["scaf"],
            "properties": {ours: np.asarray(stats[theirs]["values"], dtype=np.float64)
                           for ours, theirs in (("logp", "logP"), ("qed", "QED"), ("sa", "SA"), ("weight", "weight"))}}
