"""Checkpoints: tensors and plain data only, written atomically, loaded with weights_only=True.

Layout of a checkpoint dict:
  format:     "gensci-checkpoint-1"
  method:     the method's state_dict (unwrapped from DDP)
  ema:        the EMA copy's state_dict, or None
  optimizers: {name: optimizer.state_dict()}
  state:      plain trainer state (step, epoch, batch position, elapsed seconds, clipping history)
  rng:        {"torch": ByteTensor, "cuda": [ByteTensor, ...]}
  config:     the resolved experiment config (plain dict)
  info:       the data set's plain metadata the method was built from
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

FORMAT = "gensci-checkpoint-1"


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write to a temporary file in the same folder, fsync, then rename over `path`.

    A crash (even SIGKILL) leaves either the old file or the new one, never a torn one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save({"format": FORMAT, **payload}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load without unpickling arbitrary objects (weights_only=True)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError(f"{path} is not a gensci checkpoint (format {ckpt.get('format') if isinstance(ckpt, dict) else type(ckpt)})")
    return ckpt
