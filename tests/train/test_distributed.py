import subprocess
import sys
from pathlib import Path

import pytest
import torch.distributed as dist

WORKER = Path(__file__).with_name("ddp_worker.py")


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed unavailable")
@pytest.mark.parametrize("which", ["toy", "toy-timed-cosine", "wgan-gp", "midi", pytest.param("edm-compiled", marks=pytest.mark.slow)])
def test_two_cpu_processes_hold_identical_weights(tmp_path, which):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(WORKER),
           str(tmp_path), which]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = (tmp_path / "ddp_report.txt").read_text().split()
    max_diff, changed = float(report[0]), float(report[1])
    assert max_diff == 0.0  # DDP averaged the gradients: every rank took the same steps
    assert changed > 0  # and the weights did move
    assert (tmp_path / "run" / "checkpoints" / "last.pt").exists()
    assert not list(tmp_path.glob("run/checkpoints/*.tmp"))
