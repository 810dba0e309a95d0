"""What the diffusion methods on grids share: the U-Net's config fields, its construction, the batch keys a
condition needs and the conditions a sampler is given.

Two methods use it: `diffusion` (gensci.methods.field_diffusion, Gaussian noise on values) and `lattice-diffusion`
(gensci.methods.lattice_diffusion, categorical noise on the states of a lattice). Condition (`method.condition`):
"none"; "class" (an int64 batch key, default "label", classes from info["n_classes"]); "value" (a float batch key
with condition_dim values per item, e.g. a temperature). A conditional model drops the condition with probability
condition_dropout during training and samples with classifier-free guidance (`guidance`: 0 unconditional,
1 conditional, > 1 guided; Ho & Salimans 2022).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import torch
from pydantic import Field, model_validator
from torch import Tensor

from gensci.config import MethodConfig
from gensci.errors import ConfigError, UserError
from gensci.methods.base import Method, SamplingOptions
from gensci.methods.diffusion.guidance import guided_eps
from gensci.nets.unet import UNet
from gensci.ops.grid_symmetries import random_dihedral, random_shift
from gensci.spec import Requirements, TensorSpec


class GridNetConfig(MethodConfig):
    """The U-Net and its condition. Defaults: DDPM's CIFAR-10 U-Net at width 64 (Ho et al. 2020, appendix B:
    2 residual blocks per stage, attention at 16x16, dropout 0.1)."""

    width: int = Field(64, ge=1, description="U-Net channels at full resolution (DDPM: 128)")
    channel_mults: tuple[int, ...] = Field((1, 2, 2, 2), description="one U-Net stage per entry, side halved between")
    n_res_blocks: int = Field(2, ge=1)
    attention_resolutions: tuple[int, ...] = Field((16,), description="sides with self-attention (DDPM: 16)")
    dropout: float = Field(0.1, ge=0, lt=1)
    condition: Literal["none", "class", "value"] = "none"
    condition_key: str | None = Field(None, description="batch key of the condition (default: label for class)")
    condition_dim: int = Field(1, ge=1, description="values per item for condition=value")
    condition_dropout: float = Field(0.1, ge=0, le=1, description="p_uncond of Ho & Salimans 2022 (they use 0.1-0.2)")
    guidance: float = Field(1.0, description="default guidance scale: 0 unconditional, 1 conditional, > 1 guided")
    self_condition: bool = Field(False, description="feed the network its previous clean-data estimate (Chen et al. "
                                 "2022, Analog Bits): refines discrete data such as spins")
    padding: Literal["zeros", "circular"] = Field("zeros", description="the U-Net's convolutions at the edges; "
                                                  "circular for periodic data (Ising lattices, FFT-simulated maps)")
    symmetries: tuple[Literal["square", "shift", "states"], ...] = Field(
        (), description="augment training batches with symmetries the data's distribution has: square (the 8 turns "
        "and mirrors), shift (cyclic shifts: periodic grids), states (lattice-diffusion: relabel the site states, "
        "e.g. the Ising spin flip)")

    @model_validator(mode="after")
    def _key(self) -> "GridNetConfig":
        if self.condition == "value" and not self.condition_key:
            raise ConfigError("method.condition=value needs method.condition_key (the batch key of the values)")
        return self

    @property
    def key(self) -> str | None:
        return None if self.condition == "none" else self.condition_key or "label"


def grid_shape(info: dict[str, Any]) -> tuple[int, int, int]:
    """(C, S, S) of the data set's grids."""
    return int(info["channels"]), int(info["image_size"]), int(info["image_size"])


def grid_unet(config: GridNetConfig, info: dict[str, Any], in_channels: int, out_channels: int) -> UNet:
    """The U-Net of `config` for the data set's side and condition."""
    return UNet(in_channels, out_channels, config.width, tuple(config.channel_mults), config.n_res_blocks,
                tuple(config.attention_resolutions), int(info["image_size"]), config.dropout,
                n_classes=int(info["n_classes"]) if config.condition == "class" else 0,
                condition_dim=config.condition_dim if config.condition == "value" else 0,
                periodic=config.padding == "circular")


def augmented(config: GridNetConfig, x: Tensor) -> Tensor:
    """A training batch x [B, C, S, S] under the config's random grid symmetries (states are the method's own)."""
    if "square" in config.symmetries:
        x = random_dihedral(x)
    if "shift" in config.symmetries:
        x = random_shift(x)
    return x


def training_condition(config: GridNetConfig, batch: dict[str, Tensor], device) -> tuple[Tensor | None, Tensor | None]:
    """(condition, drop) of a training batch: drop [B] marks the items trained unconditionally (None, None when the
    model is unconditional)."""
    if config.key is None:
        return None, None
    condition = batch[config.key].to(device)
    return condition, torch.rand(len(condition), device=device) < config.condition_dropout


def self_condition_estimate(config: GridNetConfig, estimate: Callable[[], Tensor]) -> Tensor | None:
    """The previous estimate a self-conditioned model trains with: its own, without gradients, on half the
    training batches (Chen et al. 2022, Analog Bits, Fig. 2), else None (zeros)."""
    if not config.self_condition or torch.rand(()) >= 0.5:
        return None
    with torch.no_grad():
        return estimate()


def guided(run, z: Tensor, condition: Tensor | None, guidance: float) -> Tensor:
    """Classifier-free guidance of run(z, condition, drop) -> output (eps, or logits: any output guidance mixes
    linearly): uncond + guidance (cond - uncond), in one batch of 2B; the conditional output alone at guidance 1 or
    without a condition."""
    if condition is None or guidance == 1:
        return run(z, condition, None)
    drop = torch.arange(2 * len(z), device=z.device) >= len(z)  # first half conditional, second not
    cond, uncond = run(torch.cat([z, z]), torch.cat([condition, condition]), drop).chunk(2)
    return guided_eps(cond, uncond, guidance)


class GridMethod(Method):
    """What the grid diffusion methods do alike: x [B, C, S, S] with a declared value range and an optional
    condition; samples {"x": [n, C, S, S]}; conditions and guidance checked the same way."""

    default_sample_batch = 64

    @classmethod
    def requires(cls, config: GridNetConfig) -> Requirements:
        items = {"x": TensorSpec(("C", "S", "S"))}
        info = {"channels", "image_size"}
        if config.condition == "class":
            items[config.key] = TensorSpec((), "int")
            info.add("n_classes")
        elif config.condition == "value":
            items[config.key] = TensorSpec(() if config.condition_dim == 1 else (config.condition_dim,))
        return Requirements(items, frozenset(info), ranges=frozenset({"x"}))

    @classmethod
    def sample_spec(cls, config: GridNetConfig, info: dict[str, Any]) -> dict[str, TensorSpec]:
        return {"x": TensorSpec(grid_shape(info))}

    def __init__(self, config: GridNetConfig, info: dict[str, Any]):
        super().__init__(config, info)
        if config.condition == "class":
            self.capabilities = self.capabilities | {"conditional"}
        self.shape = grid_shape(info)

    def _guidance(self, options: SamplingOptions) -> float:
        return self.config.guidance if options.guidance is None else float(options.guidance)

    def _conditions(self, condition, n: int) -> Tensor | None:
        """The condition of n samples: one for all or one per sample, checked (class indices in range)."""
        if condition is None:
            return None
        config = self.config
        if config.key is None:
            raise UserError(f"this {config.name} model is unconditional; sample it without a condition")
        c = torch.as_tensor(condition, device=self.device)
        if config.condition == "class":
            k = int(self.info["n_classes"])
            if c.is_floating_point() or (c < 0).any() or (c >= k).any():
                raise UserError(f"class condition must be integers in 0..{k - 1}, got {c.flatten()[:4].tolist()}")
            return c.long().expand(n) if c.dim() == 0 else c.long()
        c = c.float().reshape(-1, config.condition_dim) if c.dim() > 0 else c.float().reshape(1, 1)
        return c.expand(n, -1) if len(c) == 1 else c
