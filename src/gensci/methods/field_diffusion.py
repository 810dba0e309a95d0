"""Diffusion on grids [B, C, H, W] (images, fields, lattices) with a U-Net: DDPM and its relatives.

Ho, Jain & Abbeel 2020, "Denoising Diffusion Probabilistic Models" (the objective, Algorithm 1, and the U-Net,
gensci.nets.unet). A variance-preserving forward process z_t = alpha_t x + sigma_t eps on the data scaled to
the model's units (below); the network predicts the parametrisation `method.parametrisation`:
    "eps" (Ho et al. 2020, eq. 14), "x0" (the clean data), "v" = alpha_t eps - sigma_t x (Salimans & Ho 2022),
trained by the mean squared error to its target at t uniform on the grid 0..T. Schedules, parametrisation
conversions, samplers (ancestral, DDIM with eta, Langevin predictor-corrector; `method.sampler`, `--sampler`,
`--steps`), classifier-free guidance and posterior sampling (DPS) all come from the diffusion toolkit
(gensci.methods.diffusion); this file only wires them to the U-Net and the data.

The model's units follow the data set's declared value range (`info["value_ranges"]["x"]`, gensci.ops.ranges):
bounded ranges ([0, 1] images) and two-valued ones (spins +-1) are mapped linearly onto [-1, 1] (DDPM's
scaling); unbounded or one-sided ranges (fields) are standardised per channel, with info["pixel_mean"] and
info["pixel_std"] when the data set provides both, else with the first training batch's mean and std (kept with
the weights). Samples are mapped back; two-valued data are read off as the nearer value. While sampling, the
network's clean-data estimate at each step is clamped to the data's range (`clip_denoised`, as improved-diffusion:
[-1, 1] for bounded data, info["pixel_min"]..info["pixel_max"] for fields that give them); without it an eps-model
near t = T, where alpha_T ~ 5e-5, blows samples up by orders of magnitude. The samples themselves are not clipped.

Fields with a floor (`method.transform: log`): the model diffuses log(x - floor), standardised by the first training
batch, and maps samples back by exp; they never go below the floor. A shifted lognormal field (gensci.data.lensing,
whose info["pixel_floor"] is minus the lognormal shift) is then a Gaussian one. DPS inpainting measures the observed
pixels in log space with the stated noise carried through the slope of log (sigma_y / (x - floor) per pixel: the
delta method); super-resolution, whose block means do not commute with log, needs transform=none.

Self-conditioning (`method.self_condition`, Chen, Zhang & Hinton 2022, "Analog Bits", sec. 3.2 and Fig. 2): the
network also sees its own previous clean-data estimate, concatenated to z_t as extra channels (zeros when there is
none). Training makes the estimate without gradients on half the batches (the paper's coin flip per batch) and
feeds zeros on the others; sampling feeds each step the estimate of the step before. For discrete data (spins) it
lets each step refine the previous decision instead of making it again from z_t; it costs an extra forward pass
on half the training batches and nothing per sampling step beyond the wider first convolution.

The U-Net, its condition (class or value, classifier-free guidance: `guidance` 0 unconditional, 1 conditional,
> 1 guided; SamplingOptions.guidance overrides it) and these config fields are shared with lattice-diffusion:
gensci.methods.grid_net. Without a condition a conditional model samples unconditionally.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
from pydantic import Field, field_validator
from torch import Tensor

from gensci.errors import ConfigError, UserError
from gensci.methods.base import SamplingOptions
from gensci.methods.diffusion.config import DiffusionConfig
from gensci.methods.diffusion.guidance import Downsample, Mask, posterior_eps_model
from gensci.methods.diffusion.parametrisations import check_parametrisation, clip_denoised, convert
from gensci.methods.diffusion.samplers import check_sampler, final_step, get_sampler, time_grid
from gensci.methods.diffusion.schedules import alpha, gamma_table, sigma
from gensci.methods.grid_net import (GridMethod, GridNetConfig, augmented, grid_unet, guided, self_condition_estimate,
                                     training_condition)
from gensci.ops.random import sample_normal
from gensci.ops.ranges import ValueMap


class FieldDiffusionConfig(DiffusionConfig, GridNetConfig):
    """Defaults: DDPM's CIFAR-10 U-Net at width 64 (gensci.methods.grid_net) with the cosine schedule of Nichol &
    Dhariwal (2021)."""

    name: Literal["field-diffusion"] = "field-diffusion"
    parametrisation: str = Field("eps", description="what the network predicts: eps, x0 or v")
    measurement_noise: float = Field(0.01, ge=0, description="posterior sampling: sigma_y in the data's units")
    clip_denoised: bool = Field(True, description="clamp the clean-data estimate to the data's range while sampling")
    transform: Literal["none", "log"] = Field("none", description="log: diffuse log(x - floor), standardised; for "
                                              "fields with a floor such as lognormal maps (module docstring)")
    log_floor: float | None = Field(None, description="the floor of transform=log in the data's units (default: "
                                    "info['pixel_floor'], else the value range's low)")

    @field_validator("parametrisation")
    @classmethod
    def _trainable(cls, name: str) -> str:
        if name not in ("eps", "x0", "v"):
            check_parametrisation(name)
            raise ConfigError(f"parametrisation {name!r} cannot be trained here; choices: eps, x0, v")
        return name

    @field_validator("symmetries")
    @classmethod
    def _grid_symmetries(cls, symmetries: tuple[str, ...]) -> tuple[str, ...]:
        if "states" in symmetries:
            raise ConfigError("method.symmetries 'states' relabels discrete site states: method lattice-diffusion only")
        return symmetries


class FieldDiffusion(GridMethod):
    """DDPM-style diffusion on x [B, C, S, S]; see the module docstring. Samples: {"x": [n, C, S, S]}."""

    Config = FieldDiffusionConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"sample", "inpaint", "super_resolve"})
    sampling_options = frozenset({"steps", "sampler", "guidance"})

    def __init__(self, config: FieldDiffusionConfig, info: dict[str, Any]):
        super().__init__(config, info)
        self.value_map = ValueMap.from_info(info, "x")
        inputs = self.shape[0] * (2 if config.self_condition else 1)  # z_t, and the previous estimate
        self.net = grid_unet(config, info, inputs, self.shape[0])
        self.register_buffer("gamma", gamma_table(config.noise_schedule, config.timesteps, config.noise_precision),
                             persistent=False)
        # standardisation of unbounded values (model = (x - shift) / scale); `fitted` says whether it is set
        c = self.shape[0]
        self.floor = self._log_floor() if config.transform == "log" else None  # [C] data units, or None
        mean, std = info.get("pixel_mean"), info.get("pixel_std")  # of x, not of log(x - floor)
        known = not self.value_map.bounded and self.floor is None and mean is not None and std is not None
        self.register_buffer("shift", torch.tensor(mean, dtype=torch.float32).reshape(c) if known else torch.zeros(c))
        self.register_buffer("scale", torch.tensor(std, dtype=torch.float32).reshape(c) if known else torch.ones(c))
        self.register_buffer("fitted", torch.tensor(self.value_map.bounded or known))

    # ---- units ------------------------------------------------------------------------------------
    def _log_floor(self) -> list[float]:
        """transform=log's floor per channel: method.log_floor, info["pixel_floor"] or the value range's low."""
        c = self.shape[0]
        if self.config.log_floor is not None:
            return [float(self.config.log_floor)] * c
        if self.info.get("pixel_floor") is not None:
            return [float(v) for v in self.info["pixel_floor"]]
        if self.value_map.kind == "lower":
            return [self.value_map.low] * c
        raise ConfigError("method.transform=log needs a floor below every value and this data set declares none (no "
                          "info['pixel_floor'], no value range with a low end only; lensing maps with shape noise "
                          "have none): set method.log_floor, or method.transform=none")

    def _floor(self, like: Tensor) -> Tensor:
        return torch.tensor(self.floor, dtype=like.dtype, device=like.device).view(1, -1, 1, 1)

    def _log(self, x: Tensor) -> Tensor:
        """log(x - floor); values at or below the floor are an error (the floor is a promise of the data)."""
        d = x - self._floor(x)
        if not bool((d > 0).all()):
            raise UserError(f"a value {float(x.min()):.4g} is at or below the floor {min(self.floor):.4g} of "
                            "method.transform=log; training maps and observed pixels must lie above it (train with "
                            "method.log_floor lower, or method.transform=none)")
        return d.log()

    def to_model(self, x: Tensor) -> Tensor:
        """Data values [B, C, H, W] -> the model's units ([-1, 1] for bounded data, standardised otherwise, after
        log(x - floor) with transform=log)."""
        if self.value_map.bounded:
            return self.value_map.signed(x)
        if self.floor is not None:
            x = self._log(x)
        return (x - self.shift.view(1, -1, 1, 1)) / self.scale.view(1, -1, 1, 1)

    def from_model(self, z: Tensor) -> Tensor:
        """The inverse of to_model; two-valued data are snapped to the nearer declared value."""
        if self.value_map.kind == "binary":
            return self.value_map.from_signed(torch.where(z >= 0, 1.0, -1.0).to(z.dtype))
        if self.value_map.bounded:
            return self.value_map.from_signed(z)
        x = z * self.scale.view(1, -1, 1, 1) + self.shift.view(1, -1, 1, 1)
        return x if self.floor is None else x.exp() + self._floor(x)

    def units_per_data_unit(self, x: Tensor | None = None) -> Tensor:
        """How long one data unit is in the model's units at the data values x [B, C, H, W]: per channel
        [1, C, 1, 1], or per pixel with transform=log (the slope of log there: 1 / (x - floor), x needed)."""
        if self.value_map.bounded:
            return torch.full((1, self.shape[0], 1, 1), 2.0 / (self.value_map.high - self.value_map.low), device=self.device)
        per_channel = (1.0 / self.scale).view(1, -1, 1, 1)
        if self.floor is None:
            return per_channel
        if x is None:
            raise ValueError("with method.transform=log the slope depends on the value: pass the data values x")
        return per_channel / (x.to(self.device) - self._floor(x).to(self.device))

    def denoised_range(self) -> tuple[Tensor, Tensor] | None:
        """The data's range in the model's units [1, C, 1, 1] each (None: unknown, no clamping)."""
        if self.value_map.bounded:
            return -torch.ones(1, device=self.device), torch.ones(1, device=self.device)
        low, high = self.info.get("pixel_min"), self.info.get("pixel_max")
        if low is None or high is None:
            return None
        bounds = torch.tensor([low, high], dtype=torch.float32, device=self.device).reshape(2, self.shape[0], 1, 1)
        low_model, high_model = self.to_model(bounds)
        return low_model[None], high_model[None]

    def clamp_bounds(self) -> tuple[Tensor, Tensor] | None:
        """The range the clean-data estimate is clamped to (None: method.clip_denoised is off or the range unknown)."""
        return self.denoised_range() if self.config.clip_denoised else None

    @torch.no_grad()
    def _fit_standardisation(self, x: Tensor) -> None:
        """shift and scale from the first training batch (in log space with transform=log)."""
        x = x if self.floor is None else self._log(x)
        self.shift.copy_(x.mean(dim=(0, 2, 3)))
        self.scale.copy_(x.std(dim=(0, 2, 3)).clamp_min(1e-6))
        self.fitted.fill_(True)

    # ---- the network ------------------------------------------------------------------------------
    def predict(self, z: Tensor, t: Tensor, condition: Tensor | None = None, drop: Tensor | None = None,
                previous: Tensor | None = None) -> Tensor:
        """The network's output [B, C, H, W] (of kind `parametrisation`) at z_t, t [B] ints in 0..T; `previous`:
        the clean-data estimate a self-conditioned model refines (None: zeros, i.e. none)."""
        if self.config.self_condition:
            z = torch.cat([z, torch.zeros_like(z) if previous is None else previous], 1)
        return self.net(z, t.to(z.dtype) / self.config.timesteps, condition, drop)

    def clean_estimate(self, out: Tensor, z: Tensor, a: Tensor, s: Tensor, bounds) -> tuple[Tensor, Tensor]:
        """(eps, x0) from the network's output at z_t, x0 clamped to `bounds` (None: not clamped)."""
        eps = convert(out, self.config.parametrisation, "eps", z, a, s)
        if bounds is not None:
            eps = clip_denoised(eps, z, a, s, *bounds)
        return eps, (z - s * eps) / a

    def eps_model(self, condition: Tensor | None, guidance: float):
        """model(z_t, t) -> eps_hat for the samplers, with classifier-free guidance when conditional."""
        bounds = self.clamp_bounds()
        previous: list[Tensor | None] = [None]  # a self-conditioned model's last estimate (both halves when guided)

        def eps_at(z: Tensor, t: int, condition: Tensor | None, drop: Tensor | None = None) -> Tensor:
            g = self.gamma[t]
            out = self.predict(z, torch.full((len(z),), t, device=z.device), condition, drop, previous[0])
            eps, x0 = self.clean_estimate(out, z, alpha(g).to(z.dtype), sigma(g).to(z.dtype), bounds)
            if self.config.self_condition:
                previous[0] = x0.detach()
            return eps

        def model(z: Tensor, t: int) -> Tensor:
            return guided(lambda z, c, drop: eps_at(z, t, c, drop), z, condition, guidance)

        return model

    # ---- training ---------------------------------------------------------------------------------
    def train_step(self, batch: dict[str, Tensor], step: int, opt) -> dict[str, float]:
        x = augmented(self.config, batch["x"].to(self.gamma.device, torch.float32))
        if not bool(self.fitted):
            self._fit_standardisation(x)
        x = self.to_model(x)
        b, device = len(x), x.device
        t = torch.randint(0, self.config.timesteps + 1, (b,), device=device)
        g = self.gamma[t].to(x.dtype).view(-1, 1, 1, 1)
        a, s = alpha(g), sigma(g)
        eps = torch.randn_like(x)
        z = a * x + s * eps
        condition, drop = training_condition(self.config, batch, device)
        previous = self_condition_estimate(
            self.config, lambda: self.clean_estimate(self.predict(z, t, condition, drop), z, a, s, self.clamp_bounds())[1])
        target = {"eps": eps, "x0": x, "v": a * eps - s * x}[self.config.parametrisation]
        loss = (self.predict(z, t, condition, drop, previous) - target).square().mean()
        opt.step(loss, "main")
        return {"loss": float(loss.detach())}

    # ---- sampling ---------------------------------------------------------------------------------
    def _sampler(self, options: SamplingOptions) -> str:
        return check_sampler(options.sampler or self.config.sampler)

    def describe_sampling(self, options: SamplingOptions) -> dict[str, Any]:
        name = self._sampler(options)
        out = {"sampling_steps": self.steps(options) or self.config.timesteps, "sampler": name}
        if self.config.sampler_options.get(name):
            out["sampler_options"] = self.config.sampler_options[name]
        if self.config.key is not None:
            out["guidance"] = self._guidance(options)
        return out

    def _run_sampler(self, model, n: int, generator, options: SamplingOptions) -> Tensor:
        name = self._sampler(options)
        shape = (n, *self.shape)
        noise = lambda: sample_normal(shape, generator, self.device)  # noqa: E731
        z = get_sampler(name)(model, noise(), time_grid(self.config.timesteps, self.steps(options)), self.gamma, noise,
                              **self.config.sampler_options.get(name, {}))
        x = final_step(model, z, self.gamma)  # the mean of p(x | z_0): DDPM's noiseless last step
        if not torch.isfinite(x).all():
            raise FloatingPointError("sampling produced non-finite values (diverged); check the checkpoint")
        return x

    @torch.no_grad()
    def sample_batch(self, n: int, condition, generator: torch.Generator | None,
                     options: SamplingOptions) -> dict[str, Tensor]:
        """n samples {"x": [n, C, S, S]} in the data's units: `self.steps(options)` steps (None: all T) of the chosen
        sampler, then the final step; guided by `guidance` when a condition is given."""
        model = self.eps_model(self._conditions(condition, n), self._guidance(options))
        return {"x": self.from_model(self._run_sampler(model, n, generator, options))}

    # ---- posterior sampling (DPS) -----------------------------------------------------------------
    @torch.no_grad()
    def inpaint(self, observed: Tensor, mask: Tensor, n: int = 1, noise_std: float | None = None,
                generator: torch.Generator | None = None, options: SamplingOptions | None = None,
                condition=None) -> Tensor:
        """n posterior samples per image [B, n, C, S, S] given its pixels where mask [B or 1, C or 1, S, S] is 1
        (observed: [B, C, S, S] in the data's units, anything at hidden pixels), measured with Gaussian noise of
        std noise_std (data units; default method.measurement_noise). DPS (gensci.methods.diffusion.guidance)."""
        mask = mask.to(self.device, torch.float32).expand_as(observed)
        typical = self.from_model(torch.zeros_like(mask))  # hidden pixels are filled with it: log needs values
        observed = torch.where(mask > 0, observed.to(self.device, torch.float32), typical)
        y = self.to_model(observed) * mask
        units = self.units_per_data_unit(observed)  # per pixel with transform=log: the slope at the observed value
        return self._posterior(y, mask, lambda m: Mask(m), n, noise_std, generator, options, condition, units)

    @torch.no_grad()
    def super_resolve(self, low: Tensor, n: int = 1, noise_std: float | None = None,
                      generator: torch.Generator | None = None, options: SamplingOptions | None = None,
                      condition=None) -> Tensor:
        """n posterior samples per image [B, n, C, S, S] whose f x f block means are low [B, C, S/f, S/f]
        (data units, measured with noise std noise_std). DPS with an average-pooling operator."""
        if self.floor is not None:
            raise ConfigError("super-resolution needs a linear map to the model's units: block means of x are not block "
                              "means of log(x - floor); use a model trained with method.transform=none")
        factor = self.shape[-1] // low.shape[-1]
        if factor < 1 or low.shape[-1] * factor != self.shape[-1] or low.shape[-2] * factor != self.shape[-2]:
            raise UserError(f"low-resolution images of side {tuple(low.shape[-2:])} do not divide the model's "
                            f"{self.shape[-1]}x{self.shape[-1]}")
        y = self.to_model(low.to(self.device, torch.float32))
        return self._posterior(y, None, lambda _: Downsample(factor), n, noise_std, generator, options, condition,
                               self.units_per_data_unit())

    def _posterior(self, y: Tensor, per_item, operator, n: int, noise_std, generator, options, condition,
                   units: Tensor) -> Tensor:
        """DPS for y (model units); units: model units per data unit, [1 or B, C, 1 or H, 1 or W]."""
        options = options or SamplingOptions()
        self.check_sampling_options(options)
        noise_std = self.config.measurement_noise if noise_std is None else float(noise_std)
        sigma_y = (noise_std * units).expand(len(y), *units.shape[1:])
        size = max(1, (options.batch_size or self.default_sample_batch) // n) if n else 1
        out = []
        for start in range(0, len(y), size):
            y_b = y[start : start + size].repeat_interleave(n, 0)
            op = operator(None if per_item is None else per_item[start : start + size].repeat_interleave(n, 0))
            cond = self._conditions(condition, len(y_b))
            model = posterior_eps_model(self.eps_model(cond, self._guidance(options)), self.gamma, op, y_b,
                                        sigma_y[start : start + size].repeat_interleave(n, 0))
            out.append(self.from_model(self._run_sampler(model, len(y_b), generator, options)))
        return torch.cat(out).reshape(len(y), n, *self.shape)
