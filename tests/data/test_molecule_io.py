"""XYZ and SDF files: round trips, errors that name the file and record, lenient reading, file evaluation."""

import numpy as np
import pytest

from gensci.chem.distance_bonds import infer_bonds
from gensci.chem.molecule import Molecule
from gensci.data.molecule_io import (MoleculeFileError, read_molecules, read_molecules_lenient, write_molecules,
                                     write_sdf, write_smiles)


def _molecules():
    water = Molecule(np.array([[0.0, 0.0, 0.0], [0.7575, 0.5865, 0.0], [-0.7575, 0.5865, 0.0]]),
                     ["O", "H", "H"], "water")
    d = 1.087 / np.sqrt(3)
    methane = Molecule(np.array([[0, 0, 0], [d, d, d], [d, -d, -d], [-d, d, -d], [-d, -d, d]]) + 0.25,
                       ["C", "H", "H", "H", "H"], "methane")
    hcn = Molecule(np.array([[0, 0, 0], [1.066, 0, 0], [2.219, 0, 0]]), ["H", "C", "N"], "hydrogen cyanide")
    return [water, methane, hcn]


@pytest.mark.parametrize("suffix, atol", [(".xyz", 1e-8), (".sdf", 1e-4)])  # MDL files keep 4 decimals
def test_round_trip(tmp_path, suffix, atol):
    mols = _molecules()
    path = write_molecules(tmp_path / f"mols{suffix}", mols)
    back = read_molecules(path)
    assert [m.atom_types for m in back] == [m.atom_types for m in mols]
    assert [m.name for m in back] == [m.name for m in mols]
    for a, b in zip(mols, back):
        np.testing.assert_allclose(b.positions, a.positions, atol=atol)
    if suffix == ".sdf":  # the file carries the bonds inferred from the geometry
        for a, b in zip(mols, back):
            assert np.array_equal(b.bonds, infer_bonds(a.positions, a.atom_types))
        assert back[2].bonds[1, 2] == 3


def test_accepts_pairs_and_writes_invalid_molecules(tmp_path):
    pentavalent = (np.array([[0, 0, 0], [1.0, 0, 0], [-1.0, 0, 0], [0, 1.0, 0], [0, -1.0, 0], [0, 0, 1.0]]),
                   ["C", "H", "H", "H", "H", "H"])
    back = read_molecules(write_molecules(tmp_path / "bad.sdf", [pentavalent]))
    assert back[0].bonds[0].sum() == 5


def test_sdf_keeps_own_bonds_and_charges(tmp_path):
    from rdkit import Chem
    from rdkit.Chem import AllChem

    from gensci.chem.rdmol import graph_from_mol

    mol = Chem.AddHs(Chem.MolFromSmiles("[NH3+]CC([O-])=O"))
    Chem.Kekulize(mol, clearAromaticFlags=True)
    symbols, bonds, charges = graph_from_mol(mol)
    AllChem.EmbedMolecule(mol, randomSeed=0)
    given = Molecule(mol.GetConformer().GetPositions(), symbols, "glycine", bonds, charges)
    back = read_molecules(write_molecules(tmp_path / "gly.sdf", [given]))[0]
    assert np.array_equal(back.bonds, bonds) and np.array_equal(back.formal_charges, charges)
    assert read_molecules(write_molecules(tmp_path / "gly.xyz", [given]))[0].bonds is None  # XYZ: no bonds


def test_2d_molecules_get_etkdg_conformers_in_sdf_and_no_xyz(tmp_path):
    ethene = Molecule(None, ["C", "C"], "ethene", bonds=[[0, 2], [2, 0]])  # hydrogens implicit
    broken = Molecule(None, ["C", "O"], "pentavalent", bonds=[[0, 3], [3, 0]], formal_charges=[0, 0])
    path = write_sdf(tmp_path / "graphs.sdf", [ethene, broken], seed=1)
    first, second = read_molecules(path)
    assert first.atom_types == ["C", "C", "H", "H", "H", "H"] and first.bonds[0, 1] == 2
    assert 1.25 < np.linalg.norm(first.positions[0] - first.positions[1]) < 1.45  # C=C about 1.34 A
    assert second.bonds[0, 1] == 3 and not second.positions[:, 2].any()  # O with 3 bonds: a flat 2D layout
    records = path.read_text().split("$$$$")
    assert "RDKit ETKDG" in records[0] and "2D layout" in records[1]
    with pytest.raises(ValueError, match="no positions"):
        write_molecules(tmp_path / "graphs.xyz", [ethene])


def test_2d_molecules_as_smiles_marked_valid_or_invalid(tmp_path):
    ethene = Molecule(None, ["C", "C"], "ethene", bonds=[[0, 2], [2, 0]])
    nitro = Molecule(None, ["C", "N", "O", "O"], "nitromethane",
                     bonds=[[0, 1, 0, 0], [1, 0, 2, 1], [0, 2, 0, 0], [0, 1, 0, 0]], formal_charges=[0, 1, 0, -1])
    broken = Molecule(None, ["C", "O"], "pentavalent", bonds=[[0, 3], [3, 0]], formal_charges=[0, 0])
    lines = write_smiles(tmp_path / "graphs.smi", [ethene, nitro, broken]).read_text().splitlines()
    assert lines[0] == "C=C\tethene\tvalid" and lines[1] == "C[N+](=O)[O-]\tnitromethane\tvalid"
    assert lines[2].endswith("\tpentavalent\tinvalid") and "#" in lines[2]  # the graph as sampled, triple bond


XYZ_GOOD = "3\nwater\nO 0 0 0\nH 0.7575 0.5865 0\nH -0.7575 0.5865 0\n"
XYZ_CASES = {
    "not numbers": (XYZ_GOOD + "2\nbroken\nH 0 0 0\nH 0.74 zero 0\n" + XYZ_GOOD, 2,
                    "line 9: coordinates are not numbers"),
    "unknown element": (XYZ_GOOD + "2\nbroken\nH 0 0 0\nXx 0.74 0 0\n" + XYZ_GOOD, 2, "unknown element 'Xx'"),
    "nan": (XYZ_GOOD + "2\nbroken\nH 0 0 0\nH nan 0 0\n" + XYZ_GOOD, 2, "not finite"),
    "short line": (XYZ_GOOD + "2\nbroken\nH 0 0 0\nH 0.74 0\n" + XYZ_GOOD, 2, "expected 'element x y z'"),
    "bad count": (XYZ_GOOD + "two\nbroken\nH 0 0 0\nH 0.74 0 0\n" + XYZ_GOOD, 2, "expected the number of atoms"),
}


@pytest.mark.parametrize("case", list(XYZ_CASES))
def test_malformed_xyz(tmp_path, case):
    text, record, message = XYZ_CASES[case]
    path = tmp_path / "samples.xyz"
    path.write_text(text)
    with pytest.raises(MoleculeFileError) as err:
        read_molecules(path)
    assert err.value.record == record and message in str(err.value)
    assert str(path) in str(err.value) and f"record {record}" in str(err.value)
    good, skipped = read_molecules_lenient(path)
    assert len(good) == 2 and [r for r, _ in skipped] == [record]  # the frame after the bad one is still read


@pytest.mark.parametrize("count", [3, 5, 1])
def test_a_wrong_atom_count_costs_only_its_own_frame(tmp_path, count):
    # frame 2 has two atom lines but declares `count`: too many runs into frame 3; too few reads a one-atom
    # frame (nothing in the file says otherwise) and leaves a stray line, which is skipped
    path = tmp_path / "samples.xyz"
    path.write_text(XYZ_GOOD + f"{count}\nbroken\nH 0 0 0\nH 0.74 0 0\n" + XYZ_GOOD + XYZ_GOOD)
    good, skipped = read_molecules_lenient(path)
    assert [m.name for m in good if m.name == "water"] == ["water"] * 3
    assert len(skipped) == 1 and len(good) == (4 if count == 1 else 3)


def test_truncated_xyz(tmp_path):
    path = tmp_path / "cut.xyz"
    path.write_text(XYZ_GOOD + "5\ncut\nC 0 0 0\nH 1 0 0\n")
    with pytest.raises(MoleculeFileError, match=r"record 2: line 6: declares 5 atoms but the file ends after 2"):
        read_molecules(path)


def test_malformed_sdf(tmp_path):
    path = write_molecules(tmp_path / "mols.sdf", _molecules())
    records = path.read_text().split("$$$$\n")
    lines = records[1].split("\n")
    lines[5] = lines[5][:12] + "x.xxxx" + lines[5][18:]  # second atom of record 2: y is not a number
    records[1] = "\n".join(lines)
    path.write_text("$$$$\n".join(records))
    with pytest.raises(MoleculeFileError, match=r"record 2: line 6 \(atom 2\): coordinates are not numbers"):
        read_molecules(path)
    good, skipped = read_molecules_lenient(path)
    assert [m.name for m in good] == ["water", "hydrogen cyanide"] and skipped[0][0] == 2


def test_truncated_sdf_and_bad_files(tmp_path):
    text = write_molecules(tmp_path / "mols.sdf", _molecules()).read_text()
    cut = tmp_path / "cut.sdf"
    cut.write_text(text[: text.index("$$$$") + 5] + "\n".join(text.split("$$$$\n")[1].split("\n")[:6]))
    with pytest.raises(MoleculeFileError, match="record 2: declares 5 atoms and 4 bonds but has only 2 lines"):
        read_molecules(cut)
    with pytest.raises(MoleculeFileError, match="no such file"):
        read_molecules(tmp_path / "missing.xyz")
    (tmp_path / "mols.pdb").write_text("")
    with pytest.raises(MoleculeFileError, match="unknown molecule file type"):
        read_molecules(tmp_path / "mols.pdb")
    (tmp_path / "empty.xyz").write_text("\n")
    with pytest.raises(MoleculeFileError, match="no molecules"):
        read_molecules(tmp_path / "empty.xyz")


