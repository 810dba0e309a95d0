"""Fully connected networks for vectors: a plain MLP (protein-family VAE), a denoising autoencoder, and a GAN's
generator/discriminator pair with the same interface as the DCGAN pair of gensci.nets.conv2d, so that
gensci.methods.gan runs any of its objectives (minimax, AC-GAN, WGAN-GP, WGAN-div) on records.

Shapes: records x [B, D]; masks [B, D] bool (True: the value is seen); latents z [B, L]; labels [B] int64.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

Norm = Literal["batch", "layer", "none"]


def norm1d(kind: Norm, width: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm1d(width)
    if kind == "layer":  # per-sample normalisation: the gradient penalties are per sample (Gulrajani et al. 2017, Sec. 4)
        return nn.LayerNorm(width)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; choices: batch, layer, none")


def mlp(sizes: list[int], activation: type[nn.Module] = nn.ReLU, norm: Norm = "none",
        last_activation: type[nn.Module] | None = None) -> nn.Sequential:
    """Linear layers between consecutive `sizes`, each hidden one followed by norm + activation (the last hidden
    one by `last_activation` when given); the output layer is linear."""
    if len(sizes) < 2:
        raise ValueError(f"an MLP needs at least input and output sizes, got {sizes}")
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            act = last_activation if last_activation is not None and i == len(sizes) - 3 else activation
            layers += [norm1d(norm, b), act()]
    return nn.Sequential(*layers)


class MLP(nn.Module):
    """`mlp` on inputs flattened from dim 1: x [B, ...] -> [B, dims[-1]]. `last_hidden="sigmoid"` ends the hidden
    stack with a sigmoid, as DeepSequence's decoder does (Riesselman et al. 2018, Methods; run_svi.py
    `final_decode_nonlin="sigmoid"`, commit 3647171)."""

    def __init__(self, dims: list[int], last_hidden: Literal["relu", "sigmoid"] = "relu"):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), mlp(dims, last_activation=nn.Sigmoid if last_hidden == "sigmoid" else None))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class DenoisingMLP(nn.Module):
    """A deep (stacked) denoising autoencoder for records: x [B, D] (+ mask [B, D]) -> [B, D].

    Encoder D(+D) -> hidden[0] -> ... -> hidden[-1] (the code), decoder mirrored back to D, ReLU between,
    linear output (standardised values are unbounded). Vincent et al. (2010), "Stacked denoising
    autoencoders", JMLR 11, stack layers trained one at a time; here the whole stack trains end to end.
    With `mask_input`, the seen/unseen mask is a second input half, so a gap (0) and an observed 0 (the
    mean) differ, as GAIN does (Yoon, Jordon & van der Schaar 2018, ICML, Sec. 3).
    """

    def __init__(self, n_features: int, hidden: tuple[int, ...] = (128, 64), mask_input: bool = True):
        super().__init__()
        self.mask_input = mask_input
        d_in = 2 * n_features if mask_input else n_features
        self.net = mlp([d_in, *hidden, *hidden[-2::-1], n_features])

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        if self.mask_input:
            if mask is None:
                raise ValueError("this network reads the seen/unseen mask: pass mask [B, D]")
            x = torch.cat([x, mask.to(x.dtype)], dim=1)
        return self.net(x)


class MLPGenerator(nn.Module):
    """G(z, c) -> unconstrained records [B, D] (the GAN maps them into the data's range).

    With n_classes > 0 a learned label embedding is concatenated to z, as DCGANGenerator does."""

    def __init__(self, latent_dim: int, n_features: int, width: int = 128, n_classes: int = 0, embed_dim: int = 16,
                 norm: Norm = "batch", depth: int = 2):
        super().__init__()
        self.embed = nn.Embedding(n_classes, embed_dim) if n_classes else None
        d_in = latent_dim + (embed_dim if n_classes else 0)
        self.net = mlp([d_in] + [width] * depth + [n_features], nn.ReLU, norm)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        if self.embed is not None:
            if labels is None:
                raise ValueError("this generator is class-conditional: pass labels [B]")
            z = torch.cat([z, self.embed(labels)], dim=1)
        return self.net(z)

    @torch.no_grad()
    def set_output_bias(self, bias: Tensor) -> None:
        """Start the untrained generator at a given record [D] (see DCGANGenerator.set_output_bias)."""
        out = self.net[-1]
        out.bias.copy_(torch.as_tensor(bias, dtype=out.bias.dtype).expand_as(out.bias))


class MLPDiscriminator(nn.Module):
    """D(x, c) -> (score [B], class logits [B, K] or None), LeakyReLU(0.2) as in DCGAN's discriminator.

    - `n_classes > 0`: the label's one-hot is concatenated to x (a conditional GAN's input conditioning);
    - `aux_classes > 0`: an auxiliary head predicts the class (AC-GAN, Odena et al. 2017, Sec. 3); for
      records that head is the disease classifier (Hwang, Choi & Yoon 2017, arXiv:1711.04126).
    """

    def __init__(self, n_features: int, width: int = 128, norm: Norm = "none", n_classes: int = 0,
                 aux_classes: int = 0, depth: int = 2):
        super().__init__()
        self.n_classes, self.aux_classes = n_classes, aux_classes
        sizes = [n_features + n_classes] + [width] * depth + [1 + aux_classes]
        self.net = mlp(sizes, lambda: nn.LeakyReLU(0.2), norm)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        if self.n_classes:
            if labels is None:
                raise ValueError("this discriminator is class-conditional: pass labels [B]")
            x = torch.cat([x, nn.functional.one_hot(labels, self.n_classes).to(x.dtype)], dim=1)
        out = self.net(x)
        return out[:, 0], (out[:, 1:] if self.aux_classes else None)
