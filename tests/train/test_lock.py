"""One training per run directory: a second start is refused in one line naming the first one's pid."""

import os
import subprocess
import sys

import pytest
import yaml

from gensci import api
from gensci.config import validate
from gensci.testing.toy import toy_config
from gensci.train.lock import LOCK_NAME, RunInUseError, run_lock


def test_a_second_lock_on_the_same_directory_is_refused_until_the_first_is_released(tmp_path):
    with run_lock(tmp_path / "r") as path:
        assert path.read_text().strip() == str(os.getpid())
        with pytest.raises(RunInUseError, match=f"r is in use by another training \\(pid {os.getpid()}\\)"):
            with run_lock(tmp_path / "r"):
                pass
        with run_lock(tmp_path / "other"):  # another directory is free
            pass
    with run_lock(tmp_path / "r"):  # released at exit
        pass


def test_only_rank_zero_locks(tmp_path):
    with run_lock(tmp_path / "r"):
        with run_lock(tmp_path / "r", rank=1) as path:  # other ranks never write into the run directory
            assert path is None


def test_training_is_refused_while_another_process_trains_into_the_directory(tmp_path):
    run_dir = tmp_path / "r"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from gensci.train.lock import run_lock\n"
         f"with run_lock({str(run_dir)!r}):\n    print('locked', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunInUseError, match=f"in use by another training \\(pid {holder.pid}\\)"):
            api.train(validate(toy_config()), run_dir)
        assert not (run_dir / "metrics.jsonl").exists()  # the refused start wrote nothing
    finally:
        holder.communicate("")  # end of stdin: the holder exits and its lock goes with it
    run, result = api.train(validate(toy_config()), run_dir)  # free again
    assert result.steps == 20 and (run_dir / LOCK_NAME).exists()


def test_the_command_line_refuses_in_one_line(tmp_path):
    cfg = tmp_path / "toy.yaml"
    cfg.write_text(yaml.safe_dump(toy_config()))
    cmd = [sys.executable, "-m", "gensci", "train", str(cfg), "--out", str(tmp_path / "r"), "--quiet"]
    with run_lock(tmp_path / "r"):
        result = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "GENSCI_PLUGINS":
                                                                          "gensci.testing.toy:register_toy"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"error: {tmp_path / 'r'} is in use by another training "
                                                  f"(pid {os.getpid()}); wait for it to end, or give another --out"]


def test_train_applies_every_argument_to_a_config_object(tmp_path):
    config = validate(toy_config(max_steps=20))
    run, result = api.train(config, tmp_path / "r", max_steps=7, max_minutes=3.0, seed=5, overrides=["train.lr=0.005"])
    saved = yaml.safe_load((run.path / "config.yaml").read_text())
    assert result.steps == 7
    assert (saved["seed"], saved["train"]["max_steps"], saved["train"]["max_minutes"], saved["train"]["lr"]) == \
        (5, 7, 3.0, 0.005)
    assert (config.seed, config.train.max_steps, config.train.lr) == (0, 20, toy_config()["train"]["lr"])  # unchanged
