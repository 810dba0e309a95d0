"""What every data set returns: three splits of dict-of-tensor items plus plain metadata.

A data set class (registered in gensci.registry.DATASETS) has
- `Config`: a `gensci.config.DataConfig` subclass with `name: Literal["..."]`;
- `spec(config) -> DataSpec` (a classmethod, cheap: nothing is loaded): its domain (the workflow
  that evaluates and plots it: "radio", "molecules", "images", ...), the tensors of one item, the
  keys of its `info`, and the value range of its value fields (gensci.spec);
- `load(config) -> DataSplits` (a classmethod).
`gensci.workflows.base.load_data` attaches the spec to the splits and writes the value ranges into
`info["value_ranges"]` (plain data), so methods built from `info` know them too.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch.utils.data import Dataset

from gensci.spec import DataSpec


class TensorDictDataset(Dataset):
    """Items are dicts `{key: tensors[key][i]}` of equally long tensors."""

    def __init__(self, tensors: dict[str, torch.Tensor]):
        lengths = {len(t) for t in tensors.values()}
        if len(lengths) != 1:
            raise ValueError(f"tensors differ in length: { {k: len(t) for k, t in tensors.items()} }")
        self.tensors = tensors

    def __len__(self) -> int:
        return len(next(iter(self.tensors.values())))

    def __getitem__(self, i):
        return {k: t[i] for k, t in self.tensors.items()}

    def __getitems__(self, indices):  # batched fetch: one gather per tensor, not per item
        idx = torch.as_tensor(indices)
        return [{k: t[idx] for k, t in self.tensors.items()}]


def collate_gathered(items: list[dict]) -> dict:
    """Collate for TensorDictDataset.__getitems__ (already a batch); point clouds are trimmed."""
    return trim_padding(items[0])


def trim_padding(batch: dict, pair_keys: tuple[str, ...] = ()) -> dict:
    """Cut padded point clouds to the largest real size in the batch.

    With a `node_mask` [B, N], every tensor whose dim 1 has size N is sliced to
    n_max = max real nodes; padding only costs work (QM9: mean 18 of 29 atoms).
    Tensors named in `pair_keys` ([B, N, N, ...], e.g. bond matrices) are sliced in dims 1 and 2.
    """
    mask = batch.get("node_mask")
    if not isinstance(mask, torch.Tensor) or mask.dim() != 2:
        return batch
    n = mask.shape[1]
    n_max = int(mask.sum(1).max().item()) if mask.numel() else 0
    if n_max == n:
        return batch
    out = {k: v[:, :n_max] if isinstance(v, torch.Tensor) and v.dim() >= 2 and v.shape[1] == n else v
           for k, v in batch.items()}
    return out | {k: out[k][:, :, :n_max] for k in pair_keys if k in out}


@dataclass
class DataSplits:
    train: Dataset
    valid: Dataset
    test: Dataset
    info: dict[str, Any] = field(default_factory=dict)  # plain data only: it goes into checkpoints
    collate: Callable | None = collate_gathered
    spec: DataSpec | None = None  # set by workflows.base.load_data from the data class


def ranges_as_info(spec: DataSpec) -> dict[str, dict[str, Any]]:
    """The spec's value ranges as plain data for `info["value_ranges"]` (low/high/values; None = unbounded)."""
    return {k: {"low": r.low, "high": r.high, "values": list(r.values) if r.values else None}
            for k, r in spec.ranges.items()}


def config_digest(key: object) -> str:
    """A short stable name for a cache file: the SHA-256 of `key` as sorted JSON (a config's fields and a
    simulator version), first 16 hex digits."""
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def default_cache_dir() -> Path:
    """`$GENSCI_CACHE`, else the platform's user cache directory + /gensci."""
    if os.environ.get("GENSCI_CACHE"):
        return Path(os.environ["GENSCI_CACHE"]).expanduser()
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / "gensci" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "gensci"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gensci"
