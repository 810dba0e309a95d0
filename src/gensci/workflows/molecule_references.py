"""QM9's training split as the reference of molecule evaluations: shipped inside gensci, read in a second.

The pieces, over EDM's training split (100,000 molecules; qm9-bonds: the 99,999 whose bond perception succeeds):
- EDM's SMILES per molecule, of the whole molecule and of its largest fragment, bonds from distances, with and
  without H (novelty);
- the distinct SMILES of the perceived bonds and charges (novelty_graph; the same with and without H, since
  hydrogens are folded in);
- element, size, bond-length and bond-angle distributions with EDM's inferred bonds or with the perceived ones,
  with and without H, at most STATS_PER_KIND values per kind (stored losslessly: pack_values);
- the figures of the reports' "data (gensci)" column: QM9's training split under both protocols, measured by
  gensci.workflows.molecule_files.evaluate_dataset (qm9 for EDM's protocol, qm9-bonds for the predicted-bond
  one), with their sample sizes (qm9_data_figures);
- the chemistry part (CHEMISTRY; gensci.metrics.chemistry), a separate small piece with its own manifest: the
  heavy-atom counts of the perceived training molecules (heavy_atoms_tv), ChemNet's activation mean and covariance
  of the perceived TEST molecules' SMILES (fcd_qm9; float32, the covariance's upper triangle), and the training
  split's chemistry figures by the same code (the "data" column; heavy_atoms_tv and fcd_qm9 there are those of a
  seeded random CHEMISTRY_FLOOR_N training molecules: the floor at that sample size). Rebuilt alone by
    OMP_NUM_THREADS=1 python -m gensci.workflows.reference_build --chemistry
  (~3 CPU-minutes once QM9 is parsed and perceived).

They ship in the package folder gensci/references/ (SHIPPED, 3.6 MB; MANIFEST records the command, the versions
of gensci, RDKit and numpy, and the timings), written by gensci.workflows.reference_build:
    OMP_NUM_THREADS=1 python -m gensci.workflows.reference_build
Rebuild them when the bond rules, the SMILES pipeline, the metrics or RDKit's canonical SMILES change: the tests
recompute the first training molecules and fail when they no longer match.
Computing them takes ~5 CPU-minutes (the QM9 CSV parse, bond perception of 130,831 molecules, ~300,000 RDKit
molecules; 140 CPU-s of it after the parse and perception are cached) and 10-15 minutes of wall time on a busy
2-core machine, which a fresh install used to spend silently on its first evaluation. Without the
shipped files (a checkout that removed them) each piece is computed on first use, with a progress display, and
cached next to the parsed QM9 arrays (GENSCI_CACHE/qm9/v2_train_*, v1_train_graph_smiles.txt).
tests/workflows/test_molecule_references.py checks the shipped files against a recomputation.
"""

from __future__ import annotations

import json
import lzma
from importlib import resources
from pathlib import Path

import numpy as np

from gensci.chem.molecule import Molecule
from gensci.data import qm9
from gensci.data.base import default_cache_dir
from gensci.data.qm9_bonds import load_perception
from gensci.files import atomic_write
from gensci.metrics.distributions import MoleculeStats, molecule_stats
from gensci.metrics.bond_protocol import graph_smiles
from gensci.metrics.chemistry import ChemistryReference, evaluate_chemistry, fragment_chemistry
from gensci.metrics.molecule_protocols import Carried, MoleculeReference
from gensci.metrics.molecules import SmilesReference, smiles_of
from gensci.progress import Progress

STATS_PER_KIND = 20_000  # W1 from 20k values per kind: sampling error well below the differences that matter
MANIFEST = "qm9_train.json"
SHIPPED = {"edm_smiles": "qm9_train_edm_smiles_{tag}.txt.xz", "graph_smiles": "qm9_train_graph_smiles.txt.xz",
           "stats": "qm9_train_stats_{tag}_{bonds}.npz"}  # in gensci/references/ (module docstring)
CHEMISTRY = {"manifest": "qm9_chemistry.json", "arrays": "qm9_chemistry.npz"}  # in gensci/references/
CHEMISTRY_FLOOR_N = 1000  # training molecules behind QM9's own heavy_atoms_tv and fcd_qm9 (the sample size of a run)
QM9_CHEMISTRY_NAME = "qm9 (heavy atoms: train; ChemNet: test)"
QM9_ELEMENTS = frozenset(qm9.ELEMENTS)
_SYMBOL = dict(zip(qm9.ATOMIC_NUMBERS, qm9.ELEMENTS))


def qm9_molecules(split: str = "train", limit: int | None = None, remove_h: bool = False,
                  bonds: bool = False, positions: np.ndarray | None = None) -> list[Molecule]:
    """QM9 molecules of an EDM split (the first `limit`, or those at `positions` within the split: random_subset),
    positions in Angstrom (float64) as in the data set. bonds=True: with the perceived bonds and formal charges of
    qm9-bonds, leaving out the molecules whose perception failed (gensci.data.qm9_bonds: 2 of 130,831)."""
    arrays = qm9.load_arrays()
    rows = qm9.split_rows(split)[:limit] if positions is None else qm9.split_rows(split)[positions]
    perception = load_perception(rows, arrays) if bonds else None
    out = []
    for k, row in enumerate(rows):
        n = int(arrays["n_atoms"][row])
        z, pos = arrays["charges"][row, :n], arrays["positions"][row, :n].astype(np.float64)
        keep = z > 1 if remove_h else np.ones(n, dtype=bool)
        name = f"qm9 {arrays['index'][row]}"
        types = [_SYMBOL[int(v)] for v in z[keep]]
        if perception is None:
            out.append(Molecule(pos[keep], types, name))
        elif perception["status"][k] < 2:
            b = perception["bonds"][k, :n, :n][np.ix_(keep, keep)]
            out.append(Molecule(pos[keep], types, name, b, perception["formal_charges"][k, :n][keep]))
    return out


def random_subset(split: str, limit: int | None, seed: int = 0) -> np.ndarray:
    """Sorted positions within a split of a seeded random subset of `limit` molecules (all of them when limit is
    None or not below the split's size). Random, not the first: the splits are in index order, and QM9's first
    molecules are its smallest (EDM's distance-protocol molecule stability of the first 1,000 training molecules:
    94.2 %, of all 100,000: 95.3 %)."""
    size = qm9.SPLIT_SIZES[split]
    if limit is None or limit >= size:
        return np.arange(size)
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    return np.sort(np.random.default_rng(seed).choice(size, limit, replace=False))


def perceived(rows) -> np.ndarray:
    """[len(rows)] bool: the bond perception of these rows of the QM9 arrays succeeded (qm9-bonds keeps them)."""
    return load_perception(np.asarray(rows))["status"] < 2


def edm_smiles_cached(remove_h: bool = False) -> bool:
    """The training split's EDM SMILES are at hand (shipped or cached): reading them costs nothing."""
    return _shipped(SHIPPED["edm_smiles"].format(tag=_tag(remove_h))) is not None or _edm_smiles_path(remove_h).exists()


def _edm_smiles_path(remove_h: bool) -> Path:
    return _cache_path(f"v2_train_edm_smiles_{_tag(remove_h)}.txt")


def qm9_edm_smiles(remove_h: bool = False) -> list[tuple]:
    """EDM's (whole, largest fragment) SMILES of every molecule of the training split (shipped; else cached)."""
    shipped = _shipped(SHIPPED["edm_smiles"].format(tag=_tag(remove_h)))
    if shipped is not None:
        return read_smiles_pairs(lzma.decompress(shipped.read_bytes()).decode())
    path = _edm_smiles_path(remove_h)
    if path.exists():
        return read_smiles_pairs(path.read_text())
    pairs = compute_edm_smiles(remove_h)
    atomic_write(path, smiles_pairs_text(pairs))
    return pairs


def compute_edm_smiles(remove_h: bool) -> list[tuple]:
    molecules = qm9_molecules("train", None, remove_h)
    return _chunked(smiles_of, molecules, f"EDM SMILES of QM9's training split ({_with(remove_h)} H):")


def smiles_pairs_text(pairs) -> str:
    """One line per molecule: its SMILES, or "whole<TAB>largest fragment" where they differ; empty = invalid."""
    return "".join(f"{w or ''}\n" if w == f else f"{w or ''}\t{f or ''}\n" for w, f in pairs)


def read_smiles_pairs(text: str) -> list[tuple]:
    """smiles_pairs_text's inverse (also reads the older cache files, which always hold both)."""
    pairs = []
    for line in text.split("\n")[:-1]:
        whole, _, fragment = line.partition("\t")
        pairs.append((whole or None, (fragment if "\t" in line else whole) or None))
    return pairs


def qm9_graph_smiles() -> frozenset[str]:
    """Distinct valid SMILES of the perceived training molecules (qm9-bonds; shipped, else cached):
    novelty_graph's reference."""
    shipped = _shipped(SHIPPED["graph_smiles"])
    if shipped is not None:
        return frozenset(s for s in lzma.decompress(shipped.read_bytes()).decode().split("\n") if s)
    path = _cache_path("v1_train_graph_smiles.txt")
    if path.exists():
        return frozenset(s for s in path.read_text().split("\n") if s)
    smiles = compute_graph_smiles()
    atomic_write(path, "".join(f"{s or ''}\n" for s in smiles))
    return frozenset(s for s in smiles if s)


def compute_graph_smiles() -> list[str | None]:
    """The graph SMILES of each perceived training molecule (None: invalid)."""
    from rdkit import rdBase

    def of(molecules):
        with rdBase.BlockLogs():
            return [graph_smiles(m)[0] for m in molecules]

    return _chunked(of, qm9_molecules("train", None, bonds=True), "SMILES of QM9's perceived training molecules:")


def qm9_stats(remove_h: bool = False, own_bonds: bool = False) -> MoleculeStats:
    """Distributions of the training split with EDM's inferred bonds, or with the perceived ones (shipped, else
    cached). The shipped values are sorted (pack_values); every use (W1, histograms) is order-free."""
    shipped = _shipped(SHIPPED["stats"].format(tag=_tag(remove_h), bonds=_bonds(own_bonds)))
    path = shipped or _cache_path(f"v2_train_stats_{_tag(remove_h)}_{_bonds(own_bonds)}.npz")
    if path.exists():
        with np.load(path, allow_pickle=False) as f:
            return MoleculeStats.from_arrays({k: f[k] for k in f.files})
    stats = compute_stats(remove_h, own_bonds)
    atomic_write(path, lambda tmp: np.savez_compressed(tmp, **stats.to_arrays()))
    return stats


def compute_stats(remove_h: bool, own_bonds: bool) -> MoleculeStats:
    molecules = qm9_molecules("train", None, remove_h, bonds=own_bonds)
    return molecule_stats(molecules).subsampled(STATS_PER_KIND)  # own bonds, or inferred when there are none


def qm9_data_figures() -> dict:
    """QM9's training split measured by gensci (the reports' "data (gensci)" column): EDM's protocol on qm9 (keys
    without "_graph") and the predicted-bond protocol on qm9-bonds (keys with "_graph"), with their sample
    sizes (n_molecules / n_atoms, n_molecules_graph / n_atoms_graph); shipped with the references ({} without)."""
    path = _shipped(MANIFEST)
    if path is None:
        return {}
    figures = json.loads(path.read_text())["data_figures"]
    edm = {k: v for k, v in figures["qm9"].items() if not k.endswith("_graph")}
    graph = {k: v for k, v in figures["qm9-bonds"].items() if k.endswith("_graph")}
    sizes = {"n_molecules_graph": figures["qm9-bonds"]["n_molecules"], "n_atoms_graph": figures["qm9-bonds"]["n_atoms"]}
    return edm | graph | sizes | qm9_chemistry_figures()


def qm9_chemistry_figures() -> dict:
    """QM9's training split measured by gensci.metrics.chemistry (perceived bonds; chemistry_n fragments), with
    heavy_atoms_tv and fcd_qm9 of CHEMISTRY_FLOOR_N random training molecules (`chemistry_floor_n`); shipped with
    the chemistry reference ({} without)."""
    path = _shipped(CHEMISTRY["manifest"])
    return {} if path is None else json.loads(path.read_text())["figures"]


def qm9_chemistry_reference() -> ChemistryReference:
    """QM9's chemistry reference (module docstring): shipped, else cached, else computed once (minutes) and cached."""
    path = _shipped(CHEMISTRY["arrays"]) or _cache_path(f"v1_{CHEMISTRY['arrays']}")
    if not path.exists():
        write_chemistry(path, compute_chemistry()[0])
    with np.load(path, allow_pickle=False) as f:
        return ChemistryReference.from_arrays(QM9_CHEMISTRY_NAME, {k: f[k] for k in f.files})


def compute_chemistry(train_limit: int | None = None, test_limit: int | None = None,
                      floor_n: int = CHEMISTRY_FLOOR_N, seed: int = 0) -> tuple[ChemistryReference, dict]:
    """(the chemistry reference, the training split's chemistry figures) computed from QM9 (module docstring);
    train_limit / test_limit: only the first molecules of the splits (a quick recomputation on the shipping path)."""
    from gensci.metrics.smiles import fcd_statistics

    train = qm9_molecules("train", train_limit, bonds=True)
    floor_n = min(floor_n, len(train))
    figures = evaluate_chemistry(train, stability=True)
    smiles = chemistry_smiles(qm9_molecules("test", test_limit, bonds=True))
    mu, sigma = fcd_statistics(smiles)
    reference = ChemistryReference(QM9_CHEMISTRY_NAME, {int(k): v for k, v in figures["heavy_atoms_counts"].items()},
                                   mu, sigma)
    floor = [train[i] for i in np.random.default_rng(seed).choice(len(train), floor_n, replace=False)]
    measured = evaluate_chemistry(floor, ChemistryReference.from_arrays(reference.name, reference.to_arrays()))
    figures |= {"heavy_atoms_tv": measured["heavy_atoms_tv"], "fcd_qm9": measured["fcd_qm9"],
                "chemistry_floor_n": floor_n, "fcd_test_smiles": len(smiles)}
    return reference, figures


def chemistry_smiles(molecules) -> list[str]:
    """The canonical SMILES of the valid molecules' largest fragments (gensci.metrics.chemistry: what fcd_qm9
    compares), in order."""
    return [d.smiles for d in fragment_chemistry(molecules)[0] if d is not None]


def write_chemistry(path: Path, reference: ChemistryReference) -> Path:
    """The chemistry reference as a compact npz (ChemistryReference.to_arrays: float32, the covariance's upper
    triangle): what ships and what a cache holds."""
    return atomic_write(path, lambda tmp: np.savez_compressed(tmp, **reference.to_arrays()))


def qm9_reference(remove_h: bool, carried: Carried, distributions: bool = True) -> MoleculeReference:
    """The parts of QM9's training split that the protocols for `carried` molecules compare with
    (SMILES for novelty; with `distributions` the distributions too)."""
    reference = MoleculeReference(f"qm9 train ({_with(remove_h)} H)")
    if carried.positions:
        reference.smiles = SmilesReference.from_smiles(qm9_edm_smiles(remove_h))
    if carried.bonds:
        reference.graph_smiles = qm9_graph_smiles()
    if distributions:
        reference.stats_inferred = qm9_stats(remove_h)
        if carried.bonds and carried.positions:
            reference.stats_own = qm9_stats(remove_h, own_bonds=True)
    reference.chemistry = qm9_chemistry_reference()  # with or without H: the fragments fold hydrogens in
    return reference


def file_reference(molecules: list[Molecule], name: str) -> MoleculeReference:
    """A reference made of the molecules of a user's file (its own bonds where it lists them)."""
    from rdkit import rdBase

    reference = MoleculeReference(name, SmilesReference.from_molecules(molecules),
                                  stats_inferred=molecule_stats([_without_bonds(m) for m in molecules]))
    if all(m.bonds is not None for m in molecules):
        with rdBase.BlockLogs():
            reference.graph_smiles = frozenset(s for s in (graph_smiles(m)[0] for m in molecules) if s)
        reference.stats_own = molecule_stats(molecules)
    counts = evaluate_chemistry(molecules)["heavy_atoms_counts"]  # heavy_atoms_tv against the file (no FCD)
    reference.chemistry = ChemistryReference(name, {int(k): v for k, v in counts.items()})
    return reference


def _without_bonds(m: Molecule) -> Molecule:
    return Molecule(m.positions, m.atom_types, m.name, None, m.formal_charges)


def references_dir() -> Path:
    """The package folder of the shipped references (gensci/references/)."""
    return Path(str(resources.files("gensci.references")))


def _shipped(name: str) -> Path | None:
    path = references_dir() / name
    return path if path.exists() else None


def _chunked(fn, items: list, description: str, chunk: int = 2000) -> list:
    """fn(items) computed chunk by chunk with a progress display (fn maps a list to a list)."""
    out = []
    with Progress(description, len(items), unit="molecules") as progress:
        for start in range(0, len(items), chunk):
            out += fn(items[start : start + chunk])
            progress.advance(len(items[start : start + chunk]))
    return out


def _with(remove_h: bool) -> str:
    return "without" if remove_h else "with"


def _bonds(own_bonds: bool) -> str:
    return "own" if own_bonds else "inferred"


def _tag(remove_h: bool) -> str:
    return "noh" if remove_h else "h"


def _cache_path(name: str) -> Path:
    return default_cache_dir() / "qm9" / name
