"""gensci.files.atomic_write: whole files or none, usual permissions."""

import os

import numpy as np
import pytest

from gensci.files import atomic_write


def test_text_bytes_and_writers(tmp_path):
    assert atomic_write(tmp_path / "a" / "x.txt", "hello").read_text() == "hello"
    assert atomic_write(tmp_path / "y.bin", b"\x00\x01").read_bytes() == b"\x00\x01"
    path = atomic_write(tmp_path / "z.npz", lambda p: np.savez(p, v=np.arange(3)))
    assert np.load(path)["v"].tolist() == [0, 1, 2]
    assert sorted(os.listdir(tmp_path)) == ["a", "y.bin", "z.npz"]  # no temporary files left


def test_a_failed_writer_keeps_the_old_file(tmp_path):
    path = atomic_write(tmp_path / "x.txt", "old")

    def boom(p):
        p.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_write(path, boom)
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["x.txt"]


def test_files_get_the_usual_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        path = atomic_write(tmp_path / "x.txt", "text")
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644
