"""Writing files so that a crash never leaves a torn one: every cache, checkpoint and output goes through here."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable


def atomic_write(path: str | Path, content: str | bytes | Callable[[Path], None]) -> Path:
    """Write `content` to `path` atomically: a temporary file in the same folder, fsync, rename.

    `content` is text, bytes, or a function that writes a given temporary path (e.g.
    `lambda p: np.savez(p, ...)`, `lambda p: torch.save(obj, p)`). A crash (even SIGKILL) leaves the
    old file or the new one, never a torn one; concurrent writers each rename a whole file.
    The temporary name keeps the suffix, so writers that append one (numpy's .npz) write where asked.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
    tmp = Path(tmp_name)
    try:
        if callable(content):
            os.close(fd)
            content(tmp)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(content.encode() if isinstance(content, str) else content)
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, _default_mode())  # mkstemp makes 0600 files; outputs get the usual permissions
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open folders
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def file_stamps(folder: str | Path, depth: int = 2) -> dict[Path, tuple[int, int]]:
    """{file: (mtime_ns, size)} for the files in `folder` and its sub-folders down to `depth` levels; {} when it
    does not exist. Two stamps taken around a command tell what it wrote (`written_since`)."""
    folder, stamps = Path(folder), {}
    if not folder.is_dir():
        return stamps
    level = [folder]
    for _ in range(depth):
        below = []
        for d in level:
            for p in d.iterdir():
                if p.is_dir():
                    below.append(p)
                elif p.is_file():
                    stat = p.stat()
                    stamps[p] = (stat.st_mtime_ns, stat.st_size)
        level = below
    return stamps


def written_since(before: dict[Path, tuple[int, int]], folder: str | Path, depth: int = 2) -> list[Path]:
    """The files under `folder` created or rewritten since the stamps `before` (file_stamps), sorted."""
    return sorted(p for p, stamp in file_stamps(folder, depth).items() if before.get(p) != stamp)
