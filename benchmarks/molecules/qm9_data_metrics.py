"""The molecule measures on QM9's full training split: EDM's protocol next to the EDM paper's "Data" row, and
both protocols on qm9-bonds (the predicted-bond one next to MiDi's "Data" row).

Usage:
    GENSCI_CACHE=~/.cache/gensci nice .venv/bin/python benchmarks/molecules/qm9_data_metrics.py
(a fresh GENSCI_CACHE directory also times the CSV parse and the bond perception). Prints the timings and
the measures as JSON, then the comparison tables. Results are recorded in benchmarks/molecules/README.md (section
"The molecule measures on QM9's training split").
"""

from __future__ import annotations

import json
import time

from gensci.data import qm9
from gensci.metrics.bond_protocol import MIDI_QM9_DATA
from gensci.metrics.molecules import EDM_QM9_DATA
from gensci.workflows.molecule_files import evaluate_dataset



def main() -> None:
    cache = qm9.default_cache_dir() / "qm9" / f"qm9pack_arrays_v{qm9._CACHE_VERSION}.npz"
    fresh = not cache.exists()
    t0 = time.perf_counter()
    qm9.load_arrays()
    t1 = time.perf_counter()
    qm9.load_arrays()
    timing = {"parse_and_cache_s" if fresh else "load_s": round(t1 - t0, 2),
              "cached_load_s": round(time.perf_counter() - t1, 2)}
    results = {}
    for dataset in ("qm9", "qm9-bonds"):
        wall, cpu = time.perf_counter(), time.process_time()
        results[dataset] = evaluate_dataset(dataset, "train")
        timing[f"{dataset}_train_wall_s"] = round(time.perf_counter() - wall, 1)
        timing[f"{dataset}_train_cpu_s"] = round(time.process_time() - cpu, 1)  # wall depends on the machine's load
    print(json.dumps({"timing": timing, "results": results}, indent=1))
    for dataset, published, source in (("qm9", EDM_QM9_DATA, "EDM Table 1"), ("qm9-bonds", EDM_QM9_DATA, "EDM Table 1"),
                                       ("qm9-bonds", MIDI_QM9_DATA, "MiDi Table 2")):
        print(f"\n{dataset} train vs {source} 'Data'\n{'measure':26s} {'gensci %':>9s} {'paper %':>8s} {'diff (pt)':>9s}")
        for key, value in published.items():
            ours, paper = 100 * results[dataset][key], 100 * value  # fractions, printed as %
            print(f"{key:26s} {ours:9.3f} {paper:8.1f} {ours - paper:+9.3f}")


if __name__ == "__main__":
    main()
