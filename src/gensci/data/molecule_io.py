"""Molecules in files: multi-frame XYZ and SDF, written and read back.

XYZ frame: a line with the atom count N, a comment line (the molecule's name), then N lines
`Element x y z` in Angstrom. SDF: MDL V2000 records separated by `$$$$`, written by RDKit with each
molecule's own bonds and formal charges, else the bonds inferred from the geometry (EDM's rules,
gensci.chem.distance_bonds); molecules without positions (2D graphs) get a conformer from RDKit's ETKDG.
Molecules read back are gensci.chem.molecule.Molecule (an SDF's bonds and formal charges included).

`read_molecules(path)` raises MoleculeFileError naming the file, the frame/record and what was
wrong; `read_molecules_lenient(path)` returns the good records and a list of (record, reason) for
the skipped ones, so measurements can be made over the valid records.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from gensci.chem.molecule import Molecule, as_molecule
from gensci.errors import InputFileError
from gensci.files import atomic_write

# Element symbols Z = 1..118, to check atom lines without importing RDKit.
_SYMBOLS = (
    "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br Kr "
    "Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb "
    "Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf Es Fm Md No Lr Rf "
    "Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og"
).split()
XYZ_SUFFIXES = (".xyz",)
_FLAT = "RDKit 2D layout (no 3D conformer: the molecule does not sanitise)"
SDF_SUFFIXES = (".sdf", ".sd", ".mol")


class MoleculeFileError(InputFileError):
    """A malformed molecule file: names the file, the frame/record (1-based) and what was wrong."""

    def __init__(self, path, record: int | None, reason: str):
        self.path, self.record, self.reason = Path(path), record, reason
        where = "" if record is None else f" record {record}:"
        super().__init__(f"{path}:{where} {reason}")


def write_molecules(path, molecules, bonds=None) -> Path:
    """Write .xyz or .sdf (by suffix); `bonds` only for SDF (default: each molecule's bonds, else inferred)."""
    path = Path(path)
    if path.suffix.lower() in XYZ_SUFFIXES:
        return write_xyz(path, molecules)
    if path.suffix.lower() in SDF_SUFFIXES:
        return write_sdf(path, molecules, bonds)
    raise MoleculeFileError(path, None, f"unknown molecule file type {path.suffix!r}; use .xyz or .sdf")


def read_molecules(path) -> list[Molecule]:
    """All molecules of an .xyz or .sdf file; the first bad record raises MoleculeFileError."""
    molecules = []
    for record, item in _records(path):
        if isinstance(item, str):
            raise MoleculeFileError(path, record, item)
        molecules.append(item)
    if not molecules:
        raise MoleculeFileError(path, None, "no molecules in the file")
    return molecules


def read_molecules_lenient(path) -> tuple[list[Molecule], list[tuple[int, str]]]:
    """(good molecules, [(record, reason), ...] for the records that were skipped)."""
    molecules, skipped = [], []
    for record, item in _records(path):
        if isinstance(item, str):
            skipped.append((record, item))
        else:
            molecules.append(item)
    return molecules, skipped


def write_xyz(path, molecules) -> Path:
    """Multi-frame XYZ; each frame's comment line is the molecule's name (if any). Molecules need positions."""
    lines = []
    for k, m in enumerate(map(as_molecule, molecules)):
        if m.positions is None:
            raise ValueError(f"molecule {k} ({m.name}) has no positions to write as XYZ; write an SDF instead")
        lines += [str(m.n_atoms), m.name.replace("\n", " ")]
        lines += [f"{t:<2s} {x:14.8f} {y:14.8f} {z:14.8f}" for t, (x, y, z) in zip(m.atom_types, m.positions)]
    return _write_text(path, "\n".join(lines) + "\n")


def write_sdf(path, molecules, bonds=None, seed: int = 0, fields=None) -> Path:
    """SDF with 3D coordinates, bonds (given per molecule, else the molecule's own, else inferred) and formal
    charges. A molecule without positions gets all its hydrogens and an ETKDG conformer (seeded); one RDKit
    cannot embed (it does not sanitise) gets RDKit's flat 2D layout. Each record's `coordinates` property
    says where its coordinates came from; `fields` (one dict per molecule, e.g. the property values a sample was
    conditioned on) adds a data field per key."""
    from rdkit import Chem

    from gensci.chem.rdmol import embed_3d, molecule_to_rdkit

    blocks = []
    for k, m in enumerate(map(as_molecule, molecules)):
        b = bonds[k] if bonds is not None else None
        if m.positions is not None:
            mol, source = molecule_to_rdkit(m, b, conformer=True), "given"
        else:
            mol = molecule_to_rdkit(m, b)
            embedded = embed_3d(mol, seed)
            mol, source = (mol, _FLAT) if embedded is None else (embedded, "RDKit ETKDG")
        mol.UpdatePropertyCache(strict=False)  # unsanitized (maybe invalid) samples must still be writable
        mol.SetProp("_Name", m.name)
        extra = "".join(f">  <{key}>\n{value}\n\n" for key, value in (fields[k] if fields else {}).items())
        blocks.append(Chem.MolToMolBlock(mol, kekulize=False) + f">  <coordinates>\n{source}\n\n{extra}$$$$\n")
    return _write_text(path, "".join(blocks))


def write_smiles(path, molecules) -> Path:
    """One line per molecule: `SMILES<tab>name<tab>valid|invalid`, from each molecule's own bonds and formal
    charges (else the bonds inferred from its positions). Valid: RDKit's canonical SMILES of the sanitised molecule
    (hydrogens implicit, no stereo); invalid (RDKit rejects it: valence, kekulisation): the SMILES of the unsanitised
    graph as written, so that every sample can still be looked at."""
    from rdkit import Chem

    from gensci.chem.rdmol import canonical_smiles, molecule_to_rdkit

    lines = []
    for m in map(as_molecule, molecules):
        mol = molecule_to_rdkit(m)
        smiles, valid = canonical_smiles(mol), "valid"
        if smiles is None:
            mol.UpdatePropertyCache(strict=False)
            smiles, valid = Chem.MolToSmiles(mol, canonical=False), "invalid"
        lines.append(f"{smiles}\t{m.name}\t{valid}")
    return _write_text(path, "\n".join(lines) + "\n")


def _records(path):
    path = Path(path)
    if not path.exists():
        raise MoleculeFileError(path, None, "no such file")
    suffix = path.suffix.lower()
    if suffix not in XYZ_SUFFIXES + SDF_SUFFIXES:
        raise MoleculeFileError(path, None, f"unknown molecule file type {suffix!r}; use .xyz or .sdf")
    try:
        text = path.read_text()
    except UnicodeDecodeError as err:
        raise MoleculeFileError(path, None, f"not a text file ({err.reason} at byte {err.start})") from None
    return _xyz_records(text) if suffix in XYZ_SUFFIXES else _sdf_records(text)


def _xyz_records(text: str):
    """Yield (frame number, Molecule or reason). A malformed frame costs only itself: after it the reader
    resynchronises on the next frame header (a line holding one positive integer), so a wrong atom count
    that runs into the next frame does not take that frame with it."""
    lines = text.splitlines()
    i, frame = 0, 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        frame += 1
        head = lines[i].split()
        if len(head) != 1 or not head[0].isdigit() or int(head[0]) == 0:
            yield frame, f"line {i + 1}: expected the number of atoms (a positive integer), got {lines[i]!r}"
            i = _next_xyz_header(lines, i + 1)
            continue
        n, start = int(head[0]), i + 2
        end = start + n
        name = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if end > len(lines):
            item = f"line {i + 1}: declares {n} atoms but the file ends after {max(len(lines) - start, 0)}"
        else:
            item = _xyz_atoms(lines[start:end], start + 1, name)
        yield frame, item
        i = end if isinstance(item, Molecule) else _next_xyz_header(lines, i + 2)


def _next_xyz_header(lines: list[str], i: int) -> int:
    """Index of the next line that holds a single positive integer (a frame header), from line i."""
    while i < len(lines) and not (len(lines[i].split()) == 1 and lines[i].strip().isdigit()):
        i += 1
    return i


def _xyz_atoms(lines: list[str], first_line: int, name: str):
    types, pos = [], []
    for k, line in enumerate(lines):
        parts = line.split()
        where = f"line {first_line + k}"
        if len(parts) < 4:
            return f"{where}: expected 'element x y z', got {line!r}"
        symbol = parts[0]
        if symbol.isdigit() and 0 < int(symbol) <= len(_SYMBOLS):
            symbol = _SYMBOLS[int(symbol) - 1]
        if symbol not in _SYMBOLS:
            return f"{where}: unknown element {parts[0]!r}"
        try:
            xyz = [float(v.replace("*^", "e")) for v in parts[1:4]]
        except ValueError:
            return f"{where}: coordinates are not numbers: {' '.join(parts[1:4])!r}"
        if not all(math.isfinite(v) for v in xyz):
            return f"{where}: coordinates are not finite: {' '.join(parts[1:4])!r}"
        types.append(symbol)
        pos.append(xyz)
    return Molecule(np.array(pos, dtype=np.float64), types, name)


def _sdf_records(text: str):
    """Yield (record number, Molecule or reason) for each `$$$$`-terminated MDL record."""
    from rdkit import Chem, rdBase

    blocks, current = [], []
    for line in text.splitlines():
        if line.strip() == "$$$$":
            blocks.append(current)
            current = []
        else:
            current.append(line)
    if any(line.strip() for line in current):
        blocks.append(current)  # last record without its terminator: RDKit reads those too
    for record, block in enumerate(blocks, start=1):
        problem = _molfile_problem(block)
        if problem:
            yield record, problem
            continue
        with rdBase.BlockLogs():
            mol = Chem.MolFromMolBlock("\n".join(block), sanitize=False, removeHs=False, strictParsing=True)
        if mol is None:
            yield record, "RDKit could not parse the record"
            continue
        yield record, _from_rdkit(mol)


def _molfile_problem(block: list[str]) -> str | None:
    """What is wrong with a V2000 record's header, counts line and atom block, or None."""
    if len(block) < 4:
        return f"expected a header of 3 lines and a counts line, got {len(block)} lines"
    counts = block[3]
    if "V3000" in counts:
        return None  # leave V3000 to RDKit
    try:
        n_atoms, n_bonds = int(counts[0:3]), int(counts[3:6])
    except ValueError:
        return f"line 4: expected the counts line 'aaabbb...V2000', got {counts!r}"
    if len(block) < 4 + n_atoms + n_bonds:
        return f"declares {n_atoms} atoms and {n_bonds} bonds but has only {len(block) - 4} lines after the counts line"
    for k, line in enumerate(block[4 : 4 + n_atoms]):
        try:
            xyz = [float(line[c : c + 10]) for c in (0, 10, 20)]
        except ValueError:
            return f"line {5 + k} (atom {k + 1}): coordinates are not numbers: {line[:30]!r}"
        if not all(math.isfinite(v) for v in xyz):
            return f"line {5 + k} (atom {k + 1}): coordinates are not finite"
        symbol = line[31:34].strip()
        if symbol not in _SYMBOLS:
            return f"line {5 + k} (atom {k + 1}): unknown element {symbol!r}"
    return None


def _from_rdkit(mol):
    from gensci.chem.rdmol import graph_from_mol

    if mol.GetNumAtoms() == 0:
        return "the record has no atoms"
    if mol.GetNumConformers() == 0:
        return "the record has no coordinates"
    pos = np.array(mol.GetConformer().GetPositions(), dtype=np.float64)
    if not np.isfinite(pos).all():
        return "coordinates are not finite"
    try:
        symbols, bonds, charges = graph_from_mol(mol)
    except ValueError as err:  # a bond type other than single/double/triple/aromatic
        return str(err)
    name = mol.GetProp("_Name") if mol.HasProp("_Name") else ""
    return Molecule(pos, symbols, name, bonds, charges)


def _write_text(path, text: str) -> Path:
    return atomic_write(path, text)
