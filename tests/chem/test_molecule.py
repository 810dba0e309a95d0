"""The one Molecule type, as_molecule and molecules_from_padded."""

import numpy as np
import pytest
import torch

from gensci.chem.distance_bonds import infer_bonds
from gensci.chem.molecule import Molecule, as_molecule, molecules_from_padded

WATER = (np.array([[0.0, 0.0, 0.0], [0.7575, 0.5865, 0.0], [-0.7575, 0.5865, 0.0]]), ["O", "H", "H"])


def test_conversions_give_the_same_molecule():
    class Holder:  # any object with .positions and .atom_types
        positions, atom_types = WATER

    for given in (WATER, Holder(), Molecule(*WATER)):
        m = as_molecule(given)
        assert isinstance(m, Molecule) and m.atom_types == ["O", "H", "H"] and m.positions.dtype == np.float64
        assert m.bonds is None and m.formal_charges is None and m.n_atoms == 3
    m = Molecule(*WATER)
    assert as_molecule(m) is m


def test_bonds_or_inferred():
    m = Molecule(*WATER)
    assert np.array_equal(m.bonds_or_inferred(), infer_bonds(*WATER))
    own = np.zeros((3, 3), int)
    assert not Molecule(*WATER, bonds=own).bonds_or_inferred().any()
    graph = Molecule(None, ["O", "H", "H"], bonds=[[0, 1, 1], [1, 0, 0], [1, 0, 0]])
    assert graph.bonds_or_inferred().sum() == 4 and graph.positions is None
    with pytest.raises(ValueError, match="neither bonds nor positions"):
        Molecule(None, ["O"]).bonds_or_inferred()


@pytest.mark.parametrize("kwargs, message", [
    ({"positions": np.zeros((2, 3))}, "positions of shape"),
    ({"positions": np.full((3, 3), np.inf)}, "NaN or inf"),
    ({"bonds": np.zeros((3, 2))}, "bonds of shape"),
    ({"bonds": np.full((3, 3), 5)}, "bond codes"),
    ({"formal_charges": [0, 1]}, "formal charges of shape"),
])
def test_bad_arrays_are_named(kwargs, message):
    fields = {"positions": WATER[0], "atom_types": WATER[1], "bonds": None, "formal_charges": None} | kwargs
    with pytest.raises(ValueError, match=message):
        Molecule(**fields)
    holder = type("Holder", (), fields)()  # an object with the same attributes
    with pytest.raises(ValueError, match=f"molecule 4: .*{message}"):
        as_molecule(holder, 4)


def test_padded_samples_with_bonds_and_charges():
    elements = ["H", "C", "N", "O"]
    samples = {  # [NH3+]-CH3 without its hydrogens (heavy atoms at positions 1 and 3), and a lone O
        "atom_types": torch.tensor([[-1, 2, -1, 1], [3, -1, -1, -1]]),
        "node_mask": torch.tensor([[0.0, 1, 0, 1], [1, 0, 0, 0]]),
        "formal_charges": torch.tensor([[0, 1, 0, 0], [0, 0, 0, 0]]),
        "bonds": torch.zeros(2, 4, 4, dtype=torch.long),
        "positions": torch.arange(24.0).reshape(2, 4, 3),
    }
    samples["bonds"][0, 1, 3] = samples["bonds"][0, 3, 1] = 1
    a, b = molecules_from_padded(samples, elements)
    assert a.atom_types == ["N", "C"] and a.formal_charges.tolist() == [1, 0]
    assert a.bonds.tolist() == [[0, 1], [1, 0]] and a.positions.tolist() == [[3, 4, 5], [9, 10, 11]]
    assert b.atom_types == ["O"] and b.name == "sample 1"
    graph = molecules_from_padded({k: v for k, v in samples.items() if k != "positions"}, elements)
    assert graph[0].positions is None and graph[0].bonds is not None
    plain = molecules_from_padded({k: samples[k] for k in ("positions", "atom_types", "node_mask")}, elements)
    assert plain[0].bonds is None and plain[0].formal_charges is None
