"""A 1D convolutional autoencoder for denoising time traces."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class ConvDenoiser1d(nn.Module):
    """Convolutional autoencoder x: [B, C, L] -> [B, C, L].

    Encoder: per entry of `channels`, Conv1d(kernel_size, "same") + ReLU + MaxPool1d(2); with the
    default channels (16, 16, 16, 16) a 500-sample trace goes 500 -> 250 -> 125 -> 62 -> 31, a
    16 x 31 representation as in the network of the radio-denoising exercise (Erdmann et al.,
    "Deep Learning for Physics Research", 2021). Decoder: mirrored; each level upsamples
    (nearest) to exactly the length the encoder saw there (so odd lengths such as 125 come back
    exactly), then Conv1d + ReLU; a final linear Conv1d maps to `in_channels`.

    With `center`, each trace's mean is subtracted before the encoder and added to the output:
    min-max scaled traces sit on a per-trace offset (where zero signal lands, ≈ the mean of a
    zero-mean trace) that the network would otherwise have to carry through the bottleneck.

    The output is linear, not squashed into [0, 1]: the regression target (the min-max scaled
    true signal) can leave [0, 1] where the noise cancels part of the pulse, and a sigmoid
    would flatten the gradient exactly at the pulse peaks that matter most.
    """

    def __init__(
        self, channels: tuple[int, ...] = (16, 16, 16, 16), kernel_size: int = 7, in_channels: int = 1,
        center: bool = True,
    ):
        super().__init__()
        self.center = center
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd to keep the length ('same' padding), got {kernel_size}")
        pad = kernel_size // 2
        widths = [in_channels, *channels]
        self.encoder = nn.ModuleList(nn.Conv1d(a, b, kernel_size, padding=pad) for a, b in zip(widths, widths[1:]))
        back = widths[::-1][:-1] + [widths[1]]  # mirror: (32, 32, 16, 16) decodes 16 -> 16 -> 32 -> 32 -> 32
        self.decoder = nn.ModuleList(nn.Conv1d(a, b, kernel_size, padding=pad) for a, b in zip(back, back[1:]))
        self.out = nn.Conv1d(widths[1], in_channels, kernel_size, padding=pad)

    def encode(self, x: Tensor) -> tuple[Tensor, list[int]]:
        """x: [B, C, L] -> (code [B, channels[-1], L / 2^depth], the lengths before each pooling)."""
        lengths = []
        for conv in self.encoder:
            lengths.append(x.shape[-1])
            x = F.max_pool1d(F.relu(conv(x)), 2)
        return x, lengths

    def decode(self, z: Tensor, lengths: list[int]) -> Tensor:
        for conv, length in zip(self.decoder, reversed(lengths)):
            z = F.relu(conv(F.interpolate(z, size=length, mode="nearest")))
        return self.out(z)

    def forward(self, x: Tensor) -> Tensor:
        if not self.center:
            return self.decode(*self.encode(x))
        mean = x.mean(dim=-1, keepdim=True)
        return self.decode(*self.encode(x - mean)) + mean
