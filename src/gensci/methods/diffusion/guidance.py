"""Steering a trained eps-model: classifier-free guidance, and posterior sampling for inverse problems (DPS).

Both return eps-models (model(z_t, t) -> eps_hat, t an int index into the gamma table), so every registered
sampler (samplers.py) runs them unchanged.

Classifier-free guidance (Ho & Salimans 2022, "Classifier-Free Diffusion Guidance", eq. 6):
    eps = (1 + w) eps(z, c) - w eps(z) = eps(z) + s (eps(z, c) - eps(z)),   s = 1 + w ("guidance" below),
so s = 0 is the unconditional model, s = 1 the conditional one, s > 1 sharper conditional samples.

Posterior sampling for a measurement y = A x + n, n ~ N(0, sigma_y^2 I) (DPS: Chung, Kim, McCann, Klasky & Ye
2023, "Diffusion Posterior Sampling for General Noisy Inverse Problems", ICLR, eq. 16 and Algorithm 1): the score
of p(z_t | y) is the prior score plus grad_{z_t} log p(y | z_t), with p(y | z_t) approximated through the
denoiser's clean-data estimate x_hat_0(z_t) = (z_t - sigma_t eps_hat) / alpha_t. DPS takes
p(y | z_t) ~ N(y; A x_hat_0, sigma_y^2); as Pseudoinverse-Guided Diffusion (Song, Vahdat, Mardani & Kautz 2023,
ICLR, sec. 3) we add the spread of x_0 around x_hat_0, r_t^2 = v sigma_t^2 / (alpha_t^2 v + sigma_t^2) per pixel
(v: the prior variance per pixel; v = 1 for data scaled to unit variance gives their r_t^2), so

    grad = J^T A^T (y - A x_hat_0) / (sigma_y^2 + g r_t^2),   eps_y = eps_hat - zeta sigma_t grad,

with J = d x_hat_0 / d z_t by autograd and g the diagonal of A A^T (1 for a mask, 1/f^2 for f x f average pooling).
For Gaussian data with the ideal denoiser and A A^T = g I this is the exact conditional score. zeta (default 1)
scales the correction. Unlike Chung et al.'s step zeta' / ||y - A x_hat_0|| (their Algorithm 1, App. C), the
weight follows from the stated measurement noise. The correction moves the samplers' clean-data estimate by
Delta = zeta sigma_t^2 grad / alpha_t; where ||A Delta|| exceeds the Gaussian-conjugate move
||g r_t^2 / (sigma_y^2 + g r_t^2) (y - A x_hat_0)|| it is scaled down to it, per item. With the ideal denoiser of
independent Gaussian pixels the two are equal (no effect); an untrained or poor network whose J is ~ I / alpha_t
would otherwise overshoot by ~ 1 / alpha_t^2 at high noise and diverge in a few steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from gensci.methods.diffusion.schedules import alpha, sigma

EpsModel = Callable[[Tensor, int], Tensor]


def guided_eps(eps_cond: Tensor, eps_uncond: Tensor, guidance: float) -> Tensor:
    """Classifier-free guidance: eps_uncond + guidance (eps_cond - eps_uncond) (Ho & Salimans 2022, eq. 6 with
    guidance = 1 + w)."""
    return eps_uncond + guidance * (eps_cond - eps_uncond)


@dataclass(frozen=True)
class Mask:
    """Inpainting: A x = mask * x; mask [B or 1, C, H, W] (1 = observed pixel). A A^T = I on the observed pixels."""

    mask: Tensor
    gain: float = 1.0

    def __call__(self, x: Tensor) -> Tensor:
        return x * self.mask.to(x.dtype)


@dataclass(frozen=True)
class Downsample:
    """Super-resolution: A x = the mean over factor x factor blocks, [B, C, H, W] -> [B, C, H / f, W / f];
    A A^T = I / f^2."""

    factor: int

    @property
    def gain(self) -> float:
        return 1.0 / self.factor**2

    def __call__(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, self.factor)


Operator = Mask | Downsample


def _norms(x: Tensor) -> Tensor:
    return x.flatten(1).norm(dim=1)


def posterior_eps_model(model: EpsModel, schedule: Tensor, operator: Operator, y: Tensor, noise_std: Tensor | float,
                        prior_variance: float = 1.0, zeta: float = 1.0) -> EpsModel:
    """Wrap an eps-model so that samplers draw from p(x | y) (see the module docstring).

    y: the measurement, shaped like operator(z) (for a Mask: the image with anything at hidden pixels);
    noise_std: sigma_y in the model's units (a number, or a tensor broadcastable to y, e.g. per channel);
    prior_variance: v, the data's variance per pixel in the model's units; zeta: scales the correction.
    The network is called once per call, with gradients (torch.enable_grad) for J^T.
    """
    var_y = torch.as_tensor(noise_std, dtype=y.dtype, device=y.device) ** 2

    def wrapped(z: Tensor, t: int) -> Tensor:
        g = schedule[t]
        a, s = float(alpha(g)), float(sigma(g))
        r2 = prior_variance * s**2 / (a**2 * prior_variance + s**2)
        with torch.enable_grad():
            z_in = z.detach().requires_grad_(True)
            eps = model(z_in, t)
            x0 = (z_in - s * eps) / a
            resid = y - operator(x0)
            var = var_y + operator.gain * r2
            log_lik = -(resid.square() / (2 * var)).sum()  # items independent: one backward
            (grad,) = torch.autograd.grad(log_lik, z_in)
        resid = resid.detach()
        move = _norms(operator(zeta * s**2 / a * grad))
        conjugate = _norms(operator.gain * r2 / var * resid)
        cap = (conjugate / move.clamp_min(torch.finfo(move.dtype).tiny)).clamp(max=1.0)
        return (eps.detach() - cap.view(-1, *[1] * (z.dim() - 1)) * zeta * s * grad).to(z.dtype)

    return wrapped
