"""The target interface shared by every energy (package docstring) and the NaN guard for samplers."""

from __future__ import annotations

from typing import ClassVar, Literal

import torch

from gensci.errors import ConfigError, UserError


class Target:
    """An unnormalised density p(x) ∝ exp(-U(x)) on `event_shape`; subclasses define `energy`."""

    name: ClassVar[str]
    space: ClassVar[Literal["continuous", "spins"]] = "continuous"
    has_gradient: ClassVar[bool] = True
    # "exact" (closed form or enumeration), "quadrature" (numerical integration), "infinite-lattice"
    # (Onsager: a large-L reference, not the finite lattice's answer) or "none" (use long runs)
    reference_kind: ClassVar[str] = "none"
    event_shape: tuple[int, ...]

    @property
    def dim(self) -> int:
        n = 1
        for s in self.event_shape:
            n *= s
        return n

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """U(x) of a batch [B, *event_shape] -> [B]."""
        raise NotImplementedError

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """-U(x): the log density up to the constant log Z."""
        return -self.energy(x)

    def grad_energy(self, x: torch.Tensor) -> torch.Tensor:
        """∇U(x) [B, *event_shape] by autograd (each U depends on its own row only, so the gradient of the sum is
        the per-sample gradient)."""
        if not self.has_gradient:
            raise UserError(f"target {self.name!r} has no gradient (its sample space is {self.space}); "
                            "use a sampler that needs none (Metropolis, Wolff)")
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(self.energy(x).sum(), x)
        return grad

    def reference(self) -> dict[str, float]:
        """Exact or reference answers (`reference_kind` says which); empty when there are none."""
        return {}

    def _check_batch(self, x: torch.Tensor) -> None:
        if tuple(x.shape[1:]) != tuple(self.event_shape):
            raise UserError(f"target {self.name!r} takes a batch [B, {', '.join(map(str, self.event_shape))}], "
                            f"got {list(x.shape)}")


def check_finite(energies: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
    """`energies` unchanged if all are finite; otherwise a one-line UserError naming how many and where (a
    sampler that diverged: a step size too large, or a proposal that left the region the energy is defined in)."""
    bad = ~torch.isfinite(energies)
    if bool(bad.any()):
        first = int(bad.nonzero()[0, 0])
        where = ""
        if x is not None:
            where = f", max |x| there {x[first].detach().abs().max().item():.3g}"
        raise UserError(f"energy is not finite for {int(bad.sum())} of {energies.numel()} samples "
                        f"(first at index {first}: {energies.flatten()[first].item()}{where}); "
                        "the sampler diverged: lower its step size")
    return energies


def positive(name: str, value: float) -> float:
    """`value` if it is a finite number > 0, else a ConfigError naming the parameter."""
    if isinstance(value, bool) or not (isinstance(value, int | float) and 0 < value < float("inf")):
        raise ConfigError(f"target parameter {name} must be a positive number, got {value!r}")
    return float(value)


def positive_int(name: str, value: int, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"target parameter {name} must be an integer >= {minimum}, got {value!r}")
    return value
