"""Device choice: CPU by default here, CUDA when present (`train.device=auto|cpu|cuda|cuda:1`)."""

from __future__ import annotations

import os

import torch


def resolve_device(name: str | torch.device = "auto", local_rank: int | None = None) -> torch.device:
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        rank = local_rank if local_rank is not None else int(os.environ.get("LOCAL_RANK", 0))
        if not torch.cuda.is_available():
            raise RuntimeError("train.device=cuda but no CUDA device is available; use train.device=cpu")
        return torch.device("cuda", rank % torch.cuda.device_count())
    return torch.device(name)
