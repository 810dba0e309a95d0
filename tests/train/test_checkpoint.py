import os
import pickle

import pytest
import torch

from gensci.train.checkpoint import load_checkpoint, save_checkpoint


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
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_loading_refuses_arbitrary_objects(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "gensci-checkpoint-1", "x": Evil()}, path)
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint(path)
