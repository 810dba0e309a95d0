"""One training per run directory at a time.

Two `gensci train ... --out r` started together would both write into r: metrics.jsonl would interleave their
steps and each would overwrite the other's checkpoints. `run_lock(r)` takes an exclusive advisory lock
(fcntl.flock) on r/.train.lock for as long as the training runs and writes the holder's pid into it; a second
start finds it taken and stops with one line naming that pid. The kernel releases the lock when the holder's file
is closed or its process ends, however it ends (SIGKILL included), so a crashed training never leaves a stale lock;
the file itself stays (deleting it on release would let a third process lock a file nobody else sees).

Under torchrun only rank 0 takes the lock: the other ranks never write into the run directory, and when rank 0
refuses, torchrun stops the whole group. Without fcntl (Windows) there is no lock.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from gensci.errors import UserError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks here
    fcntl = None

LOCK_NAME = ".train.lock"


class RunInUseError(UserError):
    """The run directory is being trained by another process."""


@contextmanager
def run_lock(run_dir: str | Path, rank: int | None = None) -> Iterator[Path | None]:
    """Hold run_dir/.train.lock for the duration (creating run_dir); a RunInUseError when another process holds it.
    rank: the process's rank under torchrun (default: $RANK, 0); ranks other than 0 take no lock. Yields the lock
    file's path (None when no lock was taken)."""
    rank = int(os.environ.get("RANK", 0)) if rank is None else rank
    if fcntl is None or rank != 0:
        yield None
        return
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)  # programs it starts do not inherit it
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise RunInUseError(f"{run_dir} is in use by another training (pid {holder}); wait for it to end, "
                                "or give another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)  # closing the only descriptor of this open file releases the lock
