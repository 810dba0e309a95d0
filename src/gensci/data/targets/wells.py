"""Continuous benchmark targets of the Boltzmann-generator and FAB papers: the double well, Müller–Brown,
GMM-40 and ManyWell-32. References by quadrature (scipy) or in closed form."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

from gensci.data.targets.base import Target, positive, positive_int
from gensci.errors import ConfigError


def quartic_well(x1: torch.Tensor, x2: torch.Tensor, tilt: float) -> torch.Tensor:
    """x1^4 - 6 x1^2 + tilt x1 + x2^2 / 2: the 2-D double well that both the Boltzmann-generator code (tilt +1) and
    FAB's ManyWell (tilt -0.5) use."""
    return x1**4 - 6.0 * x1**2 + tilt * x1 + 0.5 * x2**2


@lru_cache(maxsize=None)
def well_integrals(tilt: float) -> tuple[float, float]:
    """(∫ exp(-(x^4 - 6x^2 + tilt x)) dx over R, the same over x > 0) by adaptive quadrature. The integrand is below
    e^-1000 outside [-6, 6]; the breakpoints are the two minima (near ±1.7) and the barrier."""
    from scipy.integrate import quad

    def f(x: float) -> float:
        return math.exp(-(x**4 - 6.0 * x**2 + tilt * x))

    left, _ = quad(f, -6.0, 0.0, points=[-1.7], epsabs=0.0, epsrel=1e-12, limit=200)
    right, _ = quad(f, 0.0, 6.0, points=[1.7], epsabs=0.0, epsrel=1e-12, limit=200)
    return left + right, right


HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)  # ∫ exp(-x2^2 / 2) dx2 = sqrt(2π)


class DoubleWell(Target):
    """The 2-D double well of the Boltzmann generators (Noé et al., Science 2019): U = x1^4 - 6 x1^2 + x1 + x2^2 / 2,
    as in noegroup/paper_boltzmann_generators deep_boltzmann/models/double_well.py. That code's scaling, not the
    LyX draft's ¼ax⁴ - ½bx² + cx + ½dy² (a=c=d=1, b=6), whose minima sit near x1 = -2.5, 2.4 instead of -1.8, 1.7.
    References by quadrature: log Z and p_right = P(x1 > 0), the shallower well (the tilt +x1 favours x1 < 0)."""

    name = "double-well"
    reference_kind = "quadrature"
    tilt = 1.0

    def __init__(self):
        self.event_shape = (2,)

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        self._check_batch(x)
        return quartic_well(x[:, 0], x[:, 1], self.tilt)

    def reference(self) -> dict[str, float]:
        z1, right = well_integrals(self.tilt)
        return {"log_z": math.log(z1) + HALF_LOG_2PI, "p_right": right / z1}


# FAB (Midgley et al., ICLR 2023), lollcat/fab-torch fab/target_distributions/many_well.py: log Z of one 2-D well
# is ln 11784.509 + ½ ln 2π; the tests check this constant against our quadrature.
FAB_WELL_Z1 = 11784.509


class ManyWell(Target):
    """FAB's ManyWell (fab-torch many_well.py, ManyWellEnergy with a=-0.5, b=-6, c=1): dim/2 independent copies of
    U = x1^4 - 6 x1^2 - 0.5 x1 + x2^2 / 2 on coordinate pairs (x0, x1), (x2, x3), ...; 2^(dim/2) modes.
    Exact log Z = (dim/2)(ln Z1 + ½ ln 2π), Z1 by quadrature (≈ 164.69 at dim 32, FAB's number)."""

    name = "many-well"
    reference_kind = "quadrature"
    tilt = -0.5

    def __init__(self, dim: int = 32):
        dim = positive_int("dim", dim, minimum=2)
        if dim % 2:
            raise ConfigError(f"target parameter dim must be even (pairs of coordinates), got {dim}")
        self.event_shape = (dim,)
        self.n_wells = dim // 2

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        self._check_batch(x)
        pairs = x.reshape(len(x), self.n_wells, 2)
        return quartic_well(pairs[..., 0], pairs[..., 1], self.tilt).sum(-1)

    def reference(self) -> dict[str, float]:
        z1, right = well_integrals(self.tilt)
        return {"log_z": self.n_wells * (math.log(z1) + HALF_LOG_2PI), "p_right_per_well": right / z1}


# Müller–Brown: u = k Σ_j A_j exp(a_j (x - X_j)^2 + b_j (x - X_j)(y - Y_j) + c_j (y - Y_j)^2), constants of
# deep_boltzmann MuellerPotential (paper_boltzmann_generators); Fig. 2 of Noé et al. 2019 uses k = 0.1.
MB_A = (-200.0, -100.0, -170.0, 15.0)
MB_a = (-1.0, -1.0, -6.5, 0.7)
MB_b = (0.0, 0.0, 11.0, 0.6)
MB_c = (-10.0, -10.0, -6.5, 0.7)
MB_X = (1.0, 0.0, -0.5, -1.0)
MB_Y = (0.0, 0.5, 1.5, 1.0)
# The quadrature box: log Z over it and over [-3, 2] x [-2, 3.5] agree to 1e-8 at k = 0.1 (a 0.002 grid); the
# fourth term grows as exp of a positive-definite quadratic, so the mass outside is negligible.
MB_BOX = (-2.5, 1.5, -1.0, 3.0)


class MuellerBrown(Target):
    """The Müller–Brown potential times k (default 0.1, Noé et al. 2019 Fig. 2): three minima, the deepest near
    (-0.56, 1.44). Reference: log Z by 2-D quadrature over MB_BOX = [-2.5, 1.5] x [-1, 3] (k = 0.1 only:
    another k moves the mass, so the box is not vouched for and the reference is left empty)."""

    name = "mueller-brown"

    def __init__(self, k: float = 0.1):
        self.k = positive("k", k)
        self.event_shape = (2,)
        self.reference_kind = "quadrature" if self.k == 0.1 else "none"

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        self._check_batch(x)
        big_a, a, b, c, cx, cy = _mueller_brown_constants(x.device, x.dtype)
        dx, dy = x[:, :1] - cx, x[:, 1:] - cy
        return self.k * (big_a * torch.exp(a * dx**2 + b * dx * dy + c * dy**2)).sum(-1)

    def reference(self) -> dict[str, float]:
        return {"log_z": _mueller_brown_log_z(self.k)} if self.reference_kind == "quadrature" else {}


@lru_cache(maxsize=None)
def _mueller_brown_constants(device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
    """The constants as tensors [4], made once per device and dtype (no host-to-device copy per energy call)."""
    return tuple(torch.tensor(c, dtype=dtype, device=device) for c in (MB_A, MB_a, MB_b, MB_c, MB_X, MB_Y))


@lru_cache(maxsize=None)
def _mueller_brown_log_z(k: float) -> float:
    from scipy.integrate import dblquad

    target = MuellerBrown(k)

    def u(y: float, x: float) -> float:
        return float(target.energy(torch.tensor([[x, y]], dtype=torch.float64))[0])

    shift = u(1.44, -0.56)  # near the global minimum: keeps the integrand O(1)
    x0, x1, y0, y1 = MB_BOX
    z, _ = dblquad(lambda y, x: math.exp(-(u(y, x) - shift)), x0, x1, y0, y1, epsabs=1e-10, epsrel=1e-10)
    return math.log(z) - shift


class GMM40(Target):
    """FAB's 2-D mixture of 40 equal-weight Gaussians (fab-torch fab/target_distributions/gmm.py; experiments/config/
    gmm.yaml: n_mixes 40, loc_scaling 40, log_var_scaling 1): means uniform in [-40, 40]^2, drawn here from a
    torch.Generator seeded with `seed`, per-dimension scale softplus(1) ≈ 1.313. Normalised: log Z = 0 exactly;
    `sample` draws exact samples; `nearest_component` and `modes_found` count the modes a sampler visits."""

    name = "gmm-40"
    reference_kind = "exact"
    n_components = 40
    loc_scaling = 40.0

    def __init__(self, seed: int = 0):
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ConfigError(f"target parameter seed must be an integer, got {seed!r}")
        self.seed = seed
        g = torch.Generator().manual_seed(seed)
        self.means = (torch.rand((self.n_components, 2), generator=g, dtype=torch.float64) - 0.5) * 2 * self.loc_scaling
        self.scale = float(torch.nn.functional.softplus(torch.tensor(1.0, dtype=torch.float64)))
        self.event_shape = (2,)

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        self._check_batch(x)
        mu = self.means.to(device=x.device, dtype=x.dtype)
        z2 = (((x[:, None, :] - mu) / self.scale) ** 2).sum(-1)  # [B, K]
        log_n = -0.5 * z2 - 2.0 * math.log(self.scale) - math.log(2.0 * math.pi)
        return -(torch.logsumexp(log_n, dim=-1) - math.log(self.n_components))

    def reference(self) -> dict[str, float]:
        return {"log_z": 0.0}

    def sample(self, n: int, generator: torch.Generator | None = None, device=None,
               dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """n exact samples [n, 2] (on the generator's device if one is given)."""
        return self.sample_with_components(n, generator, device, dtype)[0]

    def sample_with_components(self, n: int, generator: torch.Generator | None = None, device=None,
                               dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
        """n exact samples [n, 2] and the component [n] each was drawn from: a uniform component, then its Gaussian."""
        device = generator.device if generator is not None else device
        comp = torch.randint(self.n_components, (n,), generator=generator, device=device)
        noise = torch.randn((n, 2), generator=generator, device=device, dtype=dtype)
        return self.means.to(device=noise.device, dtype=dtype)[comp] + self.scale * noise, comp

    def nearest_component(self, x: torch.Tensor) -> torch.Tensor:
        """Index [B] of the component mean nearest to each sample."""
        return torch.cdist(x, self.means.to(device=x.device, dtype=x.dtype)).argmin(-1)

    def modes_found(self, x: torch.Tensor, min_count: int = 1) -> int:
        """How many components are the nearest for at least `min_count` of the samples."""
        counts = torch.bincount(self.nearest_component(x), minlength=self.n_components)
        return int((counts >= min_count).sum())


def grid_log_z(energy, box: tuple[float, float, float, float], step: float) -> float:
    """log ∫ exp(-U) over a 2-D box by a midpoint rule on a grid of spacing `step` (a brute-force check)."""
    x0, x1, y0, y1 = box
    xs = np.arange(x0 + step / 2, x1, step)
    ys = np.arange(y0 + step / 2, y1, step)
    xx, yy = np.meshgrid(xs, ys, indexing="ij")
    pts = torch.from_numpy(np.stack([xx.ravel(), yy.ravel()], -1))
    with torch.no_grad():
        neg = -energy(pts)
    return float(torch.logsumexp(neg, 0)) + 2 * math.log(step)
