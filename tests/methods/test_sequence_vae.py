"""The DeepSequence-style VAE: categorical likelihood, weighted ELBO, ELBO averaged over draws."""

import torch
import torch.nn.functional as F

from gensci.config import TrainConfig
from gensci.methods.sequence_vae import SequenceVAE, SequenceVAEConfig
from gensci.testing.stepper import SimpleStepper

INFO = {"length": 5, "n_states": 21}


def make():
    torch.manual_seed(0)
    return SequenceVAE(SequenceVAEConfig(latent_dim=2, encoder_hidden=[16], decoder_hidden=[8, 16]), INFO)


def test_categorical_likelihood_is_the_log_softmax_at_the_true_states():
    vae = make()
    seqs = torch.tensor([[0, 3, 20, 7, 1], [2, 2, 2, 2, 2]])
    raw = torch.randn(2, 21, 5)
    nll = vae.recon_nll(raw, vae.one_hot(seqs))
    direct = -torch.stack([sum(F.log_softmax(raw[n, :, i], 0)[seqs[n, i]] for i in range(5)) for n in range(2)])
    torch.testing.assert_close(nll, direct)
    assert torch.allclose(vae.decode(torch.zeros(1, 2)).sum(1), torch.ones(1, 5))  # a distribution per position


def test_sequence_weights_weight_the_loss():
    vae = make()
    batch = {"seq": torch.randint(0, 21, (4, 5), generator=torch.Generator().manual_seed(1)),
             "weight": torch.tensor([0.3, 0.0, 0.0, 0.0])}
    torch.manual_seed(7)
    with torch.no_grad():
        recon, kl = vae.terms(vae.inputs(batch))
    stepper = SimpleStepper(vae.optimizers(TrainConfig(lr=1e-12)))
    torch.manual_seed(7)
    logs = vae.train_step(batch, 0, stepper)
    assert abs(logs["loss"] - float(recon[0] + kl[0])) < 1e-4  # only the weighted sequence counts
    torch.manual_seed(7)
    plain = vae.train_step({"seq": batch["seq"]}, 0, stepper)  # no weights: the plain mean
    assert abs(plain["loss"] - float((recon + kl).mean())) < 1e-3


def test_elbo_is_seeded_and_averaging_draws_reduces_its_spread():
    vae = make()
    seqs = torch.randint(0, 21, (3, 5), generator=torch.Generator().manual_seed(2))
    a = vae.sequence_elbo(seqs, 4, torch.Generator().manual_seed(0))
    b = vae.sequence_elbo(seqs, 4, torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and a.shape == (3,)
    one = torch.stack([vae.sequence_elbo(seqs, 1, torch.Generator().manual_seed(s)) for s in range(40)])
    many = torch.stack([vae.sequence_elbo(seqs, 16, torch.Generator().manual_seed(s)) for s in range(40)])
    assert (many.std(0) < 0.5 * one.std(0)).all()
