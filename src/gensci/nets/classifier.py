"""A small CNN image classifier whose pooled activations are the feature space of the image metrics.

gensci trains it on the real training images of a data set (gensci.workflows.reference_net)
instead of downloading an Inception network: Fréchet/kernel distances, precision/recall/density/
coverage, duplicates and the two-sample test are all measured in its feature space, and its class
probabilities give the class mix and class accuracy of generated images.

Inputs are standardised per channel with the training images' mean and standard deviation (buffers
`shift`, `scale`, set by whoever trains it), so any value range works: images in [0, 1], FIRST radio
maps whose pixels are nearly all 0, unbounded fields, ±1 spins.

Shapes: x [B, C, H, W] (any side >= 16; global pooling makes it size-agnostic);
logits [B, K]; features [B, 12 * width] (pooled stages 3 and 4: 4w + 8w channels).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _stage(c_in: int, c_out: int) -> nn.Sequential:
    # One stride-2 3x3 conv halves the side; BatchNorm + ReLU as in a plain VGG/ResNet stem.
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


class FeatureNet(nn.Module):
    """Four stride-2 conv stages (widths w, 2w, 4w, 8w), global average pooling, a linear head.

    `features(x)` concatenates the globally pooled activations of the last two stages: the last
    stage alone is trained to be invariant within a class, the one before still sees texture and
    shape, which the diversity measures (coverage, duplicates) need.
    """

    def __init__(self, in_channels: int, n_classes: int, width: int = 16):
        super().__init__()
        self.in_channels, self.n_classes, self.width = in_channels, n_classes, width
        self.register_buffer("shift", torch.zeros(in_channels))
        self.register_buffer("scale", torch.ones(in_channels))
        widths = [width, 2 * width, 4 * width, 8 * width]
        self.stages = nn.ModuleList(_stage(c_in, c) for c_in, c in zip([in_channels] + widths[:-1], widths))
        self.head = nn.Linear(widths[-1], max(n_classes, 1))

    @property
    def feature_dim(self) -> int:
        return 12 * self.width

    def _pooled(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if x.shape[1] != self.in_channels:
            raise ValueError(f"FeatureNet expects {self.in_channels} channels, got images of shape {tuple(x.shape)}")
        h = (x - self.shift[:, None, None]) / self.scale[:, None, None]
        pooled = []
        for stage in self.stages:
            h = stage(h)
            pooled.append(h.mean(dim=(2, 3)))
        return pooled[-2], pooled[-1]

    def forward(self, x: Tensor) -> Tensor:
        """Class logits [B, K]."""
        return self.head(self._pooled(x)[1])

    def features(self, x: Tensor) -> Tensor:
        """[B, 12 * width] pooled activations of stages 3 and 4."""
        return torch.cat(self._pooled(x), dim=1)
