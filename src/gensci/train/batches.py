"""Seeded, resumable, rank-sharded batches: the data position is (epoch, batch index)."""

from __future__ import annotations

from typing import Callable, Iterator

from torch.utils.data import Dataset, DistributedSampler
from torch.utils.data._utils.collate import default_collate

from gensci.errors import ConfigError


class EpochBatches:
    """Index batches for one epoch: a permutation seeded by (seed, epoch), sharded across ranks
    by torch's DistributedSampler, cut into full batches, starting at `start` (for resume)."""

    def __init__(self, dataset: Dataset, batch_size: int, seed: int, rank: int = 0, world_size: int = 1):
        if len(dataset) < batch_size * world_size:
            raise ConfigError(
                f"the training split has {len(dataset)} items, fewer than one batch "
                f"({batch_size} x {world_size} processes); lower train.batch_size"
            )
        self.dataset = dataset
        self.batch_size = batch_size
        self.sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed, drop_last=True)

    def __len__(self) -> int:
        return len(self.sampler) // self.batch_size

    def epoch(self, epoch: int, start: int = 0) -> Iterator[list[int]]:
        self.sampler.set_epoch(epoch)
        indices = list(self.sampler)
        for b in range(start, len(self)):
            yield indices[b * self.batch_size : (b + 1) * self.batch_size]


def fetch(dataset: Dataset, indices: list[int], collate: Callable | None) -> dict:
    if hasattr(dataset, "__getitems__"):
        items = dataset.__getitems__(indices)
    else:
        items = [dataset[i] for i in indices]
    return (collate or default_collate)(items)
