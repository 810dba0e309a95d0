"""Builds QM9's references that ship in gensci/references/ (what they are: gensci.workflows.molecule_references):

    OMP_NUM_THREADS=1 python -m gensci.workflows.reference_build               (everything, ~6+ minutes)
    OMP_NUM_THREADS=1 python -m gensci.workflows.reference_build --chemistry   (the chemistry piece alone)

Apart from molecule_references because the "data (gensci)" figures are QM9 measured by the file/data-set evaluation
(molecule_files), which itself reads the references.
"""

from __future__ import annotations

import json
import lzma
import time
from datetime import date
from pathlib import Path

import numpy as np

from gensci.data import qm9
from gensci.data.base import default_cache_dir
from gensci.data.qm9_bonds import perception_dir
from gensci.files import atomic_write
from gensci.progress import Progress
from gensci.workflows.molecule_files import evaluate_dataset
from gensci.workflows.molecule_references import (CHEMISTRY, MANIFEST, SHIPPED, STATS_PER_KIND, _bonds, _tag,
                                                  compute_chemistry, compute_edm_smiles, compute_graph_smiles,
                                                  compute_stats, references_dir, smiles_pairs_text, write_chemistry)

BUILD_COMMAND = "OMP_NUM_THREADS=1 python -m gensci.workflows.reference_build"
CHEMISTRY_COMMAND = BUILD_COMMAND + " --chemistry"


def build_references() -> dict:
    """Compute every shipped piece from QM9 (module docstring) into references_dir(), then measure QM9's training
    split under both protocols against them (the "data (gensci)" figures); write MANIFEST last. Returns it."""
    with Progress("building QM9's references:", 10, unit="parts", stages=True) as progress:  # lines between parts too
        return _build_references(progress)


def _build_references(progress: Progress) -> dict:
    import platform

    import rdkit

    import gensci
    folder, timings = references_dir(), {}
    arrays_cached = (default_cache_dir() / "qm9" / f"qm9pack_arrays_v{qm9._CACHE_VERSION}.npz").exists()
    perception_cached = perception_dir().exists() and any(perception_dir().iterdir())

    def timed(name, make):
        start, cpu = time.perf_counter(), time.process_time()
        value = make()
        timings[name] = {"wall_s": round(time.perf_counter() - start, 1), "cpu_s": round(time.process_time() - cpu, 1)}
        progress.advance()
        return value

    timed("qm9_arrays", qm9.load_arrays)  # the CSV parse, unless cached
    for remove_h in (False, True):
        pairs = timed(f"edm_smiles_{_tag(remove_h)}", lambda: compute_edm_smiles(remove_h))
        _write_xz(folder / SHIPPED["edm_smiles"].format(tag=_tag(remove_h)), smiles_pairs_text(pairs))
    graph = timed("perception_and_graph_smiles", compute_graph_smiles)
    _write_xz(folder / SHIPPED["graph_smiles"], "".join(f"{s}\n" for s in sorted({s for s in graph if s})))
    for remove_h in (False, True):
        for own in (False, True):
            stats = timed(f"stats_{_tag(remove_h)}_{_bonds(own)}", lambda: compute_stats(remove_h, own))
            path = folder / SHIPPED["stats"].format(tag=_tag(remove_h), bonds=_bonds(own))
            atomic_write(path, lambda tmp: np.savez_compressed(tmp, **stats.to_arrays(packed=True)))
    figures = {name: timed(f"data_figures_{name}", lambda: evaluate_dataset(name, "train", chemistry=False))
               for name in ("qm9", "qm9-bonds")}  # the chemistry figures are the chemistry piece's
    for result in figures.values():
        for key in [k for k in result if k.startswith(("bond_length_w1_", "bond_angle_w1_"))]:
            del result[key]  # per-kind distances of the split against itself: noise, not a figure
        result.pop("seconds", None)
    manifest = {"what": "QM9's training split (EDM's split) as gensci's molecule reference: module docstring of "
                        "gensci.workflows.molecule_references", "command": BUILD_COMMAND,
                "built": date.today().isoformat(), "gensci": gensci.__version__, "rdkit": rdkit.__version__,
                "numpy": np.__version__, "python": platform.python_version(), "stats_per_kind": STATS_PER_KIND,
                "files": {p.name: p.stat().st_size for p in sorted(folder.glob("qm9_train_*"))},
                "timings": timings, "cached_before": {"qm9_arrays": arrays_cached, "perception": perception_cached},
                "data_figures": figures}
    atomic_write(folder / MANIFEST, json.dumps(manifest, indent=1) + "\n")
    build_chemistry_reference(folder)
    return manifest


def build_chemistry_reference(folder: Path | None = None) -> dict:
    """The chemistry piece (gensci.workflows.molecule_references, CHEMISTRY): QM9's chemistry reference as an npz
    and its own manifest (command, versions, timings, file sizes, and the training split's chemistry figures) in
    `folder` (default: the package's references folder). Returns the manifest."""
    import platform
    from importlib.metadata import version

    import rdkit

    import gensci

    folder = references_dir() if folder is None else Path(folder)
    start, cpu = time.perf_counter(), time.process_time()
    with Progress("building QM9's chemistry reference:", 1, unit="parts", stages=True) as progress:
        reference, figures = compute_chemistry()
        progress.advance()
    timings = {"wall_s": round(time.perf_counter() - start, 1), "cpu_s": round(time.process_time() - cpu, 1)}
    write_chemistry(folder / CHEMISTRY["arrays"], reference)
    manifest = {"what": "QM9's chemistry reference: module docstring of gensci.workflows.molecule_references "
                        "(the chemistry part) and gensci.metrics.chemistry", "command": CHEMISTRY_COMMAND,
                "built": date.today().isoformat(), "gensci": gensci.__version__, "rdkit": rdkit.__version__,
                "fcd_torch": version("fcd_torch"), "numpy": np.__version__,
                "python": platform.python_version(), "timings": timings,
                "files": {CHEMISTRY["arrays"]: (folder / CHEMISTRY["arrays"]).stat().st_size},
                "figures": figures}
    atomic_write(folder / CHEMISTRY["manifest"], json.dumps(manifest, indent=1) + "\n")
    return manifest


def _write_xz(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(lzma.compress(text.encode(), preset=9 | lzma.PRESET_EXTREME)))


if __name__ == "__main__":  # the command that rebuilds the shipped references (module docstring)
    import sys

    built = build_chemistry_reference() if sys.argv[1:] == ["--chemistry"] else build_references()
    print(json.dumps({k: built[k] for k in ("files", "timings")}, indent=1))
