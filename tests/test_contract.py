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


SEQUENCE_INFO = {"length": 7, "n_states": 21, "alphabet": "ACDEFGHIKLMNPQRSTVWY-"}


def sequence_batch():
    return {"seq": torch.randint(0, 21, (4, 7), generator=torch.Generator().manual_seed(0)),
            "weight": torch.tensor([1.0, 0.5, 0.5, 1.0])}


BONDED_INFO = {"atom_types": ["H", "C", "N", "O", "F"], "atomic_numbers": [1, 6, 7, 8, 9], "charge_values": [-1, 0, 1],
               "bond_types": ["none", "single", "double", "triple"], "max_n_atoms": 5,
               "n_nodes_hist": {"3": 2, "4": 3, "5": 1}, "atom_type_marginal": [0.5, 0.35, 0.06, 0.08, 0.01],
               "charge_marginal": [0.01, 0.98, 0.01], "bond_type_marginal": [0.8, 0.15, 0.04, 0.01],
               "atom_charge_marginal": [[0.002, m - 0.004, 0.002] for m in (0.5, 0.35, 0.06, 0.08, 0.01)]}


SPIN_INFO = {"channels": 1, "image_size": 8, "n_classes": 2, "value_ranges": {"x": {"low": None, "high": None,
                                                                                    "values": [-1.0, 1.0]}}}


def spin_batch():
    g = torch.Generator().manual_seed(0)
    return {"x": torch.randint(0, 2, (4, 1, 8, 8), generator=g).float() * 2 - 1, "label": torch.tensor([0, 1, 1, 0])}


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


def bonded_molecule_batch():
    g = torch.Generator().manual_seed(0)
    batch = molecule_batch()
    types = torch.where(batch["node_mask"].bool(), torch.randint(0, 5, (2, 5), generator=g), -1)
    bonds = torch.randint(0, 4, (2, 5, 5), generator=g).triu(1)
    real = batch["node_mask"].bool()
    bonds = (bonds + bonds.transpose(1, 2)) * (real.unsqueeze(1) & real.unsqueeze(2))
    charges = torch.tensor([[0, 1, 0, 0, 0], [0, -1, 0, 0, 0]])
    return {"positions": batch["positions"], "node_mask": batch["node_mask"], "atom_types": types,
            "formal_charges": charges, "bonds": bonds}


SMILES_INFO = {"vocabulary": ["<pad>", "<bos>", "<eos>", "C", "O", "N", "(", ")", "1", "="], "max_length": 12,
               "properties": ["logp", "qed", "sa"], "property_mean": [1.0, 0.5, 3.0], "property_std": [1.0, 0.1, 0.5]}


def smiles_batch():
    tokens = torch.tensor([[1, 3, 3, 4, 2, 0, 0, 0, 0, 0, 0, 0], [1, 3, 6, 3, 4, 7, 5, 2, 0, 0, 0, 0]])
    return {"tokens": tokens, "properties": torch.tensor([[0.5, 0.4, float("nan")], [1.5, 0.6, 2.5]])}


CASES = {
    "dae": (RADIO_INFO, radio_batch, {}, {}),
    "vae": (IMAGE_INFO, image_batch, {"latent_dim": 4}, {}),
    "gan": (IMAGE_INFO, image_batch, {"objective": "acgan"}, {}),
    "field-diffusion": (IMAGE_INFO, image_batch, {"width": 8, "channel_mults": (1, 2), "n_res_blocks": 1, "timesteps": 10,
                                            "condition": "class", "attention_resolutions": (8,)},
                  {"options": SamplingOptions(steps=3, guidance=2.0)}),
    "lattice-diffusion": (SPIN_INFO, spin_batch, {"width": 8, "channel_mults": (1, 2), "n_res_blocks": 1,
                                                  "timesteps": 10, "condition": "class", "attention_resolutions": (4,),
                                                  "self_condition": True},
                          {"options": SamplingOptions(steps=3, guidance=2.0)}),
    "edm": (QM9_INFO, molecule_batch, {"hidden_nf": 16, "n_layers": 1, "timesteps": 10}, {"options": SamplingOptions(steps=4)}),
    "sequence-vae": (SEQUENCE_INFO, sequence_batch, {"latent_dim": 3, "encoder_hidden": [16], "decoder_hidden": [8, 16]},
                     {}),
    "midi": (BONDED_INFO, bonded_molecule_batch, {"hidden_nf": 16, "message_nf": 8, "edge_nf": 8, "n_layers": 2},
             {"options": SamplingOptions(steps=4)}),
    "smiles-vae": (SMILES_INFO, smiles_batch, {"latent_dim": 4, "embed_dim": 8, "encoder_hidden": 8, "decoder_hidden": 8,
                                               "decoder_layers": 1}, {}),
    "digress": (BONDED_INFO, bonded_molecule_batch,
                {"n_layers": 2, "dx": 16, "de": 8, "dy": 8, "n_head": 4, "ff_x": 16, "ff_e": 8, "ff_y": 8, "mlp_x": 16,
                 "mlp_e": 8, "mlp_y": 8, "timesteps": 20}, {"options": SamplingOptions(steps=4)}),
}


@pytest.mark.parametrize("objective,self_condition", [("flow", True), ("diffusion", False), ("diffusion", True)])
def test_midi_variants_contract(objective, self_condition):
    info, batch, config, sample_kwargs = CASES["midi"]
    cls = METHODS.get("midi")
    config = cls.Config(**config, objective=objective, self_condition=self_condition)
    check_method_contract(cls, info, batch(), config, sample_kwargs=sample_kwargs)


def test_every_registered_method_has_a_case():
    assert set(CASES) == set(METHODS.names()) - {"toy"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_method_contract(name):
    info, batch, config, sample_kwargs = CASES[name]
    cls = METHODS.get(name)
    check_method_contract(cls, info, batch(), cls.Config(**config), sample_kwargs=sample_kwargs)
