"""Targets given by an energy U(x): "energies are a kind of data" (DESIGN.md; issue 26).

A target declares its sample space (`event_shape`, `space`: "continuous" or "spins" ±1), the batched
energy `energy(x) -> [B]` (dimensionless: p(x) ∝ exp(-U(x)), so `log_prob = -energy` up to log Z),
`grad_energy(x) -> [B, ...]` where `has_gradient` (autograd), and `reference()`: its exact or
reference answers (log Z, observables) with `reference_kind` saying where they come from.
Energies run in the dtype and on the device of x (float64 for the reference checks).

Get one by name: `target("double-well")`, `target("gmm-40", seed=0)`, `target("phi4", L=8, m2=-4, lam=8)`,
`target("ising", L=4, beta=0.44)`; `TARGETS` lists the names.
"""

from __future__ import annotations

from gensci.data.targets.base import Target, check_finite
from gensci.data.targets.lattices import IsingTarget, Phi4
from gensci.data.targets.wells import GMM40, DoubleWell, ManyWell, MuellerBrown
from gensci.errors import ConfigError, UnknownNameError

TARGETS: dict[str, type[Target]] = {
    "double-well": DoubleWell,
    "mueller-brown": MuellerBrown,
    "gmm-40": GMM40,
    "many-well": ManyWell,
    "phi4": Phi4,
    "ising": IsingTarget,
}


def target(name: str, **params) -> Target:
    """The target called `name`, built with `params` (each class's constructor lists them)."""
    if name not in TARGETS:
        raise UnknownNameError(f"unknown target {name!r}; known targets: {', '.join(sorted(TARGETS))}")
    try:
        return TARGETS[name](**params)
    except TypeError as e:  # an unknown keyword
        raise ConfigError(f"bad parameters for target {name!r}: {e}") from None


__all__ = ["TARGETS", "Target", "check_finite", "target", "DoubleWell", "MuellerBrown", "GMM40", "ManyWell",
           "Phi4", "IsingTarget"]
