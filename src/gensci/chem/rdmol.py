"""RDKit molecules from atoms, bond codes and formal charges, and their canonical SMILES.

Bond codes: 0 none, 1 single, 2 double, 3 triple, 4 aromatic (gensci.chem.BOND_CODES).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def _bond_types():
    from rdkit import Chem

    return {1: Chem.BondType.SINGLE, 2: Chem.BondType.DOUBLE, 3: Chem.BondType.TRIPLE, 4: Chem.BondType.AROMATIC}


def build_mol(symbols: Sequence, bonds, formal_charges=None, positions=None):
    """An unsanitised RDKit `Mol` (as MiDi's `Molecule.build_molecule`).

    symbols: N element symbols (or atomic numbers); bonds: [N, N] bond codes (the upper triangle is
    read); formal_charges: [N] int or None (all 0); positions: [N, 3] Angstrom or None (then no
    conformer). Hydrogens not in `symbols` are implicit: RDKit adds them when sanitising.
    """
    from rdkit import Chem
    from rdkit.Geometry import Point3D

    n = len(symbols)
    bonds = np.asarray(bonds)
    charges = np.zeros(n, dtype=np.int64) if formal_charges is None else np.asarray(formal_charges)
    if bonds.shape != (n, n) or charges.shape != (n,):
        raise ValueError(f"expected bonds [{n}, {n}] and formal charges [{n}] for {n} atoms; got "
                         f"{list(bonds.shape)} and {list(charges.shape)}")
    kinds = _bond_types()
    mol = Chem.RWMol()
    for symbol, charge in zip(symbols, charges.tolist()):
        atom = Chem.Atom(int(symbol) if isinstance(symbol, (int, np.integer)) else str(symbol))
        atom.SetFormalCharge(int(charge))
        mol.AddAtom(atom)
    for i, j in zip(*np.nonzero(np.triu(bonds, 1))):
        code = int(bonds[i, j])
        if code not in kinds:
            raise ValueError(f"bond ({i}, {j}) has code {code}; expected 0-4 (none, single, double, triple, aromatic)")
        mol.AddBond(int(i), int(j), kinds[code])
    if positions is not None:
        pos = np.asarray(positions, dtype=np.float64)
        if pos.shape != (n, 3):
            raise ValueError(f"expected positions [{n}, 3], got {list(pos.shape)}")
        conf = Chem.Conformer(n)
        for k, (x, y, z) in enumerate(pos.tolist()):
            conf.SetAtomPosition(k, Point3D(x, y, z))
        mol.AddConformer(conf, assignId=True)
    return mol.GetMol()


def canonical_smiles(mol, isomeric: bool = False, remove_hs: bool = True) -> str | None:
    """Canonical SMILES of a sanitised copy of `mol`, or None when RDKit rejects it (valence, kekulisation).

    remove_hs=True folds explicit H atoms in; isomeric=False drops stereo and isotopes, so molecules
    perceived from 3D compare like with like with SMILES written without stereo. EDM's `mol2smiles`
    (qm9/rdkit_functions.py) is canonical_smiles(mol, isomeric=True, remove_hs=False)."""
    from rdkit import Chem, rdBase

    copy = Chem.Mol(mol)
    try:
        with rdBase.BlockLogs():
            Chem.SanitizeMol(copy)
            if remove_hs:
                copy = Chem.RemoveHs(copy)
    except ValueError:  # MolSanitizeException and its subclasses derive from ValueError
        return None
    return Chem.MolToSmiles(copy, isomericSmiles=isomeric)


def fragment_smiles(mol, isomeric: bool = False, remove_hs: bool = True) -> tuple[str | None, str | None, int]:
    """(SMILES of the whole molecule, SMILES of its largest fragment, number of fragments) of an
    unsanitised `mol`, each None when that part does not sanitise (canonical_smiles' conventions).

    EDM's validity (qm9/rdkit_functions.py `compute_validity`) needs the whole molecule to sanitise and
    counts its largest fragment's SMILES; MiDi's (midi/metrics/molecular_metrics.py) needs only the
    largest fragment to sanitise."""
    from rdkit import Chem

    whole = canonical_smiles(mol, isomeric, remove_hs)
    fragments = Chem.GetMolFrags(mol, asMols=True, sanitizeFrags=False)
    if len(fragments) <= 1:
        return whole, whole, len(fragments)
    largest = max(fragments, key=lambda m: m.GetNumAtoms())
    return whole, canonical_smiles(largest, isomeric, remove_hs), len(fragments)


def molecule_to_rdkit(molecule, bonds=None, charges: bool = True, conformer: bool = False):
    """An unsanitised RDKit Mol of a gensci.chem.molecule.Molecule: `bonds` [N, N] codes if given, else
    the molecule's own, else EDM's inferred from distances; its formal charges unless charges=False; its
    positions as a 3D conformer with `conformer` (when it has positions)."""
    bonds = molecule.bonds_or_inferred() if bonds is None else bonds
    positions = molecule.positions if conformer else None
    return build_mol(molecule.atom_types, bonds, molecule.formal_charges if charges else None, positions)


def embed_3d(mol, seed: int = 0):
    """A copy of `mol` with all hydrogens explicit and a 3D conformer from RDKit's ETKDG (v3), or None when
    the molecule does not sanitise or cannot be embedded. For 2D graphs written to SDF files."""
    from rdkit import Chem, rdBase
    from rdkit.Chem import AllChem

    copy = Chem.Mol(mol)
    try:
        with rdBase.BlockLogs():
            Chem.SanitizeMol(copy)
    except ValueError:
        return None
    copy = Chem.AddHs(copy)
    params = AllChem.ETKDGv3()
    params.randomSeed = seed
    with rdBase.BlockLogs():
        ok = AllChem.EmbedMolecule(copy, params) == 0
    return copy if ok else None


def smiles_from_graph(symbols: Sequence, bonds, formal_charges=None, isomeric: bool = False) -> str | None:
    """Sanitised canonical SMILES of the molecule with these atoms, bonds and charges (None = invalid)."""
    return canonical_smiles(build_mol(symbols, bonds, formal_charges), isomeric)


def normalise_smiles(smiles: str, isomeric: bool = False) -> str | None:
    """The canonical form of a SMILES string under the same conventions as canonical_smiles (None if unparsable)."""
    from rdkit import Chem, rdBase

    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(smiles)
    return None if mol is None else Chem.MolToSmiles(mol, isomericSmiles=isomeric)


def graph_from_mol(mol) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(symbols, bonds [N, N] int8 codes, formal charges [N] int8) of an RDKit molecule; aromatic bonds -> 4
    (Kekulize the molecule first for codes 1-3 only)."""
    codes = {kind: code for code, kind in _bond_types().items()}
    n = mol.GetNumAtoms()
    bonds = np.zeros((n, n), dtype=np.int8)
    for b in mol.GetBonds():
        i, j = b.GetBeginAtomIdx(), b.GetEndAtomIdx()
        if b.GetBondType() not in codes:
            raise ValueError(f"bond ({i}, {j}) has type {b.GetBondType()}; only single/double/triple/aromatic")
        bonds[i, j] = bonds[j, i] = codes[b.GetBondType()]
    charges = np.array([a.GetFormalCharge() for a in mol.GetAtoms()], dtype=np.int8)
    return [a.GetSymbol() for a in mol.GetAtoms()], bonds, charges
