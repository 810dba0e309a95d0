"""Training speed with and without `train.compile` (torch.compile of the method's networks), as a ratio in one run.

    python benchmarks/training/compile_speed.py [--presets lensing-diffusion ising-diffusion] [--steps 300]
                                                [--out /tmp/compile] [--report benchmarks/training/README.md]

For each preset, trains --steps steps twice in child processes at one thread (`gensci train PRESET --max-steps N
--set train.threads=1 --set train.compile=false|true`, no periodic evaluation), one after the other, and reads the
runs' metrics.jsonl: steady-state seconds per step (the median of the logged rows after the first quarter of the
steps) and the overhead before it (the training time of the first logged row beyond eager's), which for the compiled
run is the compilation (cold: inductor's caches disabled; a second compiled run on the same machine reuses
its cached kernels and starts in seconds). Inserts into --report's history a dated section: a table with the ratio
and the steps each would make in 60 minutes of training, with the command and the load average (other jobs on the
2 cores slow both runs alike only if steady).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def timing(run: Path, steps: int) -> tuple[float, float]:
    """(seconds per step at steady state, training time at the first logged step) of a finished run."""
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in rows if r.get("kind") == "train"]
    steady = [1 / r["steps_per_s"] for r in train if r["step"] > steps // 4 and r.get("steps_per_s")]
    return statistics.median(steady), train[0]["time"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--presets", nargs="+", default=["lensing-diffusion", "ising-diffusion"])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--out", type=Path, default=Path("/tmp/compile"))
    ap.add_argument("--report", type=Path, default=Path(__file__).with_name("README.md"))
    args = ap.parse_args()
    load_before = os.getloadavg()[0]
    lines = ["| preset | eager s/step | compiled s/step | speed-up | compilation s | steps in 60 min, eager | compiled |",
             "|---|---|---|---|---|---|---|"]
    for preset in args.presets:
        measured = {}
        for compiled in (False, True):
            out = args.out / f"{preset}-{'compiled' if compiled else 'eager'}"
            cmd = [sys.executable, "-m", "gensci", "train", preset, "--out", str(out), "--quiet",
                   "--max-steps", str(args.steps), "--set", "train.threads=1", "--set", "train.eval_every=null",
                   "--set", "train.max_minutes=null", "--set", f"train.compile={str(compiled).lower()}"]
            shutil.rmtree(out, ignore_errors=True)
            # a cold compilation, as on a fresh machine (inductor otherwise reuses kernels cached by earlier runs)
            subprocess.run(cmd, check=True, env=os.environ | {"OMP_NUM_THREADS": "1", "TORCHINDUCTOR_FORCE_DISABLE_CACHES": "1"})
            measured[compiled] = timing(out, args.steps)
        (eager, eager_first), (fast, first) = measured[False], measured[True]
        overhead = max(0.0, first - eager_first)
        lines.append(f"| {preset} | {eager:.3f} | {fast:.3f} | {eager / fast:.2f}x | {overhead:.0f} | "
                     f"{3600 / eager:,.0f} | {(3600 - overhead) / fast:,.0f} |")
    command = "python benchmarks/training/compile_speed.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    text = (f"### {time.strftime('%Y-%m-%d')}: `{command.strip()}`\n\n"
            f"{args.steps} steps per run, one thread; load average {load_before:.1f} before, "
            f"{os.getloadavg()[0]:.1f} after (2 cores).\n\n" + "\n".join(lines) + "\n")
    print(text)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from common import add_to_history  # benchmarks/common.py: a dated section at the top of the history

    add_to_history(args.report, text)


if __name__ == "__main__":
    main()
