"""One contract over every registered data set: what it loads is what its spec declares."""

import importlib.util

import pytest

from gensci.config import validate
from gensci.data.base import collate_gathered
from gensci.registry import DATASETS
from gensci.spec import check_items
from gensci.workflows.base import data_spec, load_data

TINY = {
    "radio": {"n_train": 64, "n_valid": 16, "n_test": 16},
    "qm9": {"limit_train": 32, "limit_eval": 8},
    "qm9-bonds": {"limit_train": 32, "limit_eval": 8},
    "qm9-graph": {"limit_train": 32, "limit_eval": 8},
    "galaxies": {"n_per_class": 4, "n_valid_per_class": 2, "n_test_per_class": 2, "image_size": 16, "cache": False},
    "records": {},
    "toy": {},
    "lensing": {"map_size": 16, "sigma8": [0.7, 0.9], "n_per_cosmology": 4, "n_valid_per_cosmology": 2,
                "n_test_per_cosmology": 2, "cache": False},
    "ising": {"lattice_size": 16, "temperatures": [1.8, 3.0], "n_per_temperature": 4, "n_valid_per_temperature": 2,
              "n_test_per_temperature": 2, "n_chains": 2, "burn_in_sweeps": 2, "pilot_sweeps": 10, "cache": False},
    "potts": {"length": 6, "n_sequences": 40, "n_heldout": 10, "chains": 10, "burn_in": 5, "cache": False},
    "qm9-smiles": {"limit_train": 32, "limit_eval": 8, "n_property_molecules": 4},
    "moses": {"limit_train": 32, "limit_eval": 8, "n_property_molecules": 4},
}
NEEDS_FILES = {"radio-file", "images", "first"}  # covered by their own tests with files made there


def test_every_data_set_has_a_case():
    assert set(TINY) | NEEDS_FILES >= set(DATASETS.names()), set(DATASETS.names()) - set(TINY) - NEEDS_FILES


@pytest.mark.parametrize("name", sorted(TINY))
def test_loaded_items_match_the_spec(name):
    if name == "moses" and importlib.util.find_spec("moses") is None:
        pytest.skip("the MOSES files come from molsets: pip install --no-deps molsets")
    config = validate({"data": {"name": name, **TINY[name]}, "method": {"name": "toy"}})
    spec = data_spec(config)
    splits = load_data(config)
    assert splits.spec == spec and set(spec.info) <= set(splits.info), set(spec.info) - set(splits.info)
    for split in ("train", "valid", "test"):
        dataset = getattr(splits, split)
        batch = (splits.collate or collate_gathered)(dataset.__getitems__(list(range(min(4, len(dataset))))))
        check_items(spec, batch, where=f"{name} {split}")
    if spec.ranges:
        assert set(splits.info["value_ranges"]) == set(spec.ranges)
