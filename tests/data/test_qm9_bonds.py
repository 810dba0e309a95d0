"""qm9-bonds and qm9-graph: QM9 with perceived bonds and formal charges (only the first molecules: one cache chunk)."""

import numpy as np
import pytest
import torch

from gensci.data import qm9_bonds
from gensci.data.qm9 import QM9Data, QM9DataConfig
from gensci.data.qm9_bonds import QM9BondsData, QM9GraphData
from gensci.registry import DATASETS
from gensci.spec import check_items

LIMITS = {"limit_train": 300, "limit_eval": 40}


@pytest.fixture(scope="module", params=["qm9-bonds", "qm9-graph"])
def loaded(request):
    cls = DATASETS.get(request.param)
    config = cls.Config(**LIMITS)
    return config, cls.spec(config), cls.load(config)


def _batch(splits, split="train", n=64):
    data = getattr(splits, split)
    return splits.collate(data.__getitems__(list(range(min(n, len(data))))))


def test_spec_matches_loaded_batches(loaded):
    config, spec, splits = loaded
    for split in ("train", "valid", "test"):
        check_items(spec, _batch(splits, split), where=split)
    assert set(splits.info) == set(spec.info)
    item = splits.train[0]
    assert item["bonds"].dtype == torch.int64 and item["atom_types"].dtype == torch.int64


def test_bonds_symmetric_zero_diagonal_and_zero_on_padding(loaded):
    _, _, splits = loaded
    batch = _batch(splits, n=300)
    bonds, mask = batch["bonds"], batch["node_mask"].bool()
    assert batch["bonds"].shape[1] == batch["bonds"].shape[2] == mask.shape[1]
    assert torch.equal(bonds, bonds.transpose(1, 2))
    assert not bonds.diagonal(dim1=1, dim2=2).any()
    pad_pairs = ~(mask[:, :, None] & mask[:, None, :])
    assert not bonds[pad_pairs].any() and not batch["formal_charges"][~mask].any()
    assert (batch["atom_types"][~mask] == -1).all() and (batch["atom_types"][mask] >= 0).all()
    assert set(bonds.unique().tolist()) == {0, 1, 2, 3}
    # atom_types and one_hot agree; every real atom of a molecule with 2+ atoms has a bond (connected)
    assert torch.equal(batch["one_hot"][mask].argmax(-1), batch["atom_types"][mask])
    several = mask & (mask.sum(1, keepdim=True) > 1)
    assert ((bonds > 0).sum(-1)[several] > 0).all()


def test_info_for_marginal_priors(loaded):
    config, _, splits = loaded
    info = splits.info
    assert info["charge_values"] == [-1, 0, 1] and info["bond_types"] == ["none", "single", "double", "triple"]
    assert info["atom_types"] == (["C", "N", "O", "F"] if config.remove_h else ["H", "C", "N", "O", "F"])
    for key, labels in (("atom_type_marginal", "atom_types"), ("charge_marginal", "charge_values"),
                        ("bond_type_marginal", "bond_types")):
        assert len(info[key]) == len(info[labels]) and sum(info[key]) == pytest.approx(1.0)
    train = splits.train.tensors
    mask = train["node_mask"].bool()
    n = mask.sum(1)
    n_pairs = int((n * (n - 1) // 2).sum())
    assert info["bond_type_marginal"][1] == pytest.approx(int((train["bonds"] == 1).sum()) / 2 / n_pairs)
    joint = np.array(info["atom_charge_marginal"])  # [type, charge]: sums to the two marginals
    assert joint.shape == (len(info["atom_types"]), 3)
    assert np.allclose(joint.sum(1), info["atom_type_marginal"]) and np.allclose(joint.sum(0), info["charge_marginal"])
    c = info["atom_types"].index("C")
    neutral_c = int(((train["atom_types"] == c) & (train["formal_charges"] == 0) & mask).sum())
    assert joint[c, 1] == pytest.approx(neutral_c / int(mask.sum()))
    assert info["excluded"] == {"train": 0, "valid": 0, "test": 0} and info["sizes"]["train"] == 300
    assert info["max_n_atoms"] == (9 if config.remove_h else 29)


def test_edm_keys_equal_qm9(loaded):
    config, _, splits = loaded
    plain = QM9Data.load(QM9DataConfig(remove_h=config.remove_h, **LIMITS))
    for key in ("positions", "one_hot", "charges", "node_mask", "gap"):
        assert torch.equal(splits.train.tensors[key], plain.train.tensors[key])
    assert splits.info["n_nodes_hist"] == plain.info["n_nodes_hist"]


def test_heavy_atom_graph_is_the_subgraph_of_the_full_one():
    full = QM9BondsData.load(QM9BondsData.Config(**LIMITS)).train.tensors
    heavy = QM9GraphData.load(QM9GraphData.Config(**LIMITS)).train.tensors
    for b in (0, 57, 208):  # 208: benzene
        keep = np.flatnonzero(full["charges"][b, :, 0].numpy() > 1)
        n = len(keep)
        assert torch.equal(heavy["bonds"][b, :n, :n], full["bonds"][b][np.ix_(keep, keep)])
        assert torch.equal(heavy["formal_charges"][b, :n], full["formal_charges"][b, keep])


def test_perception_cache_is_reused(monkeypatch, tmp_path):
    monkeypatch.setattr(qm9_bonds, "perception_dir", lambda: tmp_path)
    monkeypatch.setattr(qm9_bonds, "CHUNK", 32)
    rows = np.array([3, 40, 41])  # two chunks of 32
    first = qm9_bonds.load_perception(rows)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chunk_000.npz", "chunk_001.npz"]
    monkeypatch.setattr(qm9_bonds, "perceive_chunk", lambda *a: pytest.fail("recomputed instead of reading the cache"))
    again = qm9_bonds.load_perception(rows)
    for key in first:
        assert np.array_equal(first[key], again[key])
    assert (first["status"] < 2).all() and first["bonds"][0, 0, 1] == 3  # row 3: C#C, a triple bond


def test_charged_molecules_carry_their_charges():
    splits = QM9BondsData.load(QM9BondsData.Config(limit_train=2000, limit_eval=1))
    charges = splits.train.tensors["formal_charges"]
    charged = (charges != 0).any(1)
    assert charged.any() and (charges.sum(1) == 0).all()  # QM9's charged molecules are zwitterions
    assert splits.info["charge_marginal"][0] > 0 and splits.info["charge_marginal"][2] > 0
