"""The GAN family on DCGAN-style networks; the variants are loss and penalty choices of one method.

Objectives (`GANConfig.objective`), with D's score s = D(x) [B]:
- "minimax": the non-saturating GAN of Goodfellow et al. (2014, Sec. 3): D minimises
  BCE(s_real, 1) + BCE(s_fake, 0); G minimises BCE(s_fake, 1) = -log sigmoid(s_fake).
- "acgan": the same adversarial terms plus an auxiliary classifier on D (Odena et al. 2017, Eq. 2-3):
  D maximises L_S + L_C and G maximises L_C - L_S, i.e. the class cross-entropy L_C on real and
  fake images enters D's loss and on fake images G's loss. The generator is class-conditional.
- "wgan-gp": Wasserstein critic with gradient penalty (Gulrajani et al. 2017, Algorithm 1):
  L_D = E[s_fake] - E[s_real] + lambda * E[(||grad D(x_hat)|| - 1)^2] at per-sample interpolates
  x_hat = eps x_real + (1 - eps) x_fake; L_G = -E[s_fake].
- "wgan-div": Wasserstein divergence (Wu et al. 2018, Eq. 9 / Algorithm 1): the same critic terms
  plus k * E[||grad D(x_hat)||^p] with no Lipschitz target; k = 2, p = 6 as recommended there.
  Both penalties take the input gradient w.r.t. the images on the [-1, 1] scale of those papers
  when the data's range is bounded (see `GAN.penalty`); images are in the data's range elsewhere.

Images follow the data set's declared value range (`info["value_ranges"]["x"]`, gensci.ops.ranges):
the generator's output goes through a sigmoid onto [low, high] (images in [0, 1]), tanh onto ±1
(two-valued data) or nothing (unbounded fields).

The critic loop: each call of `train_step` makes ONE discriminator update on its batch, and every
`n_critic`-th call (step % n_critic == n_critic - 1) also one generator update. So with n_critic = 5
a trainer step is a critic step and G moves once per 5 batches, exactly Algorithm 1 of Gulrajani
et al. with fresh real data at every critic iteration. Logged: d_loss, g_loss (the generator's loss
at this step's fakes; G is stepped only on generator steps), gp or div, wasserstein (E[s_real] -
E[s_fake], Wasserstein objectives), class_loss (AC-GAN), and loss = d_loss (it is updated every step).

Networks (`GANConfig.net`): "dcgan" for images x [C, S, S] (gensci.nets.conv2d), "mlp" for records
x [D] (gensci.nets.mlp; Hwang, Choi & Yoon 2017, arXiv:1711.04126, use an AC-GAN on health records).
With `mask_gaps` (records with gaps, batch key `observed`), a fake takes the real batch's values where
that record is unobserved, so D sees the same gap pattern in real and fake records and cannot tell them
apart by their gaps; the masking of generated data follows MisGAN (Li, Jiang & Marlin 2019, ICLR, Sec. 3).
An AC-GAN's auxiliary head then classifies records with gaps: `classify(x)`.

`conditional: true` makes G (and, outside AC-GAN, D by input one-hot channels) take the class.
Fake labels during training are the real batch's labels, so generated classes follow the data's mix.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

from gensci.config import MethodConfig, TrainConfig
from gensci.errors import UserError
from gensci.methods.base import Method, adamw, class_labels
from gensci.nets.conv2d import DCGANDiscriminator, DCGANGenerator, dcgan_init
from gensci.nets.mlp import MLPDiscriminator, MLPGenerator
from gensci.ops.random import sample_normal
from gensci.ops.ranges import ValueMap
from gensci.spec import Requirements, TensorSpec

Objective = Literal["minimax", "acgan", "wgan-gp", "wgan-div"]
WASSERSTEIN = ("wgan-gp", "wgan-div")

# Optimiser defaults per objective: (lr_g, lr_d, betas).
DEFAULTS: dict[str, tuple[float, float, tuple[float, float]]] = {
    # DCGAN: Adam, lr 2e-4, beta1 0.5 (Radford et al. 2016, Sec. 4); AC-GAN used the same (Odena et al. 2017, App.).
    "minimax": (2e-4, 2e-4, (0.5, 0.999)),
    "acgan": (2e-4, 2e-4, (0.5, 0.999)),
    # WGAN-GP: alpha = 1e-4, beta1 = 0, beta2 = 0.9 (Gulrajani et al. 2017, Algorithm 1).
    "wgan-gp": (1e-4, 1e-4, (0.0, 0.9)),
    # WGAN-div: WGAN-GP's optimiser, not the (2e-4, (0.5, 0.999)) of the PyTorch-GAN reference
    # (eriklindernoren/PyTorch-GAN, implementations/wgan_div/wgan_div.py, commit 2281f6d), with which our
    # critic never learned (galaxy-wgan-div: E[D(real)] - E[D(fake)] < 0 throughout, one image for every z).
    # Measured cause: at initialisation the layer-normed critic's input gradients have norm ~3 on the [-1, 1]
    # scale, so k ||grad||^6 ~ 1,500 and the critic's gradient norm ~6,000; Adam's second moment with
    # beta2 = 0.999 remembers that for ~1,000 steps and shrinks every later critic update, while the
    # generator climbs the frozen critic. beta2 = 0.9 forgets it in ~10 steps: with (2e-4, (0.5, 0.9)) or
    # (1e-4, (0, 0.9)) the estimate turns positive after ~100 steps (benchmarks/images/README.md).
    "wgan-div": (1e-4, 1e-4, (0.0, 0.9)),
}


class GANConfig(MethodConfig):
    name: Literal["gan"] = "gan"
    objective: Objective = "minimax"
    net: Literal["dcgan", "mlp"] = Field("dcgan", description="dcgan: images [C, S, S]; mlp: records [D]")
    depth: int = Field(2, ge=1, description="mlp: hidden layers of G and D")
    mask_gaps: bool = Field(False, description="fakes take the real batch's values where its `observed` is False")
    conditional: bool = Field(False, description="class-conditional G (and D); acgan implies it")
    latent_dim: int = Field(100, ge=1, description="100 in DCGAN")
    g_width: int = Field(32, ge=1, description="generator channels at full resolution (doubling per stage down)")
    d_width: int = Field(32, ge=1, description="discriminator channels of the first stage")
    d_norm: Literal["auto", "batch", "layer", "none"] = Field("auto", description="auto: layer for Wasserstein, batch otherwise")
    embed_dim: int = Field(16, ge=1, description="size of the generator's class embedding")
    n_critic: int | None = Field(None, ge=1, description="critic steps per generator step (None: 5 Wasserstein, 1 otherwise)")
    gp_lambda: float = Field(10.0, ge=0, description="WGAN-GP penalty weight (Gulrajani et al. 2017: 10)")
    div_k: float = Field(2.0, ge=0, description="WGAN-div k (Wu et al. 2018: 2)")
    div_p: float = Field(6.0, gt=0, description="WGAN-div p (Wu et al. 2018: 6)")
    div_points: Literal["real_fake", "interpolates"] = Field(
        "real_fake", description="where the WGAN-div gradient is taken (see wgan_div_penalty)"
    )
    class_weight: float = Field(1.0, ge=0, description="AC-GAN weight of the class cross-entropy")
    lr_g: float | None = Field(None, gt=0, description="None: the objective's published default")
    lr_d: float | None = Field(None, gt=0, description="None: the objective's published default")
    betas: tuple[float, float] | None = Field(None, description="Adam betas; None: the objective's default")

    @property
    def is_conditional(self) -> bool:
        return self.conditional or self.objective == "acgan"

    @property
    def critic_steps(self) -> int:
        # 5 critic iterations per generator iteration (Gulrajani et al. 2017, Algorithm 1: n_critic = 5).
        return self.n_critic or (5 if self.objective in WASSERSTEIN else 1)


# -- losses and penalties: pure functions -----------------------------------------------------------
def discriminator_loss(objective: Objective, real_score: Tensor, fake_score: Tensor) -> Tensor:
    """The adversarial part of D's loss, scores [B] -> scalar (penalties and class terms are separate)."""
    if objective in WASSERSTEIN:
        return fake_score.mean() - real_score.mean()
    return F.softplus(-real_score).mean() + F.softplus(fake_score).mean()  # BCE(real, 1) + BCE(fake, 0)


def generator_loss(objective: Objective, fake_score: Tensor) -> Tensor:
    """The adversarial part of G's loss: -E[s_fake] (Wasserstein) or non-saturating -log sigmoid(s_fake)."""
    if objective in WASSERSTEIN:
        return -fake_score.mean()
    return F.softplus(-fake_score).mean()


def _input_gradients(critic: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """d critic(x_i) / d x_i per sample, flattened [B, D]; keeps the graph so the penalty trains D."""
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return grad.flatten(1)


def _interpolates(real: Tensor, fake: Tensor) -> Tensor:
    eps = torch.rand(len(real), *[1] * (real.dim() - 1), device=real.device, dtype=real.dtype)
    return eps * real.detach() + (1 - eps) * fake.detach()


def gradient_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, lam: float = 10.0) -> Tensor:
    """lambda * E[(||grad_x critic(x_hat)||_2 - 1)^2] with x_hat = eps real + (1 - eps) fake, eps ~ U[0, 1]
    per sample (Gulrajani et al. 2017, Eq. 3). critic: x [B, ...] -> [B]."""
    g2 = _input_gradients(critic, _interpolates(real, fake)).pow(2).sum(-1)
    norm = torch.sqrt(g2 + 1e-12)  # the epsilon keeps the backward finite at a zero gradient
    return lam * (norm - 1).pow(2).mean()


def wgan_div_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, k: float = 2.0, p: float = 6.0,
                     points: Literal["real_fake", "interpolates"] = "real_fake") -> Tensor:
    """k * E[||grad_x critic(x)||_2^p] (Wu et al. 2018, Eq. 9 and Algorithm 1; k = 2, p = 6).

    Wu et al. study several sampling distributions for the penalty points. points="real_fake"
    averages the term over the real and the fake samples, k/2 (E_real + E_fake), as the PyTorch-GAN
    reference does (eriklindernoren/PyTorch-GAN, implementations/wgan_div/wgan_div.py);
    points="interpolates" takes it at WGAN-GP style random interpolates. For a linear critic
    x -> w.x both give k ||w||^p.
    """
    if points == "interpolates":
        g2 = _input_gradients(critic, _interpolates(real, fake)).pow(2).sum(-1)
    else:
        g2 = torch.cat([_input_gradients(critic, real), _input_gradients(critic, fake)]).pow(2).sum(-1)
    return k * g2.pow(p / 2).mean()


class GAN(Method):
    """One GAN method; `objective` picks minimax / AC-GAN / WGAN-GP / WGAN-div (module docstring).

    Shapes: images x [B, C, H, W] (records x [B, D] with net="mlp") in the declared range; z [B, latent_dim];
    labels [B] int64.
    """

    Config = GANConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"sample"})

    @classmethod
    def requires(cls, config: GANConfig) -> Requirements:
        shape = ("C", "S", "S") if config.net == "dcgan" else ("D",)
        items = {"x": TensorSpec(shape)}
        info = {"channels", "image_size"} if config.net == "dcgan" else {"n_features"}
        if config.is_conditional:
            items["label"], info = TensorSpec((), "int"), info | {"n_classes"}
        if config.mask_gaps:
            items["observed"] = TensorSpec(shape, "bool")
        return Requirements(items, frozenset(info), ranges=frozenset({"x"}))

    @classmethod
    def sample_spec(cls, config: GANConfig, info: dict[str, Any]) -> dict[str, TensorSpec]:
        shape = _item_shape(config, info)
        return {"x": TensorSpec(shape)} | ({"label": TensorSpec((), "int")} if config.is_conditional else {})

    def __init__(self, config: GANConfig, info: dict[str, Any]):
        super().__init__(config, info)
        k = int(info.get("n_classes") or 0)
        if config.is_conditional and k < 2:
            raise ValueError(f"a conditional GAN needs a data set with classes; info says n_classes={k}")
        self.n_classes = k if config.is_conditional else 0
        acgan = config.objective == "acgan"
        d_norm = config.d_norm if config.d_norm != "auto" else ("layer" if config.objective in WASSERSTEIN else "batch")
        d_classes, aux_classes = (0, self.n_classes) if acgan else (self.n_classes, 0)
        if config.net == "dcgan":
            c, s = int(info["channels"]), int(info["image_size"])
            self.generator = DCGANGenerator(config.latent_dim, c, s, config.g_width, self.n_classes, config.embed_dim)
            self.discriminator = DCGANDiscriminator(c, s, config.d_width, d_norm, d_classes, aux_classes)
            self.generator.apply(dcgan_init)
            self.discriminator.apply(dcgan_init)
        else:  # PyTorch's default initialisation: dcgan_init's N(0, 0.02) is DCGAN's choice for conv nets
            d = int(info["n_features"])
            self.generator = MLPGenerator(config.latent_dim, d, config.g_width, self.n_classes, config.embed_dim,
                                          depth=config.depth)
            self.discriminator = MLPDiscriminator(d, config.d_width, d_norm, d_classes, aux_classes, config.depth)
        self.value_map = ValueMap.from_info(info, "x")
        if info.get("pixel_mean") is not None:  # start at the data's mean level (DCGANGenerator.set_output_bias)
            self.generator.set_output_bias(self.value_map.raw(torch.as_tensor(info["pixel_mean"])))
        caps = {"sample"} | ({"conditional"} if self.n_classes else set()) | ({"classify"} if acgan else set())
        if caps != {"sample"}:  # this instance also samples by class / classifies
            self.capabilities = frozenset(caps)

    def optimizers(self, train: TrainConfig) -> dict[str, torch.optim.Optimizer]:
        lr_g, lr_d, betas = DEFAULTS[self.config.objective]
        betas = self.config.betas or betas
        return {
            "generator": adamw(self.generator.parameters(), train, self.config.lr_g or lr_g, betas),
            "discriminator": adamw(self.discriminator.parameters(), train, self.config.lr_d or lr_d, betas),
        }

    def generate(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """G(z, c) in the data's value range: z [B, L] -> x [B, C, H, W]."""
        return self.value_map.values(self.generator(z, labels))

    def _critic(self, labels: Tensor | None) -> Callable[[Tensor], Tensor]:
        """D as a function of images on the penalties' [-1, 1] scale (`penalty`)."""
        return lambda signed: self.discriminator(self.value_map.from_signed(signed), labels)[0]

    def penalty(self, real: Tensor, fake: Tensor, labels: Tensor | None) -> Tensor:
        """The Wasserstein objective's penalty, with input gradients taken w.r.t. the images on the
        [-1, 1] scale when the data's range is bounded.

        Gulrajani et al. (2017) and Wu et al. (2018) (and the PyTorch-GAN code) train on images in
        [-1, 1]; their constants (GP target norm 1; div k = 2, p = 6) are tuned on that scale. On
        images in [0, 1] the same critic has twice the input gradient (||grad||^6: 64-fold), so a
        bounded range [low, high] is rescaled linearly to [-1, 1] first (±1 spins: unchanged). An
        unbounded field has no known scale and is taken as it is."""
        cfg, critic = self.config, self._critic(labels)
        real, fake = self.value_map.signed(real), self.value_map.signed(fake)
        if cfg.objective == "wgan-gp":
            return gradient_penalty(critic, real, fake, cfg.gp_lambda)
        return wgan_div_penalty(critic, real, fake, cfg.div_k, cfg.div_p, cfg.div_points)

    def train_step(self, batch: dict[str, Tensor], step: int, opt) -> dict[str, float]:
        cfg = self.config
        real = batch["x"]
        labels = batch["label"] if self.n_classes else None
        z = torch.randn(len(real), cfg.latent_dim, device=real.device)
        fake = self.generate(z, labels)
        if cfg.mask_gaps:  # the real records' gaps, with their fill values, in the fakes too (module docstring)
            fake = torch.where(batch["observed"], fake, real)
        d_labels = None if cfg.objective == "acgan" else labels
        real_score, real_logits = self.discriminator(real, d_labels)
        fake_score, fake_logits = self.discriminator(fake.detach(), d_labels)

        logs: dict[str, float] = {}
        d_loss = discriminator_loss(cfg.objective, real_score, fake_score)
        if cfg.objective == "acgan":
            class_loss = F.cross_entropy(real_logits, labels) + F.cross_entropy(fake_logits, labels)
            d_loss = d_loss + cfg.class_weight * class_loss
            logs["class_loss"] = float(class_loss.detach()) / 2
        elif cfg.objective in WASSERSTEIN:
            penalty = self.penalty(real, fake, d_labels)
            d_loss = d_loss + penalty
            logs["gp" if cfg.objective == "wgan-gp" else "div"] = float(penalty.detach())
        if cfg.objective in WASSERSTEIN:
            logs["wasserstein"] = float((real_score.mean() - fake_score.mean()).detach())
        opt.step(d_loss, "discriminator")

        if step % cfg.critic_steps == cfg.critic_steps - 1:
            g_loss = self._generator_loss(fake, labels)
            opt.step(g_loss, "generator")
        else:  # not stepped: report G's loss at these fakes from the scores already computed
            g_loss = generator_loss(cfg.objective, fake_score.detach())
        d_loss = float(d_loss.detach())
        return {"loss": d_loss, "d_loss": d_loss, "g_loss": float(g_loss.detach()), **logs}

    def _generator_loss(self, fake: Tensor, labels: Tensor | None) -> Tensor:
        acgan = self.config.objective == "acgan"
        score, logits = self.discriminator(fake, None if acgan else labels)
        loss = generator_loss(self.config.objective, score)
        if acgan:
            loss = loss + self.config.class_weight * F.cross_entropy(logits, labels)
        return loss

    @torch.no_grad()
    def classify(self, x: Tensor, batch_size: int = 500) -> Tensor:
        """The AC-GAN discriminator's class probabilities: x [B, ...] (as in training) -> [B, K], on x's device."""
        if self.config.objective != "acgan":
            raise UserError("only an AC-GAN's discriminator classifies (method.objective=acgan)")
        was_training = self.discriminator.training
        self.discriminator.eval()
        try:
            out = [self.discriminator(chunk.to(self.device))[1].softmax(-1).to(x.device) for chunk in x.split(batch_size)]
        finally:
            self.discriminator.train(was_training)
        return torch.cat(out)

    @torch.no_grad()
    def sample_batch(self, n: int, condition: Tensor | int | None, generator: torch.Generator | None,
                     options) -> dict[str, Tensor]:
        """{"x": [n, C, H, W]} (+ "label": [n] for conditional models).

        condition: class labels [n] (or one int for all); None draws classes uniformly from `generator`.
        """
        z = sample_normal((n, self.config.latent_dim), generator, self.device)
        if not self.n_classes:
            if condition is not None:
                raise UserError("this GAN is unconditional; train with conditional: true (or acgan) to sample by class")
            return {"x": self.generate(z)}
        labels = class_labels(condition, n, self.n_classes, generator, self.device)
        return {"x": self.generate(z, labels), "label": labels}


def _item_shape(config: GANConfig, info: dict[str, Any]) -> tuple[int, ...]:
    if config.net == "mlp":
        return (int(info["n_features"]),)
    c, s = int(info["channels"]), int(info["image_size"])
    return (c, s, s)
