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
  selection:  with best.pt, {"metric": name, "value": v, "mode": "min" | "max"}
A run's checkpoints/ holds last.pt, best.pt (when periodic evaluation selects one) and step_XXXXXXXX.pt.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import torch

from gensci.errors import CheckpointError
from gensci.files import atomic_write

FORMAT = "gensci-checkpoint-1"


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write to a temporary file in the same folder, fsync, then rename over `path`.

    A crash (even SIGKILL) leaves either the old file or the new one, never a torn one.
    """
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **payload}, buffer)
    return atomic_write(path, buffer.getvalue())


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load without unpickling arbitrary objects (weights_only=True).

    A missing, truncated or corrupt file, or one that is not a gensci checkpoint, raises CheckpointError
    naming the file."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(f"{path}: refused to load: it holds objects other than tensors and plain data "
                              "(gensci never unpickles arbitrary objects); it is not a gensci checkpoint") from None
    except Exception as err:  # noqa: BLE001 -- only torch.load of the user's file is inside: damage, not a bug
        first = str(err).strip().splitlines()[0].split(". ")[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated, corrupt or not a PyTorch file: "
                              f"{first[:160]})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a gensci checkpoint (no '{FORMAT}' format tag)")
    return ckpt


def checkpoint_candidates(folder: str | Path) -> list[Path]:
    """last.pt first, then the periodic step_*.pt newest first: the order in which to resume."""
    folder = Path(folder)
    periodic = sorted(folder.glob("step_*.pt"), reverse=True)
    return [p for p in [folder / "last.pt", *periodic] if p.exists()]


def load_newest_readable(folder: str | Path) -> tuple[Path, dict[str, Any], list[str]]:
    """(path, checkpoint, problems) of the newest readable checkpoint in `folder`; problems lists the
    unreadable ones skipped. CheckpointError when none can be read."""
    problems = []
    for path in checkpoint_candidates(folder):
        try:
            return path, load_checkpoint(path), problems
        except CheckpointError as err:
            problems.append(str(err))
    detail = f" ({'; '.join(problems)})" if problems else ""
    raise CheckpointError(f"{folder}: no readable checkpoint to resume from{detail}")


def all_finite(state_dict: dict[str, Any]) -> bool:
    """True when every floating-point tensor of a state dict is finite (never save diverged weights)."""
    return all(bool(torch.isfinite(v).all()) for v in state_dict.values()
               if isinstance(v, torch.Tensor) and v.is_floating_point())
