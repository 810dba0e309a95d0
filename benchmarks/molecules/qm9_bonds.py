"""QM9 with perceived bonds and charges: agreement with the data set's SMILES/InChI, and the
predicted-bond (MiDi) protocol on the qm9-bonds training split, next to MiDi Table 2's "Data" row.

Usage:
    nice .venv/bin/python benchmarks/molecules/qm9_bonds.py
(fills the perception cache first if it is missing, timed). Results are recorded in benchmarks/molecules/README.md
(section "QM9 with bonds and formal charges").
"""

from __future__ import annotations

import csv
import json
import re
import time
from collections import Counter

import numpy as np
from scipy.stats import binomtest

from gensci.chem.molecule import molecules_from_padded
from gensci.chem.perception import FAILURES, ROUTES, perceive_bonds
from gensci.chem.rdmol import build_mol, normalise_smiles, smiles_from_graph
from gensci.chem.valences import atom_stable_batch
from gensci.data import qm9, qm9_bonds
from gensci.data.qm9_bonds import QM9BondsData
from gensci.metrics.bond_protocol import MIDI_QM9_DATA, evaluate_graphs

SYMBOL = dict(zip(qm9.ATOMIC_NUMBERS, qm9.ELEMENTS))
_STEREO_LAYERS = re.compile(r"/[btmsi][^/]*")  # InChI stereo (b, t, m, s) and isotope (i) layers


def wilson(k: int, n: int) -> list[float]:
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return [round(100 * ci.low, 3), round(100 * ci.high, 3)]


def timed_perception(arrays, n: int = 2048) -> dict:
    """Perceive the first n molecules again (not from the cache): wall and CPU time per molecule."""
    t0, c0 = time.perf_counter(), time.process_time()
    for row in range(n):
        k = int(arrays["n_atoms"][row])
        perceive_bonds(arrays["charges"][row, :k], arrays["positions"][row, :k], str(arrays["smiles"][row]))
    return {"molecules": n, "wall_ms_per_molecule": round(1e3 * (time.perf_counter() - t0) / n, 3),
            "cpu_ms_per_molecule": round(1e3 * (time.process_time() - c0) / n, 3)}


def dataset_inchis(arrays) -> np.ndarray:
    """qm9pack's InChI column (the QM9 authors' InChI of the relaxed geometry), in load_arrays() row order."""
    by_index = {}
    csv.field_size_limit(1 << 24)
    for part in ("qm9_part1.csv", "qm9_part2.csv", "qm9_part3.csv"):
        with open(qm9.qm9pack_data_dir() / part, newline="") as f:
            for rec in csv.DictReader(f):
                by_index[int(rec["Index"])] = rec["InChi"]
    return np.array([by_index[int(i)] for i in arrays["index"]])


def agreement(arrays, perception) -> dict:
    """Canonical SMILES (no stereo) of the stored graph vs the data set's SMILES; InChI (no stereo) vs its InChI."""
    from rdkit import Chem, rdBase

    inchis = dataset_inchis(arrays)
    status = perception["status"]
    same_smiles = same_inchi = 0
    inchi_differs = []
    for row in np.flatnonzero(status < 2):
        n = int(arrays["n_atoms"][row])
        symbols = [SYMBOL[z] for z in arrays["charges"][row, :n]]
        bonds, charges = perception["bonds"][row, :n, :n], perception["formal_charges"][row, :n]
        same_smiles += smiles_from_graph(symbols, bonds, charges) == normalise_smiles(str(arrays["smiles"][row]))
        mol = build_mol(symbols, bonds, charges)
        Chem.SanitizeMol(mol)
        with rdBase.BlockLogs():
            ours = _STEREO_LAYERS.sub("", Chem.MolToInchi(mol))
        if ours == _STEREO_LAYERS.sub("", inchis[row]):
            same_inchi += 1
        else:
            inchi_differs.append((int(arrays["index"][row]), str(arrays["smiles"][row]), ours, inchis[row]))
    m = len(status)
    codes = Counter(status.tolist())
    return {
        "molecules": m,
        "routes": {ROUTES[c]: codes.get(c, 0) for c in range(len(ROUTES))},
        "failures": {FAILURES[c - 2]: codes[c] for c in sorted(codes) if c >= 2},
        "failed_molecules": [(int(arrays["index"][r]), str(arrays["smiles"][r])) for r in np.flatnonzero(status >= 2)],
        "smiles_agree": int(same_smiles), "smiles_agree_pct": round(100 * same_smiles / m, 3),
        "smiles_agree_wilson95": wilson(int(same_smiles), m),
        "inchi_agree": same_inchi, "inchi_agree_pct": round(100 * same_inchi / m, 3),
        "inchi_differs_examples": inchi_differs[:8], "inchi_differs": len(inchi_differs),
        "formal_charges_present": sorted(set(np.unique(perception["formal_charges"]).tolist())),
        "charged_molecules": int((perception["formal_charges"] != 0).any(1).sum()),
    }


def train_protocol() -> dict:
    """The predicted-bond protocol on the full qm9-bonds training split (EDM split minus failures)."""
    t0 = time.perf_counter()
    splits = QM9BondsData.load(QM9BondsData.Config())
    load_s = time.perf_counter() - t0
    t = splits.train.tensors
    mask = t["node_mask"].bool().numpy()
    atom_ok = np.zeros_like(mask)
    mol_ok = np.zeros(len(mask), bool)
    for s in range(0, len(mask), 10_000):
        part = slice(s, s + 10_000)
        atom_ok[part], mol_ok[part] = atom_stable_batch(t["atom_types"][part].numpy(), t["formal_charges"][part].numpy(),
                                                        t["bonds"][part].numpy(), mask[part], splits.info["atom_types"])
    n_atoms, n_mol = int(mask.sum()), len(mask)
    t0 = time.perf_counter()
    graphs = molecules_from_padded({k: t[k] for k in ("atom_types", "formal_charges", "bonds", "node_mask")},
                                   splits.info["atom_types"])
    full = evaluate_graphs(graphs)
    unstable = Counter()
    for b, i in zip(*np.nonzero(mask & ~atom_ok)):
        unstable[(splits.info["atom_types"][t["atom_types"][b, i]], int(t["formal_charges"][b, i]),
                  int(t["bonds"][b, i].sum()))] += 1
    return {
        "cached_load_s": round(load_s, 1), "molecules": n_mol, "atoms": n_atoms, "excluded": splits.info["excluded"],
        "atom_stability_graph": round(100 * atom_ok.sum() / n_atoms, 3),
        "atom_stability_wilson95": wilson(int(atom_ok.sum()), n_atoms),
        "molecule_stability_graph": round(100 * mol_ok.mean(), 3),
        "molecule_stability_wilson95": wilson(int(mol_ok.sum()), n_mol),
        "unstable_atoms_by_element_charge_valence": {str(k): v for k, v in unstable.items()},
        "evaluate_graphs": {k: (round(100 * v, 3) if isinstance(v, float) else v) for k, v in full.items()},
        "validity_wilson95": wilson(full["n_valid_graph"], n_mol),
        "evaluate_graphs_s": round(time.perf_counter() - t0, 1),
        "marginals": {k: splits.info[k] for k in ("atom_type_marginal", "charge_marginal", "bond_type_marginal")},
    }


def main() -> None:
    arrays = qm9.load_arrays()
    missing = [k for k in range(-(-qm9.N_MOLECULES // qm9_bonds.CHUNK))
               if not (qm9_bonds.perception_dir() / f"chunk_{k:03d}.npz").exists()]
    t0, c0 = time.perf_counter(), time.process_time()
    perception = qm9_bonds.load_perception(np.arange(qm9.N_MOLECULES), arrays)
    fill = {"chunks_computed": len(missing), "wall_s": round(time.perf_counter() - t0, 1),
            "cpu_s": round(time.process_time() - c0, 1)}
    report = {"cache_fill": fill, "fresh_perception": timed_perception(arrays),
              "agreement": agreement(arrays, perception), "train": train_protocol()}
    print(json.dumps(report, indent=1))
    print(f"\n{'measure (train split)':26s} {'gensci %':>9s} {'MiDi T2 %':>9s}")
    for key, published in MIDI_QM9_DATA.items():
        ours = report["train"]["evaluate_graphs"][key]
        print(f"{key:26s} {ours:9.2f} {100 * published:9.1f}")  # MIDI_QM9_DATA holds fractions


if __name__ == "__main__":
    main()
