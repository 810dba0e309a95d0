"""Gaussian variational autoencoder (Kingma & Welling 2014) with the beta weight of Higgins et al. (2017).

For an image x [B, C, H, W] (values in the data set's declared range), the encoder gives
q(z|x) = N(mu, diag(exp(logvar))) with z [B, L]; the decoder gives an unconstrained map that
gensci.ops.ranges.ValueMap sends into the declared range. The evidence lower bound per image (Kingma & Welling 2014,
Eq. 10, with the KL term in closed form, their Appendix B) is

    ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || N(0, I)),

estimated with one reparameterised sample z = mu + exp(logvar / 2) * eps. Training minimises
-E_q[log p(x|z)] + beta * KL (beta = 1: the ELBO; beta > 1: a beta-VAE).

Reconstruction likelihoods (`recon`), "auto" picking the one that suits the declared range:
- "bernoulli" (auto for bounded and two-valued ranges): log p(x|z) = -BCE(logits, u) summed over
  pixels, u = (x - low) / (high - low) the value rescaled to [0, 1] (images in [0, 1]: u = x). Exact
  for two-valued data (Ising spins ±1: logits = 2 raw, mean = tanh raw); for grey levels in between
  it is not normalised, so a score rather than a density;
- "mse" (auto for unbounded and one-sided ranges): a Gaussian N(mean, sigma^2) per pixel around the
  decoder mean (in the data's units), -||x - mean||^2 / (2 sigma^2) minus the normalising constant,
  so the ELBO is a bound on a true density in nats.
- "categorical" (one-hot data, e.g. aligned sequences: gensci.methods.sequence_vae): x one-hot over dim 1,
  log p(x|z) = sum over the other dims of log softmax(raw, dim=1)[x], exact.
Samples and reconstructions are the decoder means.

`conditional: true` makes it a conditional VAE (Sohn et al. 2015, "Learning structured output
representation using deep conditional generative models", Sec. 4): q(z | x, c) and p(x | z, c) with the
class c [B] entering the encoder as one-hot channels and the decoder as a learned embedding beside z
(the same pieces as the conditional GAN, gensci.nets.conv2d); the prior stays N(0, I). Every use
(ELBO, reconstruction, sampling) then takes labels; conv nets only.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

from gensci.config import MethodConfig
from gensci.errors import ConfigError, UserError
from gensci.methods.base import Method, class_labels
from gensci.nets.conv2d import ConditionalDecoder, ConvDecoder, ConvEncoder, MLPDecoder, MLPEncoder, with_class_channels
from gensci.ops.gaussian import gaussian_kl_logvar
from gensci.ops.random import sample_normal
from gensci.ops.ranges import ValueMap
from gensci.spec import Requirements, TensorSpec


class VAEConfig(MethodConfig):
    name: Literal["vae"] = "vae"
    net: Literal["conv", "fc"] = Field("conv", description="DCGAN-style conv nets, or the blog's 500-unit MLPs")
    latent_dim: int = Field(32, ge=1, description="L; the blog's fully connected VAE uses 50")
    beta: float = Field(1.0, gt=0, description="KL weight (1: plain VAE, >1: beta-VAE)")
    recon: Literal["auto", "bernoulli", "mse"] = Field(
        "auto", description="auto: bernoulli for bounded/two-valued data, mse (Gaussian) for unbounded")
    sigma: float = Field(0.1, gt=0, description="decoder pixel std for recon='mse', in the data's units")
    width: int = Field(32, ge=1, description="conv: channels of the first stage (doubling per stage)")
    hidden: int = Field(500, ge=1, description="fc: hidden units (500 in the blog)")
    norm: Literal["batch", "layer", "none"] = "batch"
    conditional: bool = Field(False, description="a conditional VAE on the data's classes (conv nets)")
    embed_dim: int = Field(16, ge=1, description="conditional: size of the decoder's class embedding")


class VAE(Method):
    """Gaussian (beta-)VAE on images; see the module docstring for the objective.

    Shapes: x [B, C, H, W] in the range `info["value_ranges"]["x"]` declares; z, mu, logvar [B, L].
    """

    Config = VAEConfig
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {"sample", "encode", "decode", "reconstruct", "log_likelihood", "elbo", "anomaly_score", "interpolate"}
    )

    @classmethod
    def requires(cls, config: VAEConfig) -> Requirements:
        items, info = {"x": TensorSpec(("C", "S", "S"))}, {"channels", "image_size"}
        if config.conditional:
            items["label"], info = TensorSpec((), "int"), info | {"n_classes"}
        return Requirements(items, frozenset(info), ranges=frozenset({"x"}))

    @classmethod
    def sample_spec(cls, config: VAEConfig, info: dict[str, Any]) -> dict[str, TensorSpec]:
        c, s = int(info["channels"]), int(info["image_size"])
        return {"x": TensorSpec((c, s, s))} | ({"label": TensorSpec((), "int")} if config.conditional else {})

    def __init__(self, config: VAEConfig, info: dict[str, Any]):
        super().__init__(config, info)
        self.n_classes = 0  # build() sets it for a conditional VAE
        self.build(config, info)

    def build(self, config: VAEConfig, info: dict[str, Any]) -> None:
        """Set self.shape (one item), self.likelihood and the encoder/decoder networks (a subclass for other
        data, such as gensci.methods.sequence_vae, overrides this and the data-facing methods)."""
        self.shape = (int(info["channels"]), int(info["image_size"]), int(info["image_size"]))
        c, s, _ = self.shape
        self.value_map = ValueMap.from_info(info, "x")
        self.likelihood = config.recon if config.recon != "auto" else ("bernoulli" if self.value_map.bounded else "mse")
        if self.likelihood == "bernoulli" and not self.value_map.bounded:
            raise ConfigError(f"method.recon=bernoulli needs bounded values; this data set's x is {self.value_map.kind} "
                              "(use method.recon=mse or auto)")
        self.n_classes = int(info.get("n_classes") or 0) if config.conditional else 0
        if config.conditional and (self.n_classes < 2 or config.net != "conv"):
            raise ConfigError(f"method.conditional needs conv nets and a data set with classes (net={config.net}, "
                              f"n_classes={self.n_classes})")
        if config.net == "conv":
            self.encoder = ConvEncoder(c + self.n_classes, s, 2 * config.latent_dim, config.width, config.norm)
            self.decoder = (ConditionalDecoder(config.latent_dim, c, s, config.width, self.n_classes, config.embed_dim,
                                               config.norm) if self.n_classes
                            else ConvDecoder(config.latent_dim, c, s, config.width, config.norm))
        else:
            self.encoder = MLPEncoder(math.prod(self.shape), config.latent_dim, config.hidden)
            self.decoder = MLPDecoder(config.latent_dim, self.shape, config.hidden)
        if self.n_classes:  # samples by class; a latent path between classes is not defined
            self.capabilities = (self.capabilities - {"interpolate"}) | {"conditional"}

    def inputs(self, batch: dict[str, Tensor]) -> Tensor:
        """The tensor x [B, *shape] the encoder reads, from a training batch."""
        return batch["x"]

    # -- the model ---------------------------------------------------------------------------
    def _labels(self, labels: Tensor | None) -> Tensor | None:
        if self.n_classes and labels is None:
            raise UserError("this VAE is conditional: give the class labels of the images")
        return labels if self.n_classes else None

    def encode(self, x: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """x [B, C, H, W] (and labels [B] when conditional) -> (mu [B, L], logvar [B, L])."""
        x = with_class_channels(x, self._labels(labels), self.n_classes) if self.n_classes else x
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        return mu, logvar

    def decode_raw(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """z [B, L] -> the decoder's unconstrained output [B, C, H, W]."""
        return self.decoder(z, self._labels(labels)) if self.n_classes else self.decoder(z)

    def decode(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """z [B, L] -> the decoder's mean image [B, C, H, W], in the data's range."""
        return self.value_map.values(self.decode_raw(z, labels))

    def reconstruct(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """Decode the posterior mean: x [B, C, H, W] -> [B, C, H, W]."""
        return self.decode(self.encode(x, labels)[0], labels)

    def recon_nll(self, raw: Tensor, x: Tensor) -> Tensor:
        """-log p(x|z) per image [B] (nats), from the decoder's raw output [B, C, H, W]."""
        if self.likelihood == "categorical":  # x one-hot over dim 1: -sum over positions of log softmax(raw)[x]
            return -(x * F.log_softmax(raw, dim=1)).flatten(1).sum(-1)
        vm = self.value_map
        if self.likelihood == "bernoulli":
            return F.binary_cross_entropy_with_logits(vm.unit_logits(raw), vm.unit(x), reduction="none").flatten(1).sum(-1)
        sigma = self.config.sigma
        sq = (vm.values(raw) - x).pow(2).flatten(1).sum(-1)
        return sq / (2 * sigma**2) + x[0].numel() * math.log(sigma * math.sqrt(2 * math.pi))

    def terms(self, x: Tensor, eps: Tensor | None = None, labels: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """(-log p(x|z), KL(q(z|x) || N(0, I))) per image, each [B], with one reparameterised z."""
        mu, logvar = self.encode(x, labels)
        if eps is None:
            eps = torch.randn_like(mu)
        z = mu + (0.5 * logvar).exp() * eps
        kl = gaussian_kl_logvar(mu, logvar).sum(-1)
        return self.recon_nll(self.decode_raw(z, labels), x), kl

    # -- training ----------------------------------------------------------------------------
    def train_step(self, batch: dict[str, Tensor], step: int, opt) -> dict[str, float]:
        """Minimise -E_q[log p(x|z)] + beta KL, averaged over the batch; with per-item weights `batch["weight"]` [B]
        a weighted average (DeepSequence's sequence reweighting, Riesselman et al. 2018, Methods)."""
        recon, kl = self.terms(self.inputs(batch), labels=batch["label"] if self.n_classes else None)
        weight = batch.get("weight")
        w = torch.ones_like(recon) if weight is None else weight.to(recon.dtype) / weight.sum().clamp_min(1e-12) * len(recon)
        loss = (w * (recon + self.config.beta * kl)).mean()
        opt.step(loss, "main")
        recon, kl = float((w * recon).detach().mean()), float((w * kl).detach().mean())
        return {"loss": float(loss.detach()), "recon": recon, "kl": kl, "elbo": -(recon + kl)}

    # -- uses --------------------------------------------------------------------------------
    @torch.no_grad()
    def elbo(self, x: Tensor, n_samples: int = 1, generator: torch.Generator | None = None,
             labels: Tensor | None = None) -> Tensor:
        """ELBO per image [B] (nats), averaged over `n_samples` posterior draws (beta is not applied)."""
        total = torch.zeros(len(x), device=x.device)
        for _ in range(n_samples):
            mu_shape = (len(x), self.config.latent_dim)
            recon, kl = self.terms(x, sample_normal(mu_shape, generator, x.device), labels)
            total -= recon + kl
        return total / n_samples

    log_likelihood = elbo  # a lower bound on log p(x)

    @torch.no_grad()
    def anomaly_score(self, x: Tensor, n_samples: int = 1, generator: torch.Generator | None = None,
                      labels: Tensor | None = None) -> Tensor:
        """Negative ELBO per image [B]: high for images unlike the training data."""
        return -self.elbo(x, n_samples, generator, labels)

    @torch.no_grad()
    def interpolate(self, x_a: Tensor, x_b: Tensor, n_frames: int = 16) -> Tensor:
        """The blog's latent "movie": decode straight-line steps between the posterior means of
        two images ([C, H, W] or [1, C, H, W] each) -> frames [n_frames, C, H, W]. Unconditional VAEs only."""
        if self.n_classes:
            raise UserError("latent interpolation is for unconditional VAEs (a conditional one's latent depends on the class)")
        x = torch.stack([x_a.reshape(self.shape), x_b.reshape(self.shape)]).to(self.device)
        mu = self.encode(x)[0]
        t = torch.linspace(0, 1, n_frames, device=mu.device)[:, None]
        return self.decode((1 - t) * mu[0] + t * mu[1])

    @torch.no_grad()
    def sample_batch(self, n: int, condition, generator: torch.Generator | None, options) -> dict[str, Tensor]:
        """Decode z ~ N(0, I): {"x": [n, C, H, W]} (decoder means, in the data's range), + "label" [n]
        for a conditional VAE (condition: labels [n] or one int; None draws them uniformly)."""
        if condition is not None and not self.n_classes:
            raise UserError("this VAE is unconditional; train with method.conditional=true to sample by class")
        z = sample_normal((n, self.config.latent_dim), generator, self.device)
        if not self.n_classes:
            return {"x": self.decode(z)}
        labels = class_labels(condition, n, self.n_classes, generator, self.device)
        return {"x": self.decode(z, labels), "label": labels}
