"""One contract over every registered method (gensci.testing.check_method_contract)."""

import pytest
import torch

from gensci.methods.base import SamplingOptions
from gensci.registry import METHODS
from gensci.testing import check_method_contract

IMAGE_INFO = {"channels": 3, "image_size": 16, "n_classes": 3, "class_names": ["a", "b", "c"], "dataset": "test",
              "value_ranges": {"x": {"low": 0.0, "high": 1.0, "values": None}}}
RADIO_INFO = {"trace_length": 500, "sampling_rate_mhz": 180.0, "band_mhz": [30.0, 80.0], "noise": "background"}
QM9_INFO = {"atom_types": ["H", "C", "N", "O", "F"], "atomic_numbers": [1, 6, 7, 8, 9], "max_n_atoms": 5,
            "n_nodes_hist": {"3": 2, "4": 3, "5": 1}}


def image_batch():
    return {"x": torch.rand(4, 3, 16, 16), "label": torch.tensor([0, 1, 2, 0])}


def radio_batch():
    return {"input": torch.rand(4, 1, 500), "target": torch.rand(4, 1, 500)}


def molecule_batch():
    g = torch.Generator().manual_seed(0)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1.0]])
    pos = torch.randn(2, 5, 3, generator=g) * mask[..., None]
    pos = (pos - pos.sum(1, keepdim=True) / mask.sum(1)[:, None, None]) * mask[..., None]
    types = torch.randint(0, 5, (2, 5), generator=g)
    one_hot = torch.nn.functional.one_hot(types, 5).float() * mask[..., None]
    charges = torch.tensor([1.0, 6, 7, 8, 9])[types][..., None] * mask[..., None]
    return {"positions": pos, "one_hot": one_hot, "charges": charges, "node_mask": mask}


CASES = {
    "dae": (RADIO_INFO, radio_batch, {}, {}),
    "vae": (IMAGE_INFO, image_batch, {"latent_dim": 4}, {}),
    "gan": (IMAGE_INFO, image_batch, {"objective": "acgan"}, {}),
    "edm": (QM9_INFO, molecule_batch, {"hidden_nf": 16, "n_layers": 1, "timesteps": 10}, {"options": SamplingOptions(steps=4)}),
}


def test_every_registered_method_has_a_case():
    assert set(CASES) == set(METHODS.names()) - {"toy"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_method_contract(name):
    info, batch, config, sample_kwargs = CASES[name]
    cls = METHODS.get(name)
    check_method_contract(cls, info, batch(), cls.Config(**config), sample_kwargs=sample_kwargs)
