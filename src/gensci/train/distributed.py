"""torch.distributed under torchrun: process group, DDP wrapping, rank-aware helpers.

`torchrun --nproc_per_node=N gensci train ...` sets RANK/WORLD_SIZE/LOCAL_RANK; the
trainer then initialises a process group (gloo on CPU, NCCL on CUDA) and wraps each
trainable network of the method in DistributedDataParallel, so gradients are
averaged across processes inside backward().
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device: torch.device) -> DistInfo:
    world = int(os.environ.get("WORLD_SIZE", 1))
    if world <= 1:
        return DistInfo()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))


def local_rank_from_env() -> int:
    return int(os.environ.get("LOCAL_RANK", 0))


def trainable_children(method: nn.Module) -> list[tuple[str, nn.Module]]:
    """The method's direct children holding trainable parameters (its networks), with their names."""
    return [(name, child) for name, child in method.named_children() if any(p.requires_grad for p in child.parameters())]


def wrap_ddp(method: nn.Module, device: torch.device) -> list[str]:
    """Replace each direct child holding trainable parameters by DDP(child); return the names wrapped."""
    ids = [device.index] if device.type == "cuda" else None
    wrapped = []
    for name, child in trainable_children(method):
        setattr(method, name, DistributedDataParallel(child, device_ids=ids))
        wrapped.append(name)
    return wrapped


def unwrapped_state_dict(method: nn.Module, wrapped: list[str]) -> dict[str, torch.Tensor]:
    """The method's state_dict with DDP's `.module` removed, so checkpoints load without DDP."""
    state = method.state_dict()
    prefixes = {f"{n}.module.": f"{n}." for n in wrapped}
    out = {}
    for key, value in state.items():
        for old, new in prefixes.items():
            if key.startswith(old):
                key = new + key[len(old):]
                break
        out[key] = value
    return out


def from_rank0(value: float, info: DistInfo, device: torch.device) -> float:
    """Rank 0's value on every rank (the wall clock: each rank's own would stop or schedule them apart)."""
    if not info.enabled:
        return value
    t = torch.tensor([float(value)], dtype=torch.float64, device=device)
    dist.broadcast(t, src=0)
    return float(t.item())


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def unwrap_ddp(method: nn.Module, wrapped: list[str]) -> None:
    """Undo wrap_ddp: put each child's own module back in place of its DDP wrapper."""
    for name in wrapped:
        setattr(method, name, getattr(method, name).module)


def shutdown(info: DistInfo) -> None:
    """Leave the process group in step with the other ranks.

    A rank that tears gloo down while its peer is still communicating, or that leaves
    DDP reducers holding pending work to interpreter finalisation, can abort with
    "terminate called without an active exception"; hence barrier, collect, destroy.
    """
    if info.enabled and dist.is_initialized():
        dist.barrier()
        gc.collect()
        dist.destroy_process_group()
