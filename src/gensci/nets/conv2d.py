"""2D image networks: DCGAN-style convolutional encoder/decoder, GAN generator/critic, and the
fully connected VAE encoder/decoder of the blog.

All convolutional nets work for square images whose side is a power of two >= 16: strided 4x4
convolutions halve the side down to 4x4 and transposed ones double it back (the DCGAN layout of
Radford et al. 2016, "Unsupervised representation learning with deep convolutional GANs", Sec. 3:
no pooling, BatchNorm, ReLU in the generator, LeakyReLU(0.2) in the discriminator). Channel counts
double per stage from `width`, capped at 8 x width.

Shapes: images x [B, C, H, W]; latents z [B, L]; labels [B] int64.
Decoders and the GAN generator return an unconstrained map; the method sends it into the data's
declared value range (gensci.ops.ranges.ValueMap: a sigmoid for [0, 1] images, tanh for ±1 spins,
the identity for unbounded fields), so a Bernoulli likelihood can use the logits stably.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

Norm = Literal["batch", "layer", "none"]


def n_stages(image_size: int) -> int:
    """How many factor-2 resolution changes separate 4x4 from `image_size` (16 -> 2, 64 -> 4)."""
    if image_size < 16 or image_size & (image_size - 1):
        raise ValueError(f"image_size must be a power of two >= 16, got {image_size}")
    return int(math.log2(image_size)) - 2


def stage_widths(image_size: int, width: int) -> list[int]:
    """Channels after each encoder stage (the decoder uses them reversed)."""
    return [width * min(2**i, 8) for i in range(n_stages(image_size))]


def norm2d(kind: Norm, channels: int) -> nn.Module:
    # "layer" normalises each sample over (C, H, W): the WGAN-GP paper (Gulrajani et al. 2017, Sec. 4)
    # drops batch norm from the critic because the penalty is per sample.
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; choices: batch, layer, none")


class ConvEncoder(nn.Module):
    """x [B, C, H, W] -> [B, out_dim]: strided convs down to 4x4, then a linear layer.

    The first stage has no normalisation (DCGAN); LeakyReLU(0.2) throughout.
    """

    def __init__(self, in_channels: int, image_size: int, out_dim: int, width: int = 32, norm: Norm = "batch"):
        super().__init__()
        widths = stage_widths(image_size, width)
        layers: list[nn.Module] = []
        c_in = in_channels
        for i, c in enumerate(widths):
            layers += [nn.Conv2d(c_in, c, 4, 2, 1, bias=i == 0 or norm == "none")]
            layers += [nn.Identity() if i == 0 else norm2d(norm, c), nn.LeakyReLU(0.2)]
            c_in = c
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(c_in * 16, out_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x).flatten(1))


class ConvDecoder(nn.Module):
    """z [B, in_dim] -> logits [B, C, H, W]: a linear map to a 4x4 map, then transposed convs."""

    def __init__(self, in_dim: int, out_channels: int, image_size: int, width: int = 32, norm: Norm = "batch"):
        super().__init__()
        widths = stage_widths(image_size, width)[::-1]
        self.start = widths[0]
        self.project = nn.Sequential(nn.Linear(in_dim, widths[0] * 16), nn.Unflatten(1, (widths[0], 4, 4)))
        layers: list[nn.Module] = [norm2d(norm, widths[0]), nn.ReLU()]
        for c_in, c_out in zip(widths, widths[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=norm == "none"), norm2d(norm, c_out), nn.ReLU()]
        layers += [nn.ConvTranspose2d(widths[-1], out_channels, 4, 2, 1)]
        self.body = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.body(self.project(z))


def with_class_channels(x: Tensor, labels: Tensor | None, n_classes: int) -> Tensor:
    """x [B, C, H, W] -> [B, C + K, H, W]: the label [B] as K one-hot constant channels (the input
    conditioning of a conditional GAN's discriminator or a conditional VAE's encoder); K = 0: x."""
    if not n_classes:
        return x
    if labels is None:
        raise ValueError("this network is class-conditional: pass labels [B]")
    onehot = nn.functional.one_hot(labels, n_classes).to(x.dtype)
    return torch.cat([x, onehot[:, :, None, None].expand(-1, -1, *x.shape[2:])], dim=1)


class ConditionalDecoder(nn.Module):
    """(z, c) -> unconstrained images [B, C, H, W]: a ConvDecoder whose input is z [B, L], with a
    learned embedding of the label [B] concatenated when n_classes > 0 (as in conditional GANs,
    Mirza & Osindero 2014; AC-GAN, Odena et al. 2017; a conditional VAE's decoder p(x | z, c),
    Sohn et al. 2015)."""

    def __init__(self, latent_dim: int, channels: int, image_size: int, width: int = 32, n_classes: int = 0,
                 embed_dim: int = 16, norm: Norm = "batch"):
        super().__init__()
        self.n_classes = n_classes
        self.embed = nn.Embedding(n_classes, embed_dim) if n_classes else None
        self.decoder = ConvDecoder(latent_dim + (embed_dim if n_classes else 0), channels, image_size, width, norm)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        if self.embed is not None:
            if labels is None:
                raise ValueError("this decoder is class-conditional: pass labels [B]")
            z = torch.cat([z, self.embed(labels)], dim=1)
        return self.decoder(z)


class DCGANGenerator(ConditionalDecoder):
    """G(z, c) -> unconstrained images [B, C, H, W] (the method maps them into the data's range);
    a ConditionalDecoder whose output bias can start at the data's mean level."""

    @torch.no_grad()
    def set_output_bias(self, bias: Tensor) -> None:
        """Set the output layer's bias per channel [C]. The method passes the inverse of its output
        map at the data's mean pixel (logit(mean) for [0, 1] images), so that the untrained generator
        already emits the data's mean level (for galaxies: a dark sky) and its first updates go into
        shapes. With the zero bias of dcgan_init it starts at mid-range (grey 0.5), and a Wasserstein
        generator, stepped once per 5 critic steps, spent its first few hundred steps darkening the
        background (seen in galaxy-wgan-gp runs)."""
        out = self.decoder.body[-1]
        bias = torch.as_tensor(bias, dtype=out.bias.dtype)
        if bias.shape != out.bias.shape:
            raise ValueError(f"output bias has {bias.numel()} channels, the generator {out.bias.numel()}")
        out.bias.copy_(bias)


class DCGANDiscriminator(nn.Module):
    """D(x, c) -> (score [B], class logits [B, K] or None).

    - `n_classes > 0`: the label enters as K one-hot constant channels concatenated to x
      (input conditioning of a conditional GAN);
    - `aux_classes > 0`: an auxiliary head predicts the class (AC-GAN, Odena et al. 2017, Sec. 3).
    The score is a logit for minimax objectives and a critic value for Wasserstein ones.
    """

    def __init__(self, channels: int, image_size: int, width: int = 32, norm: Norm = "batch", n_classes: int = 0,
                 aux_classes: int = 0):
        super().__init__()
        self.n_classes = n_classes
        self.aux_classes = aux_classes
        self.encoder = ConvEncoder(channels + n_classes, image_size, 1 + aux_classes, width, norm)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        out = self.encoder(with_class_channels(x, labels, self.n_classes))
        return out[:, 0], (out[:, 1:] if self.aux_classes else None)


class MLPEncoder(nn.Module):
    """The blog's fully connected VAE encoder: flattened x [B, C*H*W] -> hidden (500) -> [B, 2L]
    (the two L-vectors mu and log-variance, concatenated)."""

    def __init__(self, in_dim: int, latent_dim: int = 50, hidden: int = 500):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, 2 * latent_dim))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class MLPDecoder(nn.Module):
    """The blog's fully connected VAE decoder: z [B, L] -> hidden (500) -> logits [B, C, H, W];
    the sigmoid of the blog's last layer is applied by the VAE (it needs the logits for BCE)."""

    def __init__(self, latent_dim: int, shape: tuple[int, int, int], hidden: int = 500):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, math.prod(shape)), nn.Unflatten(1, shape)
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


@torch.no_grad()
def dcgan_init(module: nn.Module) -> None:
    """Weights ~ N(0, 0.02), norm scales ~ N(1, 0.02), biases 0 (Radford et al. 2016, Sec. 4).

    Use as `net.apply(dcgan_init)`.
    """
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)
