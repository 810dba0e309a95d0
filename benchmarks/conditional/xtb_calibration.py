"""GFN2-xTB vs QM9's DFT: the calibration that maps xTB's gap and dipole onto QM9's B3LYP/6-31G(2df,p) scale.

Runs a GFN2-xTB single point (gensci.chem.xtb, tblite) on N random molecules of EDM's QM9 test split at their
DFT-optimised geometries, fits DFT ~ slope * xTB + offset by least squares for the HOMO-LUMO gap (eV) and the
dipole magnitude (Debye), and writes the fits with their statistics (residual spread, Pearson r, MAE before and
after calibration, in sample and 5-fold cross-validated, failures), the command, n, seed, CPU time and the
per-molecule xTB values to the shipped reference src/gensci/references/qm9_xtb_calibration.json.

Why the test split: xTB is trained on nothing here, but the generators (EDM's second half of the train split)
and the evaluator networks (its first half) are; molecules none of them saw keep the calibration independent
of both, and the same calibration serves every conditional model.

Usage (one thread; needs `pip install 'gensci[xtb]'`):
    OMP_NUM_THREADS=1 /usr/bin/time -v .venv/bin/python benchmarks/conditional/xtb_calibration.py
    [--n 500] [--seed 0] [--out PATH] (--out elsewhere leaves the shipped file alone)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/common.py
from common import command_line, load_average, run_main  # noqa: E402

from gensci.chem.xtb import CALIBRATION_FILE, METHOD, PROPERTY_UNITS, fit_calibration, xtb_properties  # noqa: E402
from gensci.data import qm9  # noqa: E402
from gensci.files import atomic_write  # noqa: E402
from gensci.workflows.molecule_references import qm9_molecules, random_subset  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "src" / "gensci" / "references" / CALIBRATION_FILE
SPLIT = "test"


def calibrate(n: int, seed: int, threads: int = 1) -> dict:
    """The calibration record (module docstring) of n random test-split molecules drawn with `seed`."""
    arrays = qm9.load_arrays()
    positions = random_subset(SPLIT, n, seed)
    rows = qm9.split_rows(SPLIT)[positions]
    molecules = qm9_molecules(SPLIT, positions=positions)
    load = load_average()
    wall, cpu = time.perf_counter(), time.process_time()
    computed = xtb_properties(molecules, threads=threads)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    fits = {name: {"unit": unit, **fit_calibration(computed[name], arrays[name][rows], seed=seed)}
            for name, unit in PROPERTY_UNITS.items()}
    return {
        "description": f"{METHOD} vs QM9's DFT (B3LYP/6-31G(2df,p)): DFT ~ slope * xTB + offset, least squares",
        "method": f"{METHOD} single point at QM9's DFT geometry (tblite {metadata.version('tblite')}; neutral, closed "
                  "shell, tblite's defaults: accuracy 1, 300 K electronic temperature)",
        "data": f"{n} random molecules of EDM's QM9 test split (seed {seed})",
        "command": f"OMP_NUM_THREADS={threads} " + command_line(),
        "n": n, "seed": seed, "split": SPLIT, "threads": threads,
        "n_failed": len(computed["failures"]),
        "failures": {str(molecules[k].name): why for k, why in computed["failures"].items()},
        "xtb_cpu_s": round(cpu, 2), "xtb_wall_s": round(wall, 2), "load_average": round(load, 2),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "fits": fits,
        "molecules": {  # per molecule, for reruns and tests: QM9 index and the raw xTB values (null: failed)
            "qm9_index": [int(i) for i in arrays["index"][rows]],
            **{f"xtb_{name}": [None if not np.isfinite(v) else round(float(v), 5) for v in computed[name]]
               for name in PROPERTY_UNITS},
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="molecules of the test split (default 500)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random subset and the CV folds")
    parser.add_argument("--threads", type=int, default=1, help="OpenMP threads of tblite (default 1)")
    parser.add_argument("--out", type=Path, default=SHIPPED, help="where to write the record (default: shipped)")
    args = parser.parse_args()
    record = calibrate(args.n, args.seed, args.threads)
    atomic_write(args.out, json.dumps(record, indent=1) + "\n")
    summary = {k: v for k, v in record.items() if k not in ("molecules", "failures")}
    print(json.dumps(summary, indent=1))
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    run_main(main)
