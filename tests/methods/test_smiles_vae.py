"""The SMILES VAE: KL annealing, teacher forcing is causal, NaN property targets are left out, a tiny model learns
to reconstruct, latent optimisation moves the head's prediction the asked way, decoding pads after <eos>."""

import pytest
import torch

from gensci.chem.smiles import Vocabulary
from gensci.methods.smiles_vae import SmilesVAE, SmilesVAEConfig
from gensci.testing.stepper import SimpleStepper
from gensci.config import TrainConfig

MOLECULES = ["CCO", "C1CC1N", "OC(=O)C", "NCC=O"]
VOCAB = Vocabulary.from_smiles(MOLECULES)
INFO = {"vocabulary": list(VOCAB.tokens), "max_length": 10, "properties": ["logp", "qed", "sa"],
        "property_mean": [0.0, 0.5, 3.0], "property_std": [1.0, 0.1, 0.5]}
TINY = {"latent_dim": 8, "embed_dim": 16, "encoder_hidden": 32, "decoder_hidden": 64, "decoder_layers": 1}


def tokens():
    return torch.tensor([VOCAB.encode(s, 10) for s in MOLECULES])


def model(**kw):
    torch.manual_seed(0)
    return SmilesVAE(SmilesVAEConfig(**(TINY | kw)), INFO)


def test_kl_weight_anneals_linearly():
    m = model(kl_weight_start=0.0, kl_weight_end=0.05, kl_anneal_steps=100)
    assert m.kl_weight(0) == 0 and m.kl_weight(50) == pytest.approx(0.025) and m.kl_weight(500) == pytest.approx(0.05)


def test_teacher_forcing_is_causal():
    m = model().eval()
    x = tokens()
    z = torch.randn(len(x), 8)
    changed = x.clone()
    changed[:, 3] = VOCAB.index["N"]
    a, b = m.decoder(x[:, :-1], z), m.decoder(changed[:, :-1], z)
    assert torch.allclose(a[:, :3], b[:, :3])  # predictions up to position 2 never see token 3
    assert not torch.allclose(a[:, 3:], b[:, 3:])


def test_unknown_properties_are_left_out_of_the_loss():
    m = model()
    batch = {"tokens": tokens(), "properties": torch.full((4, 3), float("nan"))}
    with torch.no_grad():
        t = m.terms(batch)
        assert torch.isfinite(t["prop"]) and float(t["prop"]) == 0.0
        batch["properties"][0, 0] = 5.0
        assert float(m.terms(batch)["prop"]) > 0


def test_a_tiny_model_learns_to_reconstruct():
    m = model(kl_weight_end=0.0, property_weight=0.0)
    stepper = SimpleStepper(m.optimizers(TrainConfig(lr=3e-3)))
    batch = {"tokens": tokens(), "properties": torch.zeros(4, 3)}
    first = m.train_step(batch, 0, stepper)["recon"]
    for step in range(1, 150):
        last = m.train_step(batch, step, stepper)["recon"]
    assert last < 0.1 * first
    m.eval()
    with torch.no_grad():
        decoded = [VOCAB.decode(r) for r in m.decode(m.encode(tokens())[0], sampler="greedy").tolist()]
    assert decoded == MOLECULES


def test_latent_optimisation_moves_the_prediction_the_asked_way():
    m = model().eval()
    z = torch.randn(5, 8, generator=torch.Generator().manual_seed(0))
    up = m.optimize_latent(z, "qed", steps=30, lr=0.1, maximize=True)
    down = m.optimize_latent(z, "qed", steps=30, lr=0.1, maximize=False)
    assert up.shape == (31, 5, 8) and torch.equal(up[0], z)
    with torch.no_grad():
        start, hi, lo = (m.predict_properties(p)[:, 1] for p in (z, up[-1], down[-1]))
    assert (hi > start).all() and (lo < start).all()


def test_decoding_pads_after_eos():
    m = model().eval()
    out = m.decode(torch.randn(64, 8, generator=torch.Generator().manual_seed(1)), torch.Generator().manual_seed(2))
    assert (out[:, 0] == VOCAB.bos_id).all()
    for row in out.tolist():
        if VOCAB.eos_id in row:
            end = row.index(VOCAB.eos_id)
            assert all(t == VOCAB.pad_id for t in row[end + 1:])
