import os

import pytest
import torch

from gensci.errors import CheckpointError
from gensci.train.checkpoint import load_checkpoint, load_newest_readable, save_checkpoint


def test_roundtrip_and_no_temp_left(tmp_path):
    path = tmp_path / "ck" / "last.pt"
    save_checkpoint(path, {"method": {"w": torch.arange(3.0)}, "state": {"step": 3}})
    save_checkpoint(path, {"method": {"w": torch.arange(4.0)}, "state": {"step": 4}})
    ck = load_checkpoint(path)
    assert ck["state"]["step"] == 4 and torch.equal(ck["method"]["w"], torch.arange(4.0))
    assert os.listdir(path.parent) == ["last.pt"]


def test_failed_write_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"state": {"step": 1}})

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError):
        save_checkpoint(path, {"state": {"step": 2}})
    monkeypatch.undo()
    assert load_checkpoint(path)["state"]["step"] == 1
    assert os.listdir(tmp_path) == ["last.pt"]


class Evil:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_loading_refuses_arbitrary_objects(tmp_path):
    path, marker = tmp_path / "evil.pt", tmp_path / "ran"
    torch.save({"format": "gensci-checkpoint-1", "x": Evil(marker)}, path)
    with pytest.raises(CheckpointError, match="refused to load"):
        load_checkpoint(path)
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["truncate", "garbage", "not_gensci"])
def test_damaged_checkpoints_are_one_user_error_naming_the_file(tmp_path, damage):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"method": {"w": torch.randn(1000)}, "state": {"step": 1}})
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:500])
    elif damage == "garbage":
        path.write_bytes(b"this is not a checkpoint")
    else:
        torch.save({"w": torch.zeros(3)}, path)
    with pytest.raises(CheckpointError, match=str(path)) as err:
        load_checkpoint(path)
    assert "\n" not in str(err.value)


def test_resume_candidates_fall_back_to_the_newest_readable(tmp_path):
    folder = tmp_path / "checkpoints"
    for step in (100, 200):
        save_checkpoint(folder / f"step_{step:08d}.pt", {"state": {"step": step}})
    save_checkpoint(folder / "last.pt", {"state": {"step": 250}})
    (folder / "last.pt").write_bytes(b"torn")
    path, ckpt, problems = load_newest_readable(folder)
    assert path.name == "step_00000200.pt" and ckpt["state"]["step"] == 200
    assert len(problems) == 1 and "last.pt" in problems[0]
    for p in folder.iterdir():
        p.write_bytes(b"torn")
    with pytest.raises(CheckpointError, match="no readable checkpoint"):
        load_newest_readable(folder)
