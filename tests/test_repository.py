"""The repository stays light: no tracked file over 25 MB, and no resumable state of a finished training.

Finished trainings ship their EMA weights (src/gensci/weights) and keep only config.yaml and metrics.jsonl under
benchmarks/runs/; a training still in progress may keep one resumable state. The list of runs in progress is
.gitignore's `!benchmarks/runs/NAME/checkpoints/` lines (one place: git itself then refuses to add a finished
run's checkpoint without -f).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_BYTES = 25_000_000  # the limit for any tracked file
RUNS = "benchmarks/runs/"
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt", ".safetensors", ".bin", ".npz", ".pkl")
IN_PROGRESS_LINE = re.compile(r"^!/?benchmarks/runs/([^/*?\[\]]+)/checkpoints/?$")


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def tracked() -> dict[str, int]:
    """Every file in git's index with its size in bytes (the blob's, so a file missing from disk still counts)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    entries = [line.split(maxsplit=3) for line in _git("ls-files", "-s").splitlines()]  # mode, sha, stage, path
    shas = "\n".join(e[1] for e in entries) + "\n"
    sizes = subprocess.run(["git", "-C", str(ROOT), "cat-file", "--batch-check=%(objectsize)"], input=shas,
                           check=True, capture_output=True, text=True).stdout.split()
    return {e[3]: int(s) for e, s in zip(entries, sizes)}


def in_progress_runs(gitignore: str) -> set[str]:
    """Run names whose checkpoints .gitignore re-includes: the trainings in progress."""
    return {m.group(1) for line in gitignore.splitlines() if (m := IN_PROGRESS_LINE.match(line.strip()))}


def finished_run_checkpoints(paths, in_progress: set[str]) -> list[str]:
    """Tracked checkpoint-like files under benchmarks/runs/ of runs not in progress."""
    return [p for p in paths if p.startswith(RUNS) and p.endswith(CHECKPOINT_SUFFIXES)
            and p[len(RUNS):].split("/")[0] not in in_progress]


def test_no_tracked_file_over_25_mb(tracked):
    big = {p: s for p, s in tracked.items() if s > MAX_BYTES}
    assert not big, f"tracked files over {MAX_BYTES / 1e6:.0f} MB: {big}"


def test_no_checkpoint_of_a_finished_run_is_tracked(tracked):
    in_progress = in_progress_runs((ROOT / ".gitignore").read_text())
    stale = finished_run_checkpoints(tracked, in_progress)
    assert not stale, (f"tracked checkpoints of finished runs (ship their EMA weights, then `git rm --cached`): {stale}; "
                       f"runs in progress (.gitignore): {sorted(in_progress)}")


def test_a_run_in_progress_keeps_one_state(tracked):
    in_progress = in_progress_runs((ROOT / ".gitignore").read_text())
    for name in in_progress:
        states = [p for p in tracked if p.startswith(f"{RUNS}{name}/") and p.endswith(CHECKPOINT_SUFFIXES)]
        assert len(states) <= 1, f"{name} is in progress and may keep one resumable state, not {states}"


def test_gitignore_is_true(tracked):
    """No tracked file matches .gitignore (it used to list benchmarks/runs/ while 15 files under it were tracked)."""
    ignored = _git("ls-files", "-ci", "--exclude-standard").split("\n")
    assert [p for p in ignored if p] == []


def test_checkpoint_rules_catch_what_they_should():
    """The two rules above on made-up listings, so that they are known to be able to fail."""
    gitignore = "runs/\nbenchmarks/runs/*/*\n!benchmarks/runs/*/config.yaml\n!benchmarks/runs/a/checkpoints/\n"
    assert in_progress_runs(gitignore) == {"a"}
    paths = [f"{RUNS}a/checkpoints/last.pt", f"{RUNS}b/checkpoints/last.pt", f"{RUNS}b/config.yaml",
             f"{RUNS}c/checkpoints/best.safetensors", "src/gensci/weights/x.safetensors"]
    assert finished_run_checkpoints(paths, in_progress_runs(gitignore)) == [paths[1], paths[3]]
