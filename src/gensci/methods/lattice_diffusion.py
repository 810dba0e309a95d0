"""Discrete diffusion on lattices: each site's state (an Ising spin, a Potts colour) is noised by categorical
transitions and the U-Net predicts the clean states.

Austin, Johnson, Ho, Tarlow & van den Berg 2021, "Structured Denoising Diffusion Models in Discrete State-Spaces"
(D3PM), with uniform transitions Q_t = a_t I + (1 - a_t) 1 1^T / K (sec. 3.1, "uniform"; the marginal-transition
algebra, posteriors and strided sampling are gensci.methods.diffusion.discrete, shared with DiGress and MiDi) on the
cosine schedule abar(t) = cos^2(pi/2 (t^nu + s) / (1 + s)) (nu = 1: Austin et al.'s cosine; nu is MiDi's adaptive
exponent). Uniform transitions make the prior (every site uniform over the K states) and each step symmetric under
permutations of the states, so a model of an Ising lattice has no built-in preference for either magnetisation.
The network sees x_t one-hot (C x K channels) and t, predicts p(x_0 | x_t) per site (C x K logits) and is trained by
cross-entropy against x_0 at t uniform on 1..T (DiGress's x_0-parametrisation and loss, Vignac et al. 2023, sec. 3).
Sampling: from the prior, ancestral steps through p(x_s | x_t) = sum_c p(x_0 = c | x_t) q(x_s | x_t, x_0 = c) on an
evenly strided grid of `steps` (exact for any s < t); the last step draws x_0 itself.

The site skip (`method.site_skip`, on by default): the logits are the network's output plus log q(x_t | x_0 = c) per
site, the log-posterior of a site seen alone under a uniform prior. The network learns only what the neighbours add.
Without it the network must itself output near-certain logits at low noise, where most sites are simply clean; a
plain U-Net trained for an hour on Ising lattices stayed under-confident there (p(x_0 | x_t) ~ 0.97 for sites that
are clean with probability ~0.999), and every low-noise sampling step flipped spins at that rate: lattices at
T = 1.6 noised to abar = 0.999 and denoised came back with twice the data's broken bonds. The same idea as the skip
connection of a continuous denoiser's preconditioning (Karras et al. 2022, c_skip).

Training times (`method.time_alpha`): t = ceil(T u) with u ~ Beta(time_alpha, 1); 1, the default, is DiGress's
uniform t. Below 1 the low-noise steps are trained more often (time_alpha = 0.5: t <= T/4 a half of the time, not a
quarter). Their cross-entropy is small, since few sites are noised, so they carry little of a uniform loss's
gradient; yet on Ising lattices above T_c the network's errors at t <= 0.6 T are what leave the sampled lattices
too disordered (the exact denoiser swapped in above a switch time: benchmarks/lattices/ising_optimal_denoiser.py --switch).
Trained with time_alpha = 0.5 the network left them as disordered as before (benchmarks/lattices/README.md).

Why it exists beside `diffusion` (Gaussian noise on +-1 values): a continuous model of spins is read off by the
sign of its last clean estimate, which is not a calibrated probability per site; on Ising lattices its fluctuations
(specific heat, susceptibility) came out too small away from T_c (benchmarks/lattices/README.md). Here every step
draws each site from a probability the network was trained, by cross-entropy, to calibrate.

The U-Net, its condition (class or value, classifier-free guidance on the logits) and self-conditioning (the
previous step's p(x_0 | x_t) as C x K more input channels, Chen et al. 2022) come from gensci.methods.grid_net.
Data: x [B, C, S, S] whose value range declares a discrete set of values (`info["value_ranges"]["x"]["values"]`, e.g.
(-1, 1) for spins); a site's state is the index of its value in that sorted set. Samples: {"x": [n, C, S, S]} values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

from gensci.errors import ConfigError
from gensci.methods.base import SamplingOptions, StepsConfig
from gensci.methods.diffusion import discrete, flow
from gensci.methods.diffusion.samplers import time_grid
from gensci.methods.grid_net import (GridMethod, GridNetConfig, augmented, grid_unet, guided, self_condition_estimate,
                                     training_condition)
from gensci.ops.grid_symmetries import random_state_permutation


class LatticeDiffusionConfig(GridNetConfig, StepsConfig):
    """Defaults: DiGress's T = 500 (configs/model/discrete.yaml) and cosine schedule, the U-Net of grid_net."""

    name: Literal["lattice-diffusion"] = "lattice-diffusion"
    timesteps: int = Field(500, ge=1, description="T: the trained steps t = 1..T")
    schedule_nu: float = Field(1.0, gt=0, description="abar(t) = cos^2(pi/2 (t^nu + s) / (1 + s)): nu < 1 spends "
                               "more of the steps near pure noise, where a lattice's global order is decided")
    site_skip: bool = Field(True, description="add log q(x_t | x_0 = c) to the logits: the network learns the "
                            "correction to what each site alone says about its clean state (module docstring)")
    time_alpha: float = Field(1.0, gt=0, le=1, description="training times t = ceil(T u), u ~ Beta(time_alpha, 1): 1 "
                              "is uniform on 1..T; below 1 trains more often at low noise (module docstring)")


def state_values(info: dict[str, Any]) -> list[float]:
    """The sorted values a site takes (`info["value_ranges"]["x"]["values"]`); a ConfigError without a discrete set."""
    values = ((info.get("value_ranges") or {}).get("x") or {}).get("values")
    if not values or len(set(values)) < 2:
        raise ConfigError("lattice-diffusion needs data whose sites take a declared set of values (value range of x "
                          "with 'values', e.g. Ising spins -1, 1); for continuous grids use method diffusion")
    return sorted({float(v) for v in values})


class LatticeDiffusion(GridMethod):
    """Categorical diffusion of x [B, C, S, S] over a discrete value set; see the module docstring."""

    Config = LatticeDiffusionConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"sample"})
    sampling_options = frozenset({"steps", "guidance"})

    def __init__(self, config: LatticeDiffusionConfig, info: dict[str, Any]):
        super().__init__(config, info)
        self.k = len(state_values(info))
        per_site = self.shape[0] * self.k  # one-hot states, and p(x_0) per site when self-conditioned
        self.net = grid_unet(config, info, per_site * (2 if config.self_condition else 1), per_site)
        self.register_buffer("values", torch.tensor(state_values(info)), persistent=False)
        self.register_buffer("uniform", torch.full((self.k,), 1.0 / self.k), persistent=False)
        self.register_buffer("abar", discrete.cosine_alpha_bar(config.timesteps, config.schedule_nu).float(),
                             persistent=False)

    # ---- states -----------------------------------------------------------------------------------
    def to_states(self, x: Tensor) -> Tensor:
        """Values [B, C, S, S] -> state indices [B, C, S, S] (the nearest declared value)."""
        return (x.to(self.values.device, torch.float32)[..., None] - self.values).abs().argmin(-1)

    def _channels(self, per_site: Tensor) -> Tensor:
        """[B, C, S, S, K] -> [B, C K, S, S]."""
        b, c, h, w, k = per_site.shape
        return per_site.permute(0, 1, 4, 2, 3).reshape(b, c * k, h, w)

    def logits(self, xt: Tensor, t: int | Tensor, condition: Tensor | None = None, drop: Tensor | None = None,
               previous: Tensor | None = None) -> Tensor:
        """The network's logits of p(x_0 | x_t) [B, C, S, S, K] at states xt [B, C, S, S] and t (int or [B]);
        `previous`: the self-conditioned model's last p(x_0 | x_t) [B, C, S, S, K] (None: zeros)."""
        one_hot = F.one_hot(xt, self.k).float()
        h = self._channels(one_hot)
        if self.config.self_condition:
            h = torch.cat([h, torch.zeros_like(h) if previous is None else self._channels(previous)], 1)
        t = torch.as_tensor(t, device=h.device).expand(len(h))
        out = self.net(h, t.float() / self.config.timesteps, condition, drop)
        b, _, height, width = out.shape
        logits = out.reshape(b, self.shape[0], self.k, height, width).permute(0, 1, 3, 4, 2)
        if self.config.site_skip:
            logits = logits + discrete.q_probs(one_hot, self.abar[t].view(-1, 1, 1, 1), self.uniform).log()
        return logits

    # ---- training ---------------------------------------------------------------------------------
    def training_times(self, n: int, device) -> Tensor:
        """[n] times in 1..T: uniform (time_alpha = 1), else ceil(T u) with u ~ Beta(time_alpha, 1)."""
        if self.config.time_alpha == 1:
            return torch.randint(1, self.config.timesteps + 1, (n,), device=device)
        u = flow.sample_time(n, self.config.time_alpha, 1.0, device)
        return (u * self.config.timesteps).ceil().long().clamp(1, self.config.timesteps)

    def train_step(self, batch: dict[str, Tensor], step: int, opt) -> dict[str, float]:
        x0 = self.to_states(augmented(self.config, batch["x"]))
        if "states" in self.config.symmetries:
            x0 = random_state_permutation(x0, self.k)
        b, device = len(x0), x0.device
        t = self.training_times(b, device)
        xt = discrete.sample_noisy(x0, self.abar[t].view(-1, 1, 1, 1), self.uniform)
        condition, drop = training_condition(self.config, batch, device)
        previous = self_condition_estimate(self.config, lambda: self.logits(xt, t, condition, drop).softmax(-1))
        logits = self.logits(xt, t, condition, drop, previous)
        loss = F.cross_entropy(logits.reshape(-1, self.k), x0.reshape(-1))
        opt.step(loss, "main")
        return {"loss": float(loss.detach())}

    # ---- sampling ---------------------------------------------------------------------------------
    def describe_sampling(self, options: SamplingOptions) -> dict[str, Any]:
        out = {"sampling_steps": self.steps(options) or self.config.timesteps, "sampler": "ancestral (categorical)"}
        if self.config.key is not None:
            out["guidance"] = self._guidance(options)
        return out

    @torch.no_grad()
    def sample_batch(self, n: int, condition, generator: torch.Generator | None,
                     options: SamplingOptions) -> dict[str, Tensor]:
        """n lattices {"x": [n, C, S, S]}: `self.steps(options)` ancestral steps (None: all T) from the uniform prior."""
        condition = self._conditions(condition, n)
        guidance = self._guidance(options)
        x = discrete.sample_prior(self.uniform, (n, *self.shape), generator)
        x = self.reverse_chain(x, time_grid(self.config.timesteps, self.steps(options)), self.posterior(condition, guidance),
                               generator)
        return {"x": self.values[x]}

    def posterior(self, condition: Tensor | None, guidance: float = 1.0) -> Callable[[Tensor, int], Tensor]:
        """The network's p(x_0 | x_t) [B, C, S, S, K] as a function of (x_t, t) for one reverse chain, guided; it
        keeps the self-conditioned model's last estimate (both halves if guided), so make a new one per chain."""
        previous: list[Tensor | None] = [None]

        def run(xt: Tensor, t: int, c: Tensor | None, drop: Tensor | None) -> Tensor:
            logits = self.logits(xt, t, c, drop, previous[0])
            if self.config.self_condition:
                previous[0] = logits.softmax(-1)
            return logits

        return lambda xt, t: guided(lambda z, c, drop: run(z, t, c, drop), xt, condition, guidance).softmax(-1)

    def reverse_chain(self, x: Tensor, grid: list[int], posterior: Callable[[Tensor, int], Tensor],
                      generator: torch.Generator | None = None) -> Tensor:
        """States x [B, C, S, S] at grid[0] taken down the decreasing times `grid` to 0: each step draws every site
        from sum_c p(x_0 = c | x_t) q(x_s | x_t, x_0 = c), p(x_0 | x_t) = posterior(x_t, t) [B, C, S, S, K] (the
        network's, or any other denoiser's)."""
        for t, s in zip(grid[:-1], grid[1:]):
            p0 = posterior(x, t)
            if s == 0:  # the last step draws x_0 itself: abar_0 < 1 would leave ~(1 - abar_0) / 2 of the sites flipped
                x = discrete.sample_classes(p0, generator)
            else:
                x = discrete.sample_reverse(x, p0, self.abar[t], self.abar[s], self.uniform, generator)
        return x
