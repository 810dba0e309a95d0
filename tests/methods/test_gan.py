"""GAN family: penalties on critics with known gradients, AC-GAN wiring, the critic loop, sampling."""

import copy
import math

import pytest
import torch

from gensci.errors import UserError
import torch.nn.functional as F

from gensci.config import TrainConfig
from gensci.methods.gan import GAN, GANConfig, discriminator_loss, generator_loss, gradient_penalty, wgan_div_penalty
from gensci.testing import SimpleStepper

INFO = {"channels": 3, "image_size": 16, "n_classes": 3, "class_names": ["a", "b", "c"], "dataset": "test",
        "value_ranges": {"x": {"low": 0.0, "high": 1.0, "values": None}}}
OBJECTIVES = ["minimax", "acgan", "wgan-gp", "wgan-div"]



def make(**kw):
    torch.manual_seed(0)
    return GAN(GANConfig(latent_dim=8, g_width=8, d_width=8, embed_dim=4, **kw), INFO)


def batch(n=6):
    g = torch.Generator().manual_seed(1)
    return {"x": torch.rand(n, 3, 16, 16, generator=g), "label": torch.arange(n) % 3}


def linear_critic(norm):
    w = torch.randn(3 * 4 * 4, generator=torch.Generator().manual_seed(0))
    w = w / w.norm() * norm
    return lambda x: x.flatten(1) @ w


def images(seed, n=5):
    return torch.randn(n, 3, 4, 4, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("norm, expected", [(1.0, 0.0), (2.0, 10.0), (3.0, 40.0)])
def test_gradient_penalty_of_linear_critics(norm, expected):
    gp = gradient_penalty(linear_critic(norm), images(0), images(1), lam=10.0)
    assert float(gp) == pytest.approx(expected, abs=1e-4)


def test_gradient_penalty_is_per_sample():
    # critic(x) = ||x||^2 / 2 has gradient x: with real == fake the interpolates are x itself and the
    # penalty is lambda * mean_i (||x_i|| - 1)^2, not (mean gradient norm - 1)^2.
    x = images(2) * torch.tensor([0.1, 0.5, 1.0, 2.0, 4.0]).view(5, 1, 1, 1)
    critic = lambda v: 0.5 * v.flatten(1).pow(2).sum(-1)  # noqa: E731
    norms = x.flatten(1).norm(dim=1)
    expected = 10 * (norms - 1).pow(2).mean()
    assert gradient_penalty(critic, x, x.clone()).item() == pytest.approx(float(expected), rel=1e-5)
    assert float(expected) != pytest.approx(10 * float((norms.mean() - 1) ** 2), rel=1e-2)


@pytest.mark.parametrize("points", ["real_fake", "interpolates"])
@pytest.mark.parametrize("norm", [0.5, 1.0, 1.5])
def test_wgan_div_term_of_linear_critics(points, norm):
    div = wgan_div_penalty(linear_critic(norm), images(0), images(1), k=2.0, p=6.0, points=points)
    assert float(div) == pytest.approx(2.0 * norm**6, rel=1e-5)


def test_wgan_div_term_of_a_quadratic_critic():
    x = images(3)
    critic = lambda v: 0.5 * v.flatten(1).pow(2).sum(-1)  # noqa: E731  gradient = x
    expected = 2.0 * x.flatten(1).norm(dim=1).pow(6).mean()
    assert wgan_div_penalty(critic, x, x.clone(), k=2.0, p=6.0).item() == pytest.approx(float(expected), rel=1e-5)


def test_penalties_train_the_critic():
    w = torch.full((48,), 0.5, requires_grad=True)
    critic = lambda x: x.flatten(1) @ w  # noqa: E731
    for penalty in (gradient_penalty(critic, images(0), images(1)), wgan_div_penalty(critic, images(0), images(1))):
        (grad,) = torch.autograd.grad(penalty, w)
        assert grad.abs().sum() > 0


def test_adversarial_losses():
    s = torch.tensor([0.0, 2.0, -1.0])
    assert float(discriminator_loss("wgan-gp", s, s - 1)) == pytest.approx(-1.0)
    assert float(generator_loss("wgan-div", s)) == pytest.approx(-1 / 3)
    bce = F.binary_cross_entropy_with_logits
    assert float(discriminator_loss("minimax", s, s)) == pytest.approx(float(bce(s, torch.ones(3)) + bce(s, torch.zeros(3))))
    assert float(generator_loss("minimax", s)) == pytest.approx(float(bce(s, torch.ones(3))))  # non-saturating


class Recorder(SimpleStepper):
    def __init__(self, optimizers, model):
        super().__init__(optimizers)
        self.model, self.losses, self.embed_grad = model, {}, None

    def step(self, loss, optimizer="main"):
        self.losses[optimizer] = float(loss.detach())
        out = super().step(loss, optimizer)
        if optimizer == "generator":
            self.embed_grad = self.model.generator.embed.weight.grad.clone()
        return out


def test_acgan_class_loss_enters_both_players_and_reaches_the_class_embedding():
    runs = {}
    for weight in (0.0, 1.0):
        gan = make(objective="acgan", class_weight=weight)
        torch.manual_seed(7)
        rec = Recorder(gan.optimizers(TrainConfig()), gan)
        logs = gan.train_step(batch(), 0, rec)
        runs[weight] = (rec, logs)
    (r0, _), (r1, logs) = runs[0.0], runs[1.0]
    assert r1.losses["discriminator"] - r0.losses["discriminator"] == pytest.approx(2 * logs["class_loss"], rel=1e-4)
    assert r1.losses["generator"] > r0.losses["generator"] + 0.1  # + CE of D's class head at fakes
    assert r1.embed_grad.abs().sum() > 0 and not torch.allclose(r1.embed_grad, r0.embed_grad)
    gan = make(objective="acgan")
    assert gan.discriminator.aux_classes == 3 and gan.discriminator.n_classes == 0  # D predicts, not reads, the class


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_train_step_changes_weights_and_logs_finite_floats(objective):
    gan = make(objective=objective, n_critic=1)
    before = {k: v.clone() for k, v in gan.named_parameters()}
    logs = gan.train_step(batch(), 0, SimpleStepper(gan.optimizers(TrainConfig())))
    expected = {"loss", "d_loss", "g_loss"} | {"acgan": {"class_loss"}, "wgan-gp": {"gp", "wasserstein"},
                                               "wgan-div": {"div", "wasserstein"}}.get(objective, set())
    assert expected <= logs.keys() and logs["loss"] == logs["d_loss"]
    assert all(isinstance(v, float) and math.isfinite(v) for v in logs.values())
    for net in ("generator.", "discriminator."):
        assert any(not torch.equal(before[k], p) for k, p in gan.named_parameters() if k.startswith(net))


def test_generator_moves_every_n_critic_th_step():
    gan = make(objective="wgan-gp")
    assert gan.config.critic_steps == 5 and make().config.critic_steps == 1
    stepper = SimpleStepper(gan.optimizers(TrainConfig()))
    g0 = copy.deepcopy(dict(gan.generator.named_parameters()))
    d0 = copy.deepcopy(dict(gan.discriminator.named_parameters()))
    for step in range(4):
        gan.train_step(batch(), step, stepper)
    assert all(torch.equal(g0[k], v) for k, v in gan.generator.named_parameters())
    # every critic weight moved, except the output bias: a constant shift of the critic changes no term
    moved = {k for k, v in gan.discriminator.named_parameters() if not torch.equal(d0[k], v)}
    assert moved == set(d0) - {"encoder.head.bias"}
    gan.train_step(batch(), 4, stepper)
    assert all(not torch.equal(g0[k], v) for k, v in gan.generator.named_parameters())


def test_optimizer_defaults_follow_the_papers():
    for objective in ("wgan-gp", "wgan-div"):  # WGAN-div: WGAN-GP's beta2 = 0.9 (see gan.DEFAULTS for why)
        wgan = make(objective=objective).optimizers(TrainConfig())
        assert wgan["generator"].defaults["betas"] == (0.0, 0.9) and wgan["discriminator"].defaults["lr"] == 1e-4
    dcgan = make(lr_g=1e-3).optimizers(TrainConfig())
    assert dcgan["discriminator"].defaults["betas"] == (0.5, 0.999) and dcgan["generator"].defaults["lr"] == 1e-3


@pytest.mark.parametrize("objective", ["acgan", "wgan-gp"])
def test_conditional_sampling_respects_labels_and_seeds(objective):
    gan = make(objective=objective, conditional=True)
    gan.train_step(batch(), 0, SimpleStepper(gan.optimizers(TrainConfig())))
    gan.eval()
    labels = torch.tensor([2, 0, 1, 2])
    out = gan.sample(4, condition=labels, generator=torch.Generator().manual_seed(0))
    assert out["x"].shape == (4, 3, 16, 16) and torch.equal(out["label"], labels)
    same = gan.sample(4, condition=labels, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out["x"], same["x"])
    other = gan.sample(4, condition=torch.tensor([0, 1, 2, 0]), generator=torch.Generator().manual_seed(0))
    assert not torch.allclose(out["x"], other["x"])  # same z, other classes: other images
    assert torch.equal(gan.sample(3, condition=1)["label"], torch.ones(3, dtype=torch.long))
    drawn = gan.sample(30, generator=torch.Generator().manual_seed(0))["label"]
    assert set(drawn.tolist()) == {0, 1, 2}
    with pytest.raises(UserError, match="labels"):
        gan.sample(2, condition=torch.tensor([0, 3]))


def test_unconditional_gan_refuses_a_class_and_round_trips_its_weights():
    gan = make()
    gan.train_step(batch(), 0, SimpleStepper(gan.optimizers(TrainConfig())))
    gan.eval()
    with pytest.raises(UserError, match="unconditional"):
        gan.sample(2, condition=1)
    s1 = gan.sample(4, generator=torch.Generator().manual_seed(9))
    assert s1.keys() == {"x"} and 0 <= s1["x"].min() and s1["x"].max() <= 1
    clone = GAN(gan.config, INFO)
    clone.load_state_dict(gan.state_dict())
    clone.eval()
    assert torch.equal(clone.sample(4, generator=torch.Generator().manual_seed(9))["x"], s1["x"])
    assert not torch.equal(gan.sample(4, generator=torch.Generator().manual_seed(8))["x"], s1["x"])


def test_untrained_generator_starts_at_the_data_mean():
    torch.manual_seed(0)
    gan = GAN(GANConfig(latent_dim=8, g_width=8, d_width=8), INFO | {"pixel_mean": [0.05, 0.04, 0.06]})
    x = gan.sample(64)["x"]
    assert torch.allclose(x.mean(dim=(0, 2, 3)), torch.tensor([0.05, 0.04, 0.06]), atol=0.01)
    assert abs(float(make().sample(64)["x"].mean()) - 0.5) < 0.02  # without it: grey
    with pytest.raises(ValueError, match="channels"):
        GAN(GANConfig(latent_dim=8, g_width=8, d_width=8), INFO | {"pixel_mean": [0.1]})


class _LinearD(torch.nn.Module):
    """D(x) = w.x on [0, 1] images (and no class logits), for penalties with known values."""

    def __init__(self, w):
        super().__init__()
        self.w = torch.nn.Parameter(w)

    def forward(self, x, labels=None):
        return x.flatten(1) @ self.w, None


@pytest.mark.parametrize("objective", ["wgan-gp", "wgan-div"])
def test_penalties_are_measured_on_images_scaled_to_plus_minus_one(objective):
    gan = make(objective=objective)
    w = torch.randn(3 * 16 * 16, generator=torch.Generator().manual_seed(0))
    gan.discriminator = _LinearD(w / w.norm() * 4)  # |grad_x D| = 4 on [0, 1], 2 on [-1, 1]
    b = batch()
    value = float(gan.penalty(b["x"], torch.rand_like(b["x"]), None).detach())
    expected = 10.0 * (2 - 1) ** 2 if objective == "wgan-gp" else 2.0 * 2**6
    assert value == pytest.approx(expected, rel=1e-5)
