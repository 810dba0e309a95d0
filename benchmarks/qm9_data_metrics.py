"""EDM's molecule measures on QM9's full training split, next to the EDM paper's "Data" row.

Usage (a fresh cache directory, so the parse and the SMILES reference are really computed):
    GENSCI_CACHE=/tmp/gensci-bench nice .venv/bin/python benchmarks/qm9_data_metrics.py
Prints the parse time, the cached-load time, the evaluation wall and CPU time and the measures as JSON.
Results are recorded in benchmarks/qm9_data_metrics.md.
"""

from __future__ import annotations

import json
import time

from gensci.data import qm9
from gensci.metrics.molecules import EDM_QM9_DATA
from gensci.workflows.molecule_files import evaluate_dataset


def main() -> None:
    cache = qm9.default_cache_dir() / "qm9" / f"qm9pack_arrays_v{qm9._CACHE_VERSION}.npz"
    fresh = not cache.exists()
    t0 = time.perf_counter()
    qm9.load_arrays()
    t1 = time.perf_counter()
    qm9.load_arrays()
    t2 = time.perf_counter()
    cpu = time.process_time()
    result = evaluate_dataset("train")
    t3 = time.perf_counter()
    cpu = time.process_time() - cpu
    timing = {
        "parse_and_cache_s" if fresh else "load_s": round(t1 - t0, 2),
        "cached_load_s": round(t2 - t1, 2),
        "evaluate_train_wall_s": round(t3 - t2, 1),
        "evaluate_train_cpu_s": round(cpu, 1),  # the wall time depends on what else the machine runs
    }
    print(json.dumps({"timing": timing, "result": result}, indent=1))
    print(f"{'measure':24s} {'gensci %':>9s} {'EDM paper %':>11s} {'diff (pt)':>9s}")
    for key, published in EDM_QM9_DATA.items():
        ours = 100 * result[key]
        print(f"{key:24s} {ours:9.2f} {published:11.1f} {ours - published:+9.2f}")


if __name__ == "__main__":
    main()
