"""The SMILES data sets: qm9-smiles (from qm9pack) and moses (from the molsets package, when installed)."""

import importlib.util

import numpy as np
import pytest

from gensci.chem.properties import PROPERTY_FUNCTIONS, canonical_smiles, mol_from_smiles
from gensci.chem.smiles import Vocabulary
from gensci.data.smiles import MOSES_INSTALL, MosesDataConfig, QM9SmilesData, QM9SmilesDataConfig, moses_data_dir
from gensci.errors import UserError
from gensci.metrics.smiles import fingerprints

needs_molsets = pytest.mark.skipif(importlib.util.find_spec("moses") is None,
                                   reason=f"the MOSES files come from molsets: {MOSES_INSTALL}")


def test_qm9_smiles_items_decode_to_canonical_smiles_with_properties():
    config = QM9SmilesDataConfig(limit_train=64, limit_eval=16, n_property_molecules=10)
    splits = QM9SmilesData.load(config)
    info = splits.info
    vocab = Vocabulary(tuple(info["vocabulary"]))
    reference = QM9SmilesData.reference_smiles(config, "train")
    item = splits.train.tensors
    assert len(reference) == 64 and info["sizes"]["train"] + info["skipped"]["train"] == 64
    decoded = [vocab.decode(row) for row in item["tokens"].tolist()]
    assert decoded == reference[: len(decoded)]  # no molecule is skipped here (max_length from the data)
    assert all(canonical_smiles(s, isomeric=False) == s for s in decoded)
    props = item["properties"].numpy()
    assert np.isfinite(props[:10]).all() and np.isnan(props[10:]).all()
    assert props[0, 0] == pytest.approx(PROPERTY_FUNCTIONS["logp"](mol_from_smiles(decoded[0])), abs=1e-4)
    assert info["property_mean"][1] == pytest.approx(float(props[:10, 1].mean()), rel=1e-5)


def test_molecules_longer_than_max_length_are_skipped_and_counted():
    splits = QM9SmilesData.load(QM9SmilesDataConfig(limit_train=64, limit_eval=16, max_length=8, n_property_molecules=0))
    assert splits.info["skipped"]["train"] > 0
    assert splits.info["sizes"]["train"] == 64 - splits.info["skipped"]["train"]
    assert splits.train.tensors["tokens"].shape[1] == 8


def test_missing_molsets_says_how_to_install(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(UserError, match="pip install --no-deps molsets"):
        moses_data_dir()


@needs_molsets
def test_moses_split_sizes_and_statistics_match_the_shipped_files():
    from gensci.data.smiles import MosesData, moses_reference_statistics

    splits = MosesData.raw_splits(MosesDataConfig())
    # MOSES paper, Table 1 / moses/dataset/data: 1,584,663 train and 176,074 test molecules
    assert len(splits["train"]) + len(splits["valid"]) == 1_584_663 and len(splits["valid"]) == 10_000
    assert len(splits["test"]) == 176_074
    stats = moses_reference_statistics("test")
    head = [mol_from_smiles(s) for s in splits["test"][:50]]
    # our fingerprints and properties are those MOSES stored for its test molecules
    np.testing.assert_array_equal(fingerprints(head), stats["fingerprints"][:50])
    for name in ("logp", "qed", "weight", "sa"):
        ours = [PROPERTY_FUNCTIONS[name](m) for m in head]
        np.testing.assert_allclose(ours, stats["properties"][name][:50], atol=1e-3, err_msg=name)
