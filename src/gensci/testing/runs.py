"""A run directory holding an untrained method: exercises sample/evaluate/report without training."""

from __future__ import annotations

from pathlib import Path

import torch

from gensci.config import ExperimentConfig
from gensci.train.checkpoint import save_checkpoint
from gensci.workflows.base import Run, build_method, load_data
from gensci.files import atomic_write


def untrained_run(config: ExperimentConfig, path: str | Path, seed: int = 0) -> Run:
    """Write config.yaml and checkpoints/last.pt (freshly initialised weights, no EMA) into `path`."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    atomic_write(path / "config.yaml", config.to_yaml())
    data = load_data(config)
    torch.manual_seed(seed)
    method = build_method(config, data.info)
    save_checkpoint(path / "checkpoints" / "last.pt",
                    {"method": method.state_dict(), "ema": None, "info": data.info, "config": config.model_dump(mode="json")})
    return Run(path)
