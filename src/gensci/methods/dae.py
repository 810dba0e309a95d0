"""Denoising autoencoder: regress the clean target from the noisy input, or restore masked-out entries.

Two kinds of noise (`DAEConfig.noise`) on two kinds of network (`DAEConfig.net`):
- "given": the data set pairs a noisy `input` with its clean `target` (radio traces: conv1d);
- "masking": the data holds records `x` [D] with an `observed` mask [D]; at each step a further
  `mask_rate` of the observed entries is hidden (masking noise, Vincent et al. 2010, "Stacked denoising
  autoencoders", JMLR 11, Sec. 4.2) and the network learns to restore them from the rest (net: mlp).
  The loss is taken on the entries masked out by the noise only (full emphasis on the corrupted
  dimensions, their Sec. 4.3), since no true value of a real gap is ever known; `impute` fills gaps.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field, field_validator, model_validator
from torch import Tensor

from gensci.config import MethodConfig
from gensci.errors import UserError
from gensci.methods.base import Method, Stepper
from gensci.nets.conv1d import ConvDenoiser1d
from gensci.nets.mlp import DenoisingMLP
from gensci.spec import Requirements, TensorSpec


class DAEConfig(MethodConfig):
    name: Literal["dae"] = "dae"
    channels: list[int] = Field([16, 16, 16, 16], description="encoder channels per pooling level; last = bottleneck")
    kernel_size: int = Field(7, ge=1, description="odd convolution kernel size")
    center: bool = Field(True, description="subtract each trace's mean before the net and add it back after")
    skip: bool = Field(True, description="U-Net skips around the bottleneck; false: the book's plain autoencoder")
    loss: Literal["mse", "l1"] = "mse"
    net: Literal["conv1d", "mlp"] = Field("conv1d", description="conv1d: traces [C, L]; mlp: vectors [D]")
    noise: Literal["given", "masking"] = Field("given", description="given: input/target pairs; masking: hide observed entries")
    mask_rate: float = Field(0.25, gt=0, lt=1, description="masking noise: share of the observed entries hidden per step")
    hidden: list[int] = Field([128, 64], description="mlp: encoder widths; last = code; the decoder mirrors them")

    @model_validator(mode="after")
    def _masking_on_vectors(self):
        if self.noise == "masking" and self.net != "mlp":
            raise ValueError("masking noise is implemented for records (net: mlp), not for conv1d traces")
        return self

    @field_validator("channels", "hidden")
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
    """Denoising autoencoder (Vincent et al. 2008).

    noise="given" (traces, as in Erdmann, Schlüter, Šmída, arXiv:1901.04079): minimise mean (f(x̃) - x)²
    (or |·| with loss="l1") between the network's output on the noisy input x̃ = `batch["input"]` [B, C, L]
    (or [B, D] with net="mlp") and the clean batch["target"]; use `denoise(x)`.
    noise="masking" (records x [B, D], observed [B, D] bool): the module docstring; use `impute(x, observed)`.

    It does not generate: `sample` raises.
    """

    Config = DAEConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"denoise"})

    @classmethod
    def requires(cls, config: DAEConfig) -> Requirements:
        shape = ("C", "L") if config.net == "conv1d" else ("D",)
        info = frozenset() if config.net == "conv1d" else frozenset({"n_features"})
        if config.noise == "masking":
            return Requirements({"x": TensorSpec(shape), "observed": TensorSpec(shape, "bool")}, info)
        return Requirements({"input": TensorSpec(shape), "target": TensorSpec(shape)}, info)

    def __init__(self, config: DAEConfig, info: dict[str, Any]):
        super().__init__(config, info)
        if config.net == "mlp":
            self.net = DenoisingMLP(int(info["n_features"]), tuple(config.hidden), mask_input=config.noise == "masking")
        else:
            self.net = ConvDenoiser1d(
                tuple(config.channels), config.kernel_size, in_channels=info.get("channels", 1), center=config.center,
                skip=config.skip,
            )
        if config.noise == "masking":  # this instance fills gaps instead of denoising
            self.capabilities = frozenset({"impute"})

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        fn = F.mse_loss if self.config.loss == "mse" else F.l1_loss
        if self.config.noise == "masking":
            x, observed = batch["x"], batch["observed"]
            dropped = observed & (torch.rand(x.shape, device=x.device) < self.config.mask_rate)
            kept = observed & ~dropped
            pred = self.net(x * kept, kept)
            return fn(pred.float()[dropped], x.float()[dropped]) if dropped.any() else pred.sum() * 0.0
        pred = self.net(batch["input"])
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

    @torch.no_grad()
    def impute(self, x: Tensor, observed: Tensor, batch_size: int = 500) -> Tensor:
        """Records with their gaps filled: x [B, D], observed [B, D] bool -> [B, D]; seen values are kept."""
        if self.config.noise != "masking":
            raise UserError("this autoencoder was trained on given input/target pairs; train with "
                            "method.noise=masking to fill gaps")
        was_training = self.training
        self.eval()
        try:
            out = []
            for xs, ms in zip(x.split(batch_size), observed.split(batch_size)):
                xs, ms = xs.to(self.device), ms.to(self.device)
                out.append(torch.where(ms, xs, self.net(xs * ms, ms)).to(x.device))
        finally:
            self.train(was_training)
        return torch.cat(out) if out else x.clone()
