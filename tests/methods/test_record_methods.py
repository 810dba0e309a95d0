"""The DAE with masking noise and the AC-GAN on records (net: mlp): they fill gaps and classify."""

import numpy as np
import pytest
import torch

from gensci.config import TrainConfig
from gensci.errors import UserError
from gensci.methods.dae import DAE, DAEConfig
from gensci.methods.gan import GAN, GANConfig
from gensci.metrics.records import classification_metrics, imputation_rmse
from gensci.testing import SimpleStepper, check_method_contract

INFO = {"n_features": 8, "n_classes": 2, "value_ranges": {"x": {"low": None, "high": None, "values": None}}}


def toy_records(n, seed, rate=0.3):
    """Standardised records driven by 2 latent factors (strong correlations), gaps MCAR."""
    g = torch.Generator().manual_seed(seed)
    mixing = torch.randn(2, 8, generator=torch.Generator().manual_seed(99))
    z = torch.randn(n, 2, generator=g)
    x = z @ mixing + 0.05 * torch.randn(n, 8, generator=g)
    x = (x - x.mean(0)) / x.std(0)
    observed = torch.rand(n, 8, generator=g) > rate
    label = (z[:, 0] > 0).long()
    return {"x": x * observed, "observed": observed, "target": x, "label": label}


def train(method, data, steps, batch=64, lr=1e-3):
    stepper = SimpleStepper(method.optimizers(TrainConfig(lr=lr)))
    g = torch.Generator().manual_seed(0)
    for step in range(steps):
        i = torch.randint(len(data["x"]), (batch,), generator=g)
        method.train_step({k: v[i] for k, v in data.items()}, step, stepper)
    return method


def test_masking_dae_beats_mean_imputation_on_correlated_records():
    torch.manual_seed(0)
    dae = train(DAE(DAEConfig(net="mlp", noise="masking", hidden=[64, 32]), INFO), toy_records(512, 0), 600)
    test = toy_records(256, 1)
    hidden = (~test["observed"]).numpy()
    filled = dae.impute(test["x"], test["observed"])
    assert torch.equal(filled[test["observed"]], test["x"][test["observed"]])  # seen values kept
    mean_rmse = imputation_rmse(np.zeros_like(hidden, float), test["target"].numpy(), hidden)  # train mean = 0
    assert imputation_rmse(filled.numpy(), test["target"].numpy(), hidden) < 0.5 * mean_rmse


def test_masking_noise_hides_observed_entries_from_the_network():
    torch.manual_seed(0)
    dae = DAE(DAEConfig(net="mlp", noise="masking", mask_rate=0.4, hidden=[16]), INFO)
    seen = []
    forward = dae.net.forward
    dae.net.forward = lambda x, mask=None: (seen.append((x.detach(), mask)), forward(x, mask))[1]
    batch = toy_records(2000, 0)
    dae.train_step(batch, 0, SimpleStepper(dae.optimizers(TrainConfig())))
    x_in, mask_in = seen[0]
    observed = batch["observed"]
    assert not (mask_in & ~observed).any() and (x_in[~mask_in] == 0).all()
    assert float((observed & ~mask_in).sum() / observed.sum()) == pytest.approx(0.4, abs=0.02)


def test_masking_noise_needs_vectors_and_a_denoiser_does_not_impute():
    with pytest.raises(ValueError, match="masking noise"):
        DAEConfig(noise="masking")
    assert DAE.requires(DAEConfig(net="mlp", noise="masking")).items["observed"].dtype == "bool"
    dae = DAE(DAEConfig(net="mlp"), INFO)
    assert "impute" not in dae.capabilities
    with pytest.raises(UserError, match="masking"):
        dae.impute(torch.zeros(2, 8), torch.ones(2, 8, dtype=torch.bool))


@pytest.mark.parametrize("method,config", [
    (DAE, DAEConfig(net="mlp", noise="masking", hidden=[16, 8])),
    (GAN, GANConfig(objective="acgan", net="mlp", mask_gaps=True, g_width=16, d_width=16, latent_dim=4)),
    (GAN, GANConfig(objective="wgan-gp", net="mlp", g_width=16, d_width=16, latent_dim=4)),
])
def test_record_variants_keep_the_method_contract(method, config):
    check_method_contract(method, INFO, toy_records(6, 0), config)


def test_gaps_of_the_real_batch_are_copied_into_the_fakes():
    torch.manual_seed(0)
    gan = GAN(GANConfig(objective="acgan", net="mlp", mask_gaps=True, g_width=16, d_width=16), INFO)
    seen = []
    forward = gan.discriminator.forward
    gan.discriminator.forward = lambda x, labels=None: (seen.append(x.detach().clone()), forward(x, labels))[1]
    batch = toy_records(16, 0)
    gan.train_step(batch, 0, SimpleStepper(gan.optimizers(TrainConfig())))
    real, fake = seen[0], seen[1]
    gaps = ~batch["observed"]
    assert torch.equal(real, batch["x"])
    assert torch.equal(fake[gaps], batch["x"][gaps]) and not torch.equal(fake[~gaps], batch["x"][~gaps])


def test_acgan_auxiliary_head_learns_the_disease():
    torch.manual_seed(0)
    config = GANConfig(objective="acgan", net="mlp", mask_gaps=True, g_width=32, d_width=32, latent_dim=8, d_norm="none")
    gan = train(GAN(config, INFO), toy_records(512, 0), 300)
    test = toy_records(256, 1)
    p = gan.classify(test["x"])
    assert p.shape == (256, 2) and torch.allclose(p.sum(1), torch.ones(256))
    assert classification_metrics(test["label"].numpy(), p[:, 1].numpy())["auroc"] > 0.9
    with pytest.raises(UserError, match="AC-GAN"):
        GAN(GANConfig(net="mlp"), INFO).classify(test["x"])
