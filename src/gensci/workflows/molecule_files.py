"""Evaluate real molecules under both protocols: a QM9 data set's split, or an XYZ/SDF file a user brings.

Wiring for `gensci evaluate --dataset qm9|qm9-bonds|qm9-graph` and `gensci evaluate FILE`
(gensci.metrics.molecule_protocols: EDM's protocol on geometries, the predicted-bond protocol on
molecules that carry their own bonds). References come from gensci.workflows.molecule_references.
"""

from __future__ import annotations

import time

import numpy as np

from gensci.chem.molecule import Molecule
from gensci.data import qm9
from gensci.data.molecule_io import SDF_SUFFIXES, MoleculeFileError, read_molecules, read_molecules_lenient
from gensci.errors import UserError
from gensci.metrics.molecule_protocols import Carried, evaluate_protocols
from gensci.workflows.molecule_references import (QM9_ELEMENTS, edm_smiles_cached, file_reference, perceived,
                                                  qm9_edm_smiles, qm9_molecules, qm9_reference, random_subset)

DATASETS = ("qm9", "qm9-bonds", "qm9-graph")
_MAX_SKIPPED_SHOWN = 10


def evaluate_dataset(dataset: str = "qm9", split: str = "train", limit: int | None = None, remove_h: bool = False,
                     distributions: bool = True, seed: int = 0, chemistry: bool = True) -> dict:
    """A QM9 data set itself under the protocols that apply (all of a split, or a random `limit` of its molecules
    drawn with `seed`: molecule_references.random_subset; the first ones would be the smallest), novelty,
    distributions and chemistry (unless chemistry=False) against the training split.

    qm9: EDM's protocol (bonds from distances; with or without H). qm9-bonds: both protocols (its
    perceived bonds and charges for the predicted-bond one). qm9-graph: heavy-atom graphs, the
    predicted-bond protocol without stability (no explicit H). qm9-bonds and qm9-graph leave out the
    molecules whose bond perception failed (one in the training split).
    """
    if dataset not in DATASETS:
        raise UserError(f"--dataset {dataset}: choices are {', '.join(DATASETS)}")
    if split not in qm9.SPLIT_SIZES:
        raise UserError(f"unknown split {split!r}; choices: {', '.join(qm9.SPLIT_SIZES)}")
    if remove_h and dataset != "qm9":
        raise UserError(f"--remove-h applies to --dataset qm9 only ({dataset} fixes it: qm9-graph has no H)")
    if limit is not None and limit < 1:
        raise UserError(f"--limit {limit}: give a number of molecules of at least 1")
    remove_h = remove_h or dataset == "qm9-graph"
    start = time.perf_counter()
    bonded = dataset != "qm9"
    positions = random_subset(split, limit, seed)
    molecules = qm9_molecules(split, remove_h=remove_h, bonds=bonded, positions=positions)
    carried = Carried(positions=dataset != "qm9-graph", bonds=bonded, explicit_h=not remove_h)
    reference = qm9_reference(remove_h, carried, distributions)
    smiles = None  # the training split's EDM SMILES are cached: reuse them
    if split == "train" and carried.positions and (limit is None or edm_smiles_cached(remove_h)):
        pairs = qm9_edm_smiles(remove_h)
        smiles = [pairs[p] for p in positions]
        if bonded:
            smiles = [s for s, ok in zip(smiles, perceived(qm9.split_rows("train")[positions])) if ok]
    result = evaluate_protocols(molecules, reference, carried, edm_smiles=smiles, chemistry=chemistry)
    if dataset == "qm9-graph":
        result["protocols_skipped"]["edm"] = "qm9-graph is scored as 2D graphs of heavy atoms (use qm9 or qm9-bonds)"
    result |= {"dataset": dataset, "split": split, "remove_h": remove_h,
               "subset": None if len(positions) == qm9.SPLIT_SIZES[split] else
               f"{len(positions)} random molecules of {qm9.SPLIT_SIZES[split]:,} (seed {seed})",
               "seconds": round(time.perf_counter() - start, 2)}
    return result


def evaluate_file(path, reference=None) -> dict:
    """Both protocols where they apply on the molecules of an XYZ/SDF file; malformed records are skipped
    and counted.

    XYZ: EDM's protocol (bonds from distances). SDF: EDM's protocol on the geometry, and the
    predicted-bond protocol on the file's own bonds and formal charges (unless the file lists no bond
    at all). Aromatic bonds count 1.5, charged atoms use their charge's valences, elements outside QM9's
    are scored (they make the atom unstable when no table knows them); how many molecules hold each is
    counted. Novelty, distributions and chemistry (gensci.metrics.chemistry: heavy_atoms_tv, and fcd_qm9 against
    QM9 only) are against QM9's training split (with or without H, following the file), or against the
    molecules of `reference` (an XYZ/SDF file) when given.
    """
    start = time.perf_counter()
    molecules, skipped = read_molecules_lenient(path)
    if not molecules:
        raise MoleculeFileError(path, None, f"no readable molecules ({_skipped_summary(skipped)})")
    notes = []
    if all(m.bonds is not None for m in molecules) and not any(m.bonds.any() for m in molecules):
        notes.append("the file lists no bonds: the predicted-bond protocol was skipped")
        molecules = [Molecule(m.positions, m.atom_types, m.name, None, m.formal_charges) for m in molecules]
    carried = Carried.of(molecules)
    if reference is not None:
        ref = file_reference(read_molecules(reference), str(reference))
        elements = None
    else:
        ref = qm9_reference(not carried.explicit_h, carried)
        elements = QM9_ELEMENTS
    result = evaluate_protocols(molecules, ref, carried)
    if elements is not None:
        result["n_outside_reference_elements"] = sum(not set(m.atom_types) <= elements for m in molecules)
    result |= {"file": str(path), "n_skipped": len(skipped), "skipped": _skipped_summary(skipped),
               "notes": notes, "seconds": round(time.perf_counter() - start, 2)}
    return result


def xtb_file(path, threads: int = 1) -> dict:
    """GFN2-xTB on each molecule of an XYZ/SDF file at its own geometry (gensci.chem.xtb): its HOMO-LUMO gap (eV)
    and dipole magnitude (Debye), raw and on QM9's B3LYP scale (the shipped calibration), and their means over the
    scored molecules. Total charge: the sum of an SDF's formal charges (XYZ: neutral); closed shell. Molecules
    xTB cannot score are listed with the reason. Raises a UserError when tblite is missing or an SDF file has no 3D
    coordinates (RDKit reads all its records as 2D layouts)."""
    from gensci.chem.xtb import METHOD, require_tblite, shipped_calibration, shipped_calibration_record, xtb_properties

    require_tblite()
    start = time.perf_counter()
    molecules, skipped = read_molecules_lenient(path)
    if not molecules:
        raise MoleculeFileError(path, None, f"no readable molecules ({_skipped_summary(skipped)})")
    if not _has_3d_coordinates(path):
        raise MoleculeFileError(path, None, f"no 3D coordinates (2D layouts): the {METHOD} check needs 3D geometries")
    computed = xtb_properties(molecules, threads=threads)
    calibration = shipped_calibration()
    units = {"gap": "eV", "mu": "D"}  # gensci.chem.xtb.PROPERTY_UNITS, short for the keys
    calibrated = {name: calibration[name].apply(computed[name]) for name in units}
    rows = []
    for k, m in enumerate(molecules):
        row = {"name": m.name, "charge": int(m.charges_or_neutral.sum())}
        for name, unit in units.items():
            row[f"{name}_{unit}_xtb"] = _finite_or_none(computed[name][k])
            row[f"{name}_{unit}"] = _finite_or_none(calibrated[name][k])
        rows.append(row | ({"failure": computed["failures"][k]} if k in computed["failures"] else {}))
    result = {"xtb_method": f"{METHOD} single point at the file's geometry (tblite)",
              "xtb_calibration": f"QM9 B3LYP ~ slope * xTB + offset, {shipped_calibration_record()['data']}",
              "xtb_n_scored": computed["n_scored"], "xtb_n_failed": len(computed["failures"])}
    for name, unit in units.items():
        scored = np.isfinite(computed[name])
        result[f"xtb_{name}_{unit}_mean_raw"] = float(computed[name][scored].mean()) if scored.any() else None
        result[f"xtb_{name}_{unit}_mean"] = float(calibrated[name][scored].mean()) if scored.any() else None
    return result | {"xtb_molecules": rows, "xtb_n_skipped": len(skipped),
                     "xtb_seconds": round(time.perf_counter() - start, 2)}


def _has_3d_coordinates(path) -> bool:
    """False for an SDF/MOL file whose records RDKit all reads as 2D (tagged 2D or no tag, and every z is 0)."""
    from pathlib import Path

    from rdkit import Chem, rdBase

    if Path(path).suffix.lower() not in SDF_SUFFIXES:
        return True  # XYZ frames are 3D by definition
    with rdBase.BlockLogs():
        supplier = Chem.SDMolSupplier(str(path), sanitize=False, removeHs=False)
        return any(mol is not None and mol.GetNumConformers() and mol.GetConformer().Is3D() for mol in supplier)


def _finite_or_none(value) -> float | None:
    return float(value) if np.isfinite(value) else None


def properties_file(path, properties) -> dict:
    """QM9 properties (names, or "alpha,mu") of each readable molecule of an XYZ/SDF file, in file order, predicted
    by the shipped evaluators of EDM's conditional protocol (gensci.workflows.property_evaluator.predict_molecules:
    `properties`, `properties_mean`, `properties_std`, `properties_units`). A UserError for an unknown name, a
    missing evaluator, a file without 3D coordinates, or a molecule with elements outside H, C, N, O, F."""
    from gensci.workflows.property_evaluator import check_properties, load_evaluator, predict_molecules

    names = check_properties(properties)
    for name in names:  # a typo or a missing evaluator fails before the file is read
        load_evaluator(name)
    molecules, skipped = read_molecules_lenient(path)
    if not molecules:
        raise MoleculeFileError(path, None, f"no readable molecules ({_skipped_summary(skipped)})")
    if not _has_3d_coordinates(path) or all(not np.any(m.positions[:, 2]) for m in molecules):
        raise MoleculeFileError(path, None, "no 3D coordinates (2D layouts: every z is 0); the property evaluators "
                                "need 3D geometries")
    return predict_molecules(molecules, names) | {"properties_n_skipped": len(skipped)}


def _skipped_summary(skipped: list[tuple[int, str]]) -> str:
    shown = "; ".join(f"record {r}: {why}" for r, why in skipped[:_MAX_SKIPPED_SHOWN])
    more = len(skipped) - _MAX_SKIPPED_SHOWN
    return shown + (f"; ... and {more} more" if more > 0 else "")
