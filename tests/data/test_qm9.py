"""QM9 from qm9pack: parsing, the cache, EDM's splits, the tensors the models see.

The first run parses qm9pack's CSVs (~20 s) into the gensci cache; later runs load the npz.
"""

import json
import sys

import numpy as np
import pytest
import torch

from gensci.data.base import default_cache_dir
from gensci.data import qm9
from gensci.data.qm9 import QM9Data, QM9DataConfig

# Atom-count histograms of EDM's splits, copied from configs/datasets_config.py of
# github.com/ehoogeboom/e3_diffusion_for_molecules (qm9_with_h, qm9_second_half, qm9_without_h `n_nodes`).
EDM_TRAIN_N_NODES = {22: 3393, 17: 13025, 23: 4848, 21: 9970, 19: 13832, 20: 9482, 16: 10644, 13: 3060, 15: 7796,
                     25: 1506, 18: 13364, 12: 1689, 11: 807, 24: 539, 14: 5136, 26: 48, 7: 16, 10: 362, 8: 49,
                     9: 124, 27: 266, 4: 4, 29: 25, 6: 9, 5: 5, 3: 1}
EDM_SECOND_HALF_N_NODES = {19: 6944, 12: 845, 20: 4794, 21: 4962, 27: 132, 25: 754, 18: 6695, 14: 2587, 15: 3865,
                           22: 1701, 17: 6461, 16: 5344, 23: 2380, 13: 1541, 24: 267, 10: 178, 7: 7, 11: 412, 8: 25,
                           9: 62, 29: 15, 26: 17, 4: 3, 3: 1, 6: 5, 5: 3}
EDM_NO_H_N_NODES = {9: 83366, 8: 13625, 7: 2404, 6: 475, 5: 91, 4: 25, 3: 7, 1: 2, 2: 5}
# Same file, qm9_with_h `atom_types` (one-hot index H, C, N, O, F -> count over the training split).
EDM_TRAIN_ATOM_TYPES = {1: 923537, 6: 635559, 7: 101476, 8: 140202, 9: 2323}


@pytest.fixture(scope="module")
def arrays():
    return qm9.load_arrays()


def _hist(values):
    return {int(k): int(c) for k, c in zip(*np.unique(values, return_counts=True))}


def test_qm9pack_found_without_importing_it():
    folder = qm9.qm9pack_data_dir()
    assert (folder / "qm9_part3.csv").exists()
    assert "qm9pack" not in sys.modules  # importing it would fail (pkg_resources)


def test_parsed_counts(arrays):
    assert len(arrays["index"]) == qm9.N_MOLECULES == 130_831
    assert len(np.unique(arrays["index"])) == qm9.N_MOLECULES
    assert np.all(np.diff(arrays["index"]) > 0) and arrays["index"].max() == 133_885
    assert arrays["n_atoms"].max() == 29 and arrays["n_atoms"].min() == 3
    assert np.array_equal((arrays["charges"] > 0).sum(1), arrays["n_atoms"])
    # element counts over all 130,831 molecules (measured from qm9pack; the train subset is checked against EDM)
    counts = {z: int((arrays["charges"] == z).sum()) for z in qm9.ATOMIC_NUMBERS}
    assert counts == {1: 1208486, 6: 831925, 7: 132498, 8: 183265, 9: 3036}
    padding = arrays["charges"] == 0
    assert np.all(arrays["positions"][padding] == 0)


def test_first_molecules_and_property_units(arrays):
    assert list(arrays["smiles"][:5]) == ["C", "N", "O", "C#C", "C#N"]
    # methane (QM9 index 1): gap 0.5048 Hartree, alpha 13.21 Bohr^3, mu 0 D, Cv 6.469 cal/(mol K)
    assert arrays["gap"][0] == pytest.approx(0.5048 * qm9.HARTREE_TO_EV)
    assert arrays["homo"][0] == pytest.approx(-0.3877 * 27.211386)
    assert (arrays["alpha"][0], arrays["mu"][0], arrays["Cv"][0]) == pytest.approx((13.21, 0.0, 6.469))


def test_second_load_reads_the_cache(monkeypatch, arrays):
    monkeypatch.setattr(qm9, "parse_qm9pack", lambda *a: pytest.fail("parsed again instead of using the cache"))
    again = qm9.load_arrays()
    assert np.array_equal(again["positions"], arrays["positions"])


def test_cache_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GENSCI_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path


def test_edm_splits_sizes_disjoint_and_identical_to_edm(arrays):
    splits = qm9.edm_split_indices()
    assert {k: len(v) for k, v in splits.items()} == {"train": 100_000, "valid": 17_748, "test": 13_083}
    union = np.concatenate(list(splits.values()))
    assert len(np.unique(union)) == qm9.N_MOLECULES  # disjoint and complete
    train = splits["train"]
    assert _hist(arrays["n_atoms"][train]) == EDM_TRAIN_N_NODES
    assert {z: int((arrays["charges"][train] == z).sum()) for z in qm9.ATOMIC_NUMBERS} == EDM_TRAIN_ATOM_TYPES
    assert _hist((arrays["charges"][train] > 1).sum(1)) == EDM_NO_H_N_NODES


def test_conditional_halves(arrays):
    first, second = qm9.split_rows("train", "first_half"), qm9.split_rows("train", "second_half")
    assert len(first) == len(second) == 50_000
    assert len(np.intersect1d(first, second)) == 0
    assert np.array_equal(np.sort(np.concatenate([first, second])), qm9.split_rows("train"))
    assert _hist(arrays["n_atoms"][second]) == EDM_SECOND_HALF_N_NODES


def test_load_gives_centred_padded_tensors():
    data = QM9Data.load(QM9DataConfig(limit_train=64, limit_eval=16))
    assert (len(data.train), len(data.valid), len(data.test)) == (64, 16, 16)
    t = data.train.tensors
    assert t["positions"].shape == (64, 29, 3) and t["one_hot"].shape == (64, 29, 5)
    assert t["charges"].shape == (64, 29, 1) and t["node_mask"].shape == (64, 29)
    mask = t["node_mask"]
    centre = (t["positions"] * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    assert centre.abs().max() < 1e-5
    assert torch.all(t["positions"][mask == 0] == 0)
    assert torch.equal(t["one_hot"].sum(-1), mask)
    numbers = (t["one_hot"] * torch.tensor([1.0, 6, 7, 8, 9])).sum(-1)
    assert torch.equal(numbers, t["charges"][..., 0])
    for name in qm9.PROPERTY_UNITS:
        assert t[name].shape == (64,) and torch.isfinite(t[name]).all()
    info = data.info
    json.dumps(info)  # plain data only (it goes into checkpoints)
    assert info["atom_types"] == ["H", "C", "N", "O", "F"] and info["max_n_atoms"] == 29
    assert sum(info["n_nodes_hist"].values()) == 64
    assert info["properties"]["gap"] == "eV"
    # interatomic distances survive centring: first training molecule vs the raw arrays
    raw = qm9.load_arrays()["positions"][qm9.split_rows("train")[0]]
    n = int(mask[0].sum())
    assert torch.cdist(t["positions"][0, :n], t["positions"][0, :n]).numpy() == pytest.approx(
        torch.cdist(torch.tensor(raw[:n]), torch.tensor(raw[:n])).numpy(), abs=1e-5)


def test_remove_h_and_second_half():
    data = QM9Data.load(QM9DataConfig(remove_h=True, split="second_half", limit_train=200, limit_eval=8))
    t = data.train.tensors
    assert t["positions"].shape == (200, 9, 3) and t["one_hot"].shape == (200, 9, 4)
    assert torch.all(t["charges"][t["node_mask"] > 0] > 1)
    mask = t["node_mask"]
    assert ((t["positions"] * mask[..., None]).sum(1)).abs().max() < 1e-4
    assert data.info["atom_types"] == ["C", "N", "O", "F"] and data.info["max_n_atoms"] == 9
    rows = qm9.split_rows("train", "second_half")[:200]
    heavy = (qm9.load_arrays()["charges"][rows] > 1).sum(1)
    assert np.array_equal(mask.sum(1).numpy().astype(int), heavy)


def test_config_rejects_unknown_keys_and_splits():
    with pytest.raises(ValueError):
        QM9DataConfig(remove_hydrogens=True)
    with pytest.raises(ValueError):
        QM9DataConfig(split="half")
