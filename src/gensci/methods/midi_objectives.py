"""The two training objectives of gensci.methods.midi: flow matching (SemlaFlow's recipe) and MiDi's diffusion.

Both corrupt a clean molecule (coordinates, atom types, formal charges, bonds) to a time t, train the network to
predict the clean molecule (x_1 / x_0 prediction) and sample by repeated network calls, one per step. Each
objective owns its noise, its time convention and its sampler; the network, the losses and the data handling live
in midi.py. Generic maths: gensci.methods.diffusion.flow and .discrete, gensci.ops.kabsch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import torch
from torch import Tensor, nn

from gensci.errors import ConfigError
from gensci.methods.diffusion import discrete, flow
from gensci.methods.diffusion.parametrisations import convert
from gensci.methods.diffusion.samplers import reverse_step, time_grid
from gensci.methods.diffusion.schedules import alpha, sigma
from gensci.ops.kabsch import equivariant_ot
from gensci.ops.masks import remove_mean
from gensci.ops.random import sample_normal


@dataclass
class Molecules:
    """A padded batch in the model's units: x [B, N, 3] (centre of mass 0, divided by coord_scale), class indices
    types, charges [B, N] and bonds [B, N, N] (symmetric, 0 on padding and diagonal), mask [B, N] float."""

    x: Tensor
    types: Tensor
    charges: Tensor
    bonds: Tensor
    mask: Tensor

    def masked(self) -> "Molecules":
        node, pair = self.mask.bool(), self.mask.bool().unsqueeze(2) & self.mask.bool().unsqueeze(1)
        return replace(self, x=remove_mean(self.x, self.mask), types=self.types * node, charges=self.charges * node,
                       bonds=discrete.symmetrize_pairs(self.bonds) * pair)


@dataclass
class Prediction:
    """The network's clean molecule: x [B, N, 3] and logits types [B, N, Kt], charges [B, N, Kc], bonds [B, N, N, Kb]."""

    x: Tensor
    types: Tensor
    charges: Tensor
    bonds: Tensor

    def argmax(self, mask: Tensor) -> Molecules:
        return Molecules(self.x, self.types.argmax(-1), self.charges.argmax(-1), self.bonds.argmax(-1), mask).masked()


Model = Callable[[Molecules, Tensor], Prediction]  # (noisy molecules, t [B]) -> prediction
Callback = Callable[[int, Molecules, float], None]  # (step k, state after step k, noise level in [0, 1])


def gaussian(shape, mask: Tensor, generator) -> Tensor:
    """Standard normal coordinates on the zero-centre-of-mass subspace of real atoms, drawn from `generator`."""
    return remove_mean(sample_normal(tuple(shape), generator, mask.device), mask)


class FlowMatching(nn.Module):
    """SemlaFlow's recipe (Irwin et al. 2024; rssrwn/semla-flow at 2f41e57, data/interpolate.py, models/fm.py):
    t ~ Beta(2, 1) (t = 1 data); coordinates x_t = (1 - t) x_0 + t x_1 + 0.2 eps with the prior sample permuted
    and rotated onto each molecule (equivariant OT); types, charges and bonds uniform-prior discrete flow matching;
    sampling: Euler steps on an even grid, the last network call's prediction is the sample (fm.py _generate)."""

    time_name = "flow time (0 noise, 1 data)"
    max_steps = None  # any number of Euler steps

    def __init__(self, config, sizes: dict[str, int]):
        super().__init__()
        self.config, self.sizes = config, sizes

    def prior(self, mask: Tensor, generator=None) -> Molecules:
        b, n = mask.shape
        draw = lambda k, shape: discrete.sample_classes(  # noqa: E731
            torch.ones(shape + (k,), device=mask.device), generator, pairs=len(shape) == 3)
        return Molecules(gaussian((b, n, 3), mask, generator), draw(self.sizes["types"], (b, n)),
                         draw(self.sizes["charges"], (b, n)), draw(self.sizes["bonds"], (b, n, n)), mask).masked()

    def corrupt(self, clean: Molecules, t: Tensor | None = None) -> tuple[Molecules, Tensor]:
        """(noisy molecules at t, t [B]); t drawn from Beta(time_alpha, time_beta) unless given."""
        c, mask = self.config, clean.mask
        if t is None:
            t = flow.sample_time(len(mask), c.time_alpha, c.time_beta, mask.device)
        t = t.to(clean.x.dtype)
        noise = self.prior(mask)
        x0 = equivariant_ot(noise.x, clean.x, mask) if c.equivariant_ot else noise.x
        tn, tp = t.view(-1, 1), t.view(-1, 1, 1)
        x = flow.interpolate_gaussian(x0, clean.x, tp, gaussian(x0.shape, mask, None), c.coord_noise)
        noisy = Molecules(x, flow.interpolate_categorical(noise.types, clean.types, tn),
                          flow.interpolate_categorical(noise.charges, clean.charges, tn),
                          flow.interpolate_categorical(noise.bonds, clean.bonds, tp), mask)
        return noisy.masked(), t

    @torch.no_grad()
    def sample(self, model: Model, mask: Tensor, steps: int, generator=None, callback: Callback | None = None) -> Molecules:
        if steps < 1:
            raise ConfigError(f"sampling steps must be at least 1, got {steps}")
        grid = flow.time_grid(steps).tolist()
        state = self.prior(mask, generator)
        if callback is not None:
            callback(-1, state, 1.0)
        eta = self.config.categorical_noise
        for k, (t, t_next) in enumerate(zip(grid[:-1], grid[1:])):
            pred = model(state, torch.full((len(mask),), t, device=mask.device))
            if k == steps - 1:
                state = pred.argmax(mask)
            else:
                dt, tn = t_next - t, torch.full((len(mask), 1), t, device=mask.device)
                step = lambda xt, logits, tt: flow.categorical_step(  # noqa: E731
                    xt, torch.softmax(logits.float(), -1), tt, dt, eta, generator)
                state = Molecules(flow.euler_step_gaussian(state.x, pred.x, t, dt), step(state.types, pred.types, tn),
                                  step(state.charges, pred.charges, tn), step(state.bonds, pred.bonds, tn.unsqueeze(-1)),
                                  mask).masked()
            if callback is not None:
                callback(k, state, 1.0 - t_next)
        return state


class Diffusion(nn.Module):
    """MiDi (Vignac et al. 2023; cvignac/MiDi at 775b731, midi/diffusion/noise_model.py): T steps, t_int ~ U{1..T}
    (t = T noise); coordinates q(x_t | x_0) = N(abar_t x_0, (1 - abar_t^2) I) (CoM-free), categoricals with
    marginal transitions, each modality with its own cosine schedule exponent nu (sec. 4.2); sampling from the
    model's posteriors p(x_s | x_t) on a strided grid (exact posteriors for any s < t), the state at s = 0 is the
    sample (diffusion_model.py sample_batch)."""

    time_name = "diffusion time (0 data, 1 noise)"

    @property
    def max_steps(self) -> int:
        return self.config.timesteps

    def __init__(self, config, sizes: dict[str, int], marginals: dict[str, Tensor]):
        super().__init__()
        self.config, self.sizes, T = config, sizes, config.timesteps
        nu = config.nu
        self.register_buffer("gamma_x", discrete.gaussian_gamma(discrete.cosine_alpha_bar(T, nu.positions)), False)
        for key, exponent in (("types", nu.types), ("charges", nu.charges), ("bonds", nu.bonds)):
            self.register_buffer(f"abar_{key}", discrete.cosine_alpha_bar(T, exponent), False)
            self.register_buffer(f"marg_{key}", marginals[key].double() / marginals[key].sum(), False)

    def prior(self, mask: Tensor, generator=None) -> Molecules:
        b, n = mask.shape
        draw = lambda key, shape: discrete.sample_prior(  # noqa: E731
            getattr(self, f"marg_{key}"), shape, generator, pairs=len(shape) == 3)
        return Molecules(gaussian((b, n, 3), mask, generator), draw("types", (b, n)), draw("charges", (b, n)),
                         draw("bonds", (b, n, n)), mask).masked()

    def corrupt(self, clean: Molecules, t: Tensor | None = None) -> tuple[Molecules, Tensor]:
        """(noisy molecules at t, t [B] = t_int / T); t_int ~ U{1..T} unless t is given (rounded to the grid)."""
        mask, T = clean.mask, self.config.timesteps
        if t is None:
            t_int = torch.randint(1, T + 1, (len(mask),), device=mask.device)
        else:
            t_int = torch.round(t * T).long().clamp(0, T).to(mask.device)
        g = self.gamma_x[t_int].to(clean.x.dtype).view(-1, 1, 1)
        x = alpha(g) * clean.x + sigma(g) * gaussian(clean.x.shape, mask, None)

        def noised(key, x0, view):
            a = getattr(self, f"abar_{key}")[t_int].view(view)
            return discrete.sample_noisy(x0, a, getattr(self, f"marg_{key}"), None, pairs=key == "bonds")

        noisy = Molecules(x, noised("types", clean.types, (-1, 1)), noised("charges", clean.charges, (-1, 1)),
                          noised("bonds", clean.bonds, (-1, 1, 1)), mask)
        return noisy.masked(), t_int.to(clean.x.dtype) / T

    @torch.no_grad()
    def sample(self, model: Model, mask: Tensor, steps: int, generator=None, callback: Callback | None = None) -> Molecules:
        T, grid = self.config.timesteps, time_grid(self.config.timesteps, steps)
        state = self.prior(mask, generator)
        if callback is not None:
            callback(-1, state, 1.0)
        for k, (t, s) in enumerate(zip(grid[:-1], grid[1:])):
            pred = model(state, torch.full((len(mask),), t / T, device=mask.device))
            g_t, g_s = self.gamma_x[t], self.gamma_x[s]
            eps = convert(pred.x.double(), "x0", "eps", state.x.double(), alpha(g_t), sigma(g_t))
            x = reverse_step(state.x.double(), eps, g_t, g_s, gaussian(state.x.shape, mask, generator))
            x = x.to(state.x.dtype)

            def step(key, xt, logits):
                abar = getattr(self, f"abar_{key}")
                return discrete.sample_reverse(xt, torch.softmax(logits.float(), -1), abar[t].float(), abar[s].float(),
                                               getattr(self, f"marg_{key}"), generator, pairs=key == "bonds")

            state = Molecules(x, step("types", state.types, pred.types), step("charges", state.charges, pred.charges),
                              step("bonds", state.bonds, pred.bonds), mask).masked()
            if callback is not None:
                callback(k, state, s / T)
        return state
