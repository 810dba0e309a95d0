"""Tabular clinical records with gaps: scikit-learn's breast-cancer and diabetes tables, or your own CSV.

The case of Hwang, Choi & Yoon (2017), "Adversarial training for disease prediction from electronic health
records with missing data" (arXiv:1711.04126): fill the gaps of a record, then predict the disease.

What happens, in order (all seeded by `data.seed`):
1. the table X [n, d] (NaN: a real gap of a user's CSV) and a binary label y [n] (1 = the disease);
2. entries are hidden under `data.missing` (mcar | mar | mnar) at `data.missing_rate`
   (gensci.data.missingness, where the mechanisms are defined);
3. a stratified split into train / valid / test;
4. every column is standardised with the mean and standard deviation of the train split's OBSERVED
   entries (no hidden value leaks into the statistics): value = (physical - mean) / std.

One item: `x` [D] the standardised observed values with 0 (the train mean) at every gap; `observed` [D]
bool (what a model may see); `target` [D] the standardised true values (0 where unknown); `hidden` [D]
bool (entries hidden on purpose: their true value is known and imputation is scored on them); `label`
[] int; `scale`, `offset` [D] the map back to physical units (physical = value * scale + offset).

Built-in tables (no download, shipped with scikit-learn):
- `breast-cancer`: Wisconsin diagnostic breast cancer, 569 records x 30 features; label 1 = malignant
  (scikit-learn codes malignant as 0; here the disease is the positive class);
- `diabetes`: 442 records x 10 features (raw, unscaled); label 1 = disease progression after one year
  above the median of the 442 (140.5), a binary target stated here since the data set's own is a number.
"""

from __future__ import annotations

import csv
import math
import warnings
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import Field, model_validator

from gensci.config import DataConfig
from gensci.data.base import DataSplits, TensorDictDataset
from gensci.data.missingness import Mechanism, hide_values
from gensci.errors import InputFileError
from gensci.spec import DataSpec, TensorSpec, ValueRange

# Cells read as "unknown" in a user's CSV (compared lower-case, stripped).
MISSING_TOKENS = frozenset({"", "na", "nan", "n/a", "null", "none", "?"})
MIN_ROWS = 10


class RecordsConfig(DataConfig):
    name: Literal["records"] = "records"
    source: Literal["breast-cancer", "diabetes"] = Field("breast-cancer", description="built-in table (without path)")
    path: str | None = Field(None, description="your own CSV (header row; numbers, empty cells for gaps)")
    target: str | None = Field(None, description="the CSV's binary outcome column (with path)")
    missing: Mechanism = Field("mcar", description="how entries are hidden: mcar, mar or mnar")
    missing_rate: float = Field(0.3, gt=0, lt=1, description="share of the known entries hidden on purpose")
    valid_fraction: float = Field(0.15, gt=0, lt=0.5)
    test_fraction: float = Field(0.2, gt=0, lt=0.5)

    @model_validator(mode="after")
    def _target_with_path(self):
        if self.path is not None and not self.target:
            raise ValueError("data.path needs data.target, the name of the CSV's outcome column")
        if self.path is None and self.target is not None:
            raise ValueError("data.target applies to a CSV given by data.path")
        return self


class RecordsData:
    """Records with gaps made under a stated mechanism (module docstring)."""

    Config = RecordsConfig

    @classmethod
    def spec(cls, config: RecordsConfig) -> DataSpec:
        vec = TensorSpec(("D",), "float")
        mask = TensorSpec(("D",), "bool")
        standard = ValueRange(unit="train-split standard deviations from the train-split mean",
                              scale="scale", offset="offset")
        items = {"x": vec, "observed": mask, "target": vec, "hidden": mask, "label": TensorSpec((), "int"),
                 "scale": vec, "offset": vec}
        info = frozenset({"n_features", "n_classes", "class_names", "feature_names", "source", "missing",
                          "missing_rate", "n_hidden", "n_unknown"})
        return DataSpec("records", items, info, {"x": standard, "target": standard})

    @classmethod
    def load(cls, config: RecordsConfig) -> DataSplits:
        if config.path is not None:
            x, y, features, classes = read_records_csv(config.path, config.target)
            source = str(config.path)
        else:
            x, y, features, classes = builtin_table(config.source)
            source = config.source
        rng = np.random.default_rng(config.seed)
        hidden = hide_values(x, config.missing, config.missing_rate, rng)
        parts = stratified_split(y, config.valid_fraction, config.test_fraction, rng)
        observed = ~np.isnan(x) & ~hidden
        train = parts[0]
        mean, std = observed_moments(x[train], observed[train])
        standard = (np.nan_to_num(x) - mean) / std
        items = {
            "x": torch.tensor(np.where(observed, standard, 0.0), dtype=torch.float32),
            "observed": torch.tensor(observed),
            "target": torch.tensor(np.where(np.isnan(x), 0.0, standard), dtype=torch.float32),
            "hidden": torch.tensor(hidden),
            "label": torch.tensor(y, dtype=torch.long),
            "scale": torch.tensor(np.broadcast_to(std, x.shape).copy(), dtype=torch.float32),
            "offset": torch.tensor(np.broadcast_to(mean, x.shape).copy(), dtype=torch.float32),
        }
        splits = [TensorDictDataset({k: v[torch.as_tensor(p)] for k, v in items.items()}) for p in parts]
        info = {"n_features": int(x.shape[1]), "n_classes": 2, "class_names": [str(c) for c in classes],
                "feature_names": [str(f) for f in features],
                "source": source, "missing": config.missing, "missing_rate": config.missing_rate,
                "n_hidden": int(hidden.sum()), "n_unknown": int(np.isnan(x).sum()),
                "feature_mean": mean[0].tolist(), "feature_std": std[0].tolist()}
        return DataSplits(*splits, info=info)


def builtin_table(source: str) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """(X [n, d] float64, y [n] int64 with 1 = disease, feature names, class names) of a scikit-learn table."""
    from sklearn.datasets import load_breast_cancer, load_diabetes

    if source == "breast-cancer":
        table = load_breast_cancer()
        return (table.data.astype(np.float64), (table.target == 0).astype(np.int64), list(table.feature_names),
                ["benign", "malignant"])
    if source == "diabetes":
        table = load_diabetes(scaled=False)
        y = (table.target > np.median(table.target)).astype(np.int64)
        return table.data.astype(np.float64), y, list(table.feature_names), ["at or below median", "above median"]
    raise InputFileError(f"unknown built-in table {source!r}; choices: breast-cancer, diabetes")


def read_records_csv(path: str | Path, target: str) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """A CSV with a header row -> (X [n, d] with NaN for empty/NA cells, y [n] in {0, 1}, features, classes).

    The target column must hold exactly two distinct values (numbers or words) and none missing; the
    sorted second one is the positive class (1 for a 0/1 column). Everything else must be a number or a
    missing cell (MISSING_TOKENS). A problem is an InputFileError naming the file and line."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            rows = [(reader_line, row) for reader_line, row in _rows(csv.reader(f)) if any(c.strip() for c in row)]
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such file") from None
    except (UnicodeDecodeError, csv.Error) as err:
        raise InputFileError(f"{path}: not a readable CSV text file ({err})") from None
    if not rows:
        raise InputFileError(f"{path}: empty file; expected a header row and one record per line")
    header_line, header = rows[0]
    header = [h.strip() for h in header]
    if target not in header:
        raise InputFileError(f"{path}:{header_line}: no column {target!r} in the header "
                             f"(columns: {', '.join(header)})")
    t = header.index(target)
    features = [h for i, h in enumerate(header) if i != t]
    values, labels = [], []
    for line, row in rows[1:]:
        if len(row) != len(header):
            raise InputFileError(f"{path}:{line}: {len(row)} fields, expected {len(header)} as in the header")
        label = row[t].strip()
        if label.lower() in MISSING_TOKENS:
            raise InputFileError(f"{path}:{line}: the target {target!r} is missing; every record needs its outcome")
        labels.append(label)
        values.append([_number(cell, path, line, name) for i, (cell, name) in enumerate(zip(row, header)) if i != t])
    if len(values) < MIN_ROWS:
        raise InputFileError(f"{path}: {len(values)} records; expected at least {MIN_ROWS}")
    x = np.array(values, dtype=np.float64)
    empty = [f for f, col in zip(features, x.T) if np.isnan(col).all()]
    if empty:
        raise InputFileError(f"{path}: column {empty[0]!r} has no value in any record; remove it")
    classes = sorted(set(labels), key=_label_key)
    if len(classes) != 2:
        raise InputFileError(f"{path}: target {target!r} has {len(classes)} distinct values "
                             f"({', '.join(classes[:5])}{', ...' if len(classes) > 5 else ''}); expected two (a binary outcome)")
    y = np.array([classes.index(v) for v in labels], dtype=np.int64)
    return x, y, features, classes


def _rows(reader):
    for row in reader:
        yield reader.line_num, row


def _number(cell: str, path: Path, line: int, column: str) -> float:
    text = cell.strip()
    if text.lower() in MISSING_TOKENS:
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise InputFileError(f"{path}:{line}: column {column!r} holds {text!r}; expected a number "
                             "(or an empty cell for a missing value)") from None
    if not math.isfinite(value):
        raise InputFileError(f"{path}:{line}: column {column!r} holds {text!r}; expected a finite number")
    return value


def _label_key(v: str):
    try:
        return (0, float(v), v)
    except ValueError:
        return (1, 0.0, v)


def stratified_split(y: np.ndarray, valid: float, test: float, rng: np.random.Generator) -> list[np.ndarray]:
    """Indices [train, valid, test], each class shared out in the same proportions (sorted within a split)."""
    parts: list[list[int]] = [[], [], []]
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_test, n_valid = int(round(test * len(idx))), int(round(valid * len(idx)))
        for k, chunk in enumerate((idx[n_test + n_valid:], idx[n_test:n_test + n_valid], idx[:n_test])):
            parts[k].extend(chunk.tolist())
    return [np.sort(np.array(p, dtype=np.int64)) for p in parts]


def observed_moments(x: np.ndarray, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and standard deviation [1, d] over the observed entries (std 1 where it is 0 or unknown)."""
    vals = np.where(observed, x, np.nan)
    with warnings.catch_warnings():  # an all-gap column in the train split: mean 0, std 1
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(vals, axis=0, keepdims=True)
        std = np.nanstd(vals, axis=0, keepdims=True)
    mean = np.nan_to_num(mean)
    std = np.where(np.isfinite(std) & (std > 0), std, 1.0)
    return mean, std
