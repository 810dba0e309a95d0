"""What every data set returns: three splits of dict-of-tensor items plus plain metadata.

A data set class (registered in gensci.registry.DATASETS) has
- `Config`: a `gensci.config.DataConfig` subclass with `name: Literal["..."]`;
- `domain`: the workflow that evaluates and plots it ("radio", "molecules", "images");
- `load(config) -> DataSplits` (a classmethod).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch.utils.data import Dataset


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
    """Collate for TensorDictDataset.__getitems__ (already a batch)."""
    return items[0]


@dataclass
class DataSplits:
    train: Dataset
    valid: Dataset
    test: Dataset
    info: dict[str, Any] = field(default_factory=dict)  # plain data only: it goes into checkpoints
    collate: Callable | None = collate_gathered
