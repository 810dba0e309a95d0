"""Denoising autoencoder: regress the clean target from the noisy input."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field, field_validator
from torch import Tensor

from gensci.config import MethodConfig
from gensci.methods.base import Method, Stepper
from gensci.nets.conv1d import ConvDenoiser1d
from gensci.spec import Requirements, TensorSpec


class DAEConfig(MethodConfig):
    name: Literal["dae"] = "dae"
    channels: list[int] = Field([16, 16, 16, 16], description="encoder channels per pooling level; last = bottleneck")
    kernel_size: int = Field(7, ge=1, description="odd convolution kernel size")
    center: bool = Field(True, description="subtract each trace's mean before the net and add it back after")
    skip: bool = Field(True, description="U-Net skips around the bottleneck; false: the book's plain autoencoder")
    loss: Literal["mse", "l1"] = "mse"

    @field_validator("channels")
    @classmethod
    def _positive(cls, v: list[int]) -> list[int]:
        if not v or min(v) < 1:
            raise ValueError(f"channels must be a non-empty list of positive ints, got {v}")
        return v

    @field_validator("kernel_size")
    @classmethod
    def _odd(cls, v: int) -> int:
        if v % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {v}")
        return v


class DAE(Method):
    """Denoising autoencoder (Vincent et al. 2008) for traces, as in Erdmann, Schlüter, Šmída,
    arXiv:1901.04079: minimise mean (f(x̃) - x)² (or |·| with loss="l1") between the network's
    output on the noisy input x̃ = batch["input"] [B, 1, L] and the clean batch["target"] [B, 1, L].

    It does not generate: use `denoise(x)`; `sample` raises.
    """

    Config = DAEConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"denoise"})

    @classmethod
    def requires(cls, config: DAEConfig) -> Requirements:
        trace = TensorSpec(("C", "L"))
        return Requirements({"input": trace, "target": trace})

    def __init__(self, config: DAEConfig, info: dict[str, Any]):
        super().__init__(config, info)
        self.net = ConvDenoiser1d(
            tuple(config.channels), config.kernel_size, in_channels=info.get("channels", 1), center=config.center,
            skip=config.skip,
        )

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        pred = self.net(batch["input"])
        fn = F.mse_loss if self.config.loss == "mse" else F.l1_loss
        return fn(pred.float(), batch["target"].float())

    def train_step(self, batch: dict[str, Tensor], step: int, opt: Stepper) -> dict[str, float]:
        return {"loss": opt.step(self.loss(batch), "main")}

    @torch.no_grad()
    def denoise(self, x: Tensor, batch_size: int = 500) -> Tensor:
        """Denoised traces: x [B, 1, L] (scaled like the training inputs) -> [B, 1, L], on x's device."""
        was_training = self.training
        self.eval()
        try:
            out = [self.net(chunk.to(self.device)).to(x.device) for chunk in x.split(batch_size)]
        finally:
            self.train(was_training)
        return torch.cat(out) if out else x.new_zeros(x.shape)
