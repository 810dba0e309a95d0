"""What a denoising network predicts, and the conversions between the choices, for variance-preserving processes.

With z_t = alpha_t x + sigma_t eps and alpha_t^2 + sigma_t^2 = 1, a network's output can stand for
    "eps"    the noise eps                          (Ho et al. 2020, eq. 11-12)
    "x0"     the clean data x                       (Kingma et al. 2021, "Variational Diffusion Models", eq. 6)
    "v"      the velocity v = alpha_t eps - sigma_t x (Salimans & Ho 2022, "Progressive Distillation", sec. 4)
    "score"  grad_z log q(z_t) = -eps / sigma_t     (Song et al. 2021, "Score-Based Generative Modeling
             through SDEs", eq. 7 and the eps-score link of VDM appendix, Kingma et al. 2021)
Given z_t, any one of them determines the others; every conversion goes through eps:
    x0 = (z - sigma eps) / alpha,    v = (eps - sigma z) / alpha,    score = -eps / sigma,
    eps = (z - alpha x0) / sigma,    eps = sigma z + alpha v,        eps = -sigma score
(the v pair uses alpha^2 + sigma^2 = 1: v = alpha eps - sigma x0 with x0 from the first line).
The samplers (samplers.py) take an eps-model; `eps_model` wraps a network of any other parametrisation.
"""

from __future__ import annotations

from typing import Callable

from torch import Tensor

from gensci.errors import ConfigError
from gensci.methods.diffusion.schedules import alpha, sigma

# prediction -> eps, given (prediction, z_t, alpha_t, sigma_t)
_TO_EPS: dict[str, Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]] = {
    "eps": lambda eps, z, a, s: eps,
    "x0": lambda x0, z, a, s: (z - a * x0) / s,
    "v": lambda v, z, a, s: s * z + a * v,
    "score": lambda score, z, a, s: -s * score,
}
# eps -> prediction, given (eps, z_t, alpha_t, sigma_t)
_FROM_EPS: dict[str, Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]] = {
    "eps": lambda eps, z, a, s: eps,
    "x0": lambda eps, z, a, s: (z - s * eps) / a,
    "v": lambda eps, z, a, s: (eps - s * z) / a,
    "score": lambda eps, z, a, s: -eps / s,
}
PARAMETRISATIONS = tuple(_TO_EPS)


def clip_denoised(eps: Tensor, z: Tensor, alpha_t: Tensor, sigma_t: Tensor, low: Tensor | float,
                  high: Tensor | float) -> Tensor:
    """eps with its clean-data estimate x0 = (z - sigma eps) / alpha clamped to [low, high], returned as eps again.

    As improved-diffusion's clip_denoised (openai/improved-diffusion, gaussian_diffusion.py: p_mean_variance clamps
    pred_xstart, DDIM recomputes eps from it with _predict_eps_from_xstart). Why: near t = T alpha_t -> 0 (5e-5 for
    the cosine schedule at T = 1000), so an eps error delta puts x0 off by delta sigma / alpha ~ 2e4 delta, which the
    next step carries into z_s (alpha_s x0); clamping to the data's range keeps it bounded. low, high: scalars or
    tensors broadcastable to z. Gradients pass straight through the clamp, so posterior sampling (DPS), which
    differentiates the estimate with respect to z, still pulls on every pixel.
    """
    x0 = (z - sigma_t * eps) / alpha_t
    x0 = x0 + (x0.clamp(low, high) - x0).detach()
    return (z - alpha_t * x0) / sigma_t


def check_parametrisation(name: str) -> str:
    """`name` if it is a known parametrisation, else a ConfigError listing the choices."""
    if name not in _TO_EPS:
        raise ConfigError(f"unknown parametrisation {name!r}; choices: {', '.join(PARAMETRISATIONS)}")
    return name


def convert(value: Tensor, source: str, target: str, z: Tensor, alpha_t: Tensor, sigma_t: Tensor) -> Tensor:
    """A prediction of kind `source` at z_t turned into kind `target` ("eps", "x0", "v", "score").

    value, z: [B, ...]; alpha_t, sigma_t: scalars or tensors broadcastable to z (variance preserving:
    alpha_t^2 + sigma_t^2 = 1; the v conversions use it).
    """
    eps = _TO_EPS[check_parametrisation(source)](value, z, alpha_t, sigma_t)
    return _FROM_EPS[check_parametrisation(target)](eps, z, alpha_t, sigma_t)


def eps_model(model: Callable[[Tensor, int], Tensor], parametrisation: str,
              schedule: Tensor) -> Callable[[Tensor, int], Tensor]:
    """Wrap model(z_t, t) -> prediction of kind `parametrisation` as an eps-model for the samplers.

    t: an integer index into the gamma table `schedule` [T + 1] (schedules.gamma_table).
    """
    check_parametrisation(parametrisation)
    if parametrisation == "eps":
        return model

    def wrapped(z: Tensor, t: int) -> Tensor:
        g = schedule[t]
        a, s = alpha(g).to(z.device), sigma(g).to(z.device)
        return convert(model(z, t), parametrisation, "eps", z, a, s).to(z.dtype)

    return wrapped
