"""Lattice targets on a periodic L x L lattice: the φ⁴ action (continuous) and the Ising energy (spins ±1), with
their observables; exact Ising answers by enumeration (L <= 4) and Onsager's infinite lattice."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

from gensci.data.targets.base import Target, positive, positive_int
from gensci.errors import ConfigError
from gensci.ops import ising as ising_ops


def neighbour_products(x: torch.Tensor) -> torch.Tensor:
    """Σ_x Σ_μ x_x x_{x+μ} over the two lattice directions of fields [B, L, L] -> [B] (each bond once, periodic:
    the sum the Ising energy and the φ⁴ hopping term share)."""
    return (x * torch.roll(x, -1, dims=-1) + x * torch.roll(x, -1, dims=-2)).sum(dim=(-2, -1))


def magnetisation(x: torch.Tensor) -> torch.Tensor:
    """m = the field's mean over sites, [B, L, L] -> [B] (per site, so lattices of any L compare)."""
    return x.mean(dim=(-2, -1))


def susceptibility(m: torch.Tensor, n_sites: int, beta: float = 1.0) -> float:
    """χ = β N (⟨m²⟩ - ⟨|m|⟩²) of per-site magnetisations m [n] (N sites): the finite-lattice convention that
    subtracts ⟨|m|⟩², not ⟨m⟩² (which is 0 by symmetry on a finite lattice), so χ peaks near the transition
    (Binder & Heermann, "Monte Carlo Simulation in Statistical Physics"; Landau & Binder, "A Guide to Monte Carlo
    Simulations in Statistical Physics", ch. 4). For φ⁴ β = 1: the couplings are in the action."""
    m = m.double()
    return float(beta * n_sites * ((m**2).mean() - m.abs().mean() ** 2))


class Phi4(Target):
    """The 2-D lattice φ⁴ action of Albergo, Kanwar & Shanahan (PRD 100, 034515, 2019), as written in the tutorial
    arXiv:2101.08176 (defaults L = 8, m² = -4, λ = 8 are the tutorial's):
        S = Σ_x [ Σ_μ (2φ_x² - φ_x φ_{x+μ} - φ_x φ_{x-μ}) + m² φ_x² + λ φ_x⁴ ],  μ over the 2 directions, periodic.
    Since Σ_x φ_x φ_{x-μ} = Σ_x φ_x φ_{x+μ} on a torus, S = Σ_x [(4 + m²) φ_x² + λ φ_x⁴] - 2 Σ_x Σ_μ φ_x φ_{x+μ}.
    Observables: `magnetisation` (per site m; M = L² m), |m| and `susceptibility` χ = L² (⟨m²⟩ - ⟨|m|⟩²); the
    tutorial's two-point χ₂ = Σ_x G_c(x) is the other common choice. No exact answers: references come from long
    HMC runs."""

    name = "phi4"

    def __init__(self, L: int = 8, m2: float = -4.0, lam: float = 8.0):  # noqa: N803 (the physicists' name)
        self.L = positive_int("L", L, minimum=2)
        if isinstance(m2, bool) or not isinstance(m2, int | float) or not math.isfinite(m2):
            raise ConfigError(f"target parameter m2 must be a finite number, got {m2!r}")
        self.m2 = float(m2)
        self.lam = positive("lam", lam)  # λ > 0 keeps exp(-S) normalisable
        self.event_shape = (self.L, self.L)

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        self._check_batch(x)
        local = ((4.0 + self.m2) * x**2 + self.lam * x**4).sum(dim=(-2, -1))
        return local - 2.0 * neighbour_products(x)

    def observables(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-configuration observables [B]: m (per site) and |m|; χ is `susceptibility(m, L²)` over a chain."""
        m = magnetisation(x)
        return {"magnetisation": m, "abs_magnetisation": m.abs()}


class IsingTarget(Target):
    """The 2-D Ising model, J = 1, periodic L x L, spins ±1 at inverse temperature β: U(s) = β H(s) with
    H = -Σ_<ij> s_i s_j (the convention of gensci.ops.ising). No gradient (discrete). Reference: exact enumeration
    of all 2^(L²) states for L <= 4; Onsager's infinite lattice above that (free energy: Onsager 1944, Phys. Rev. 65,
    117; spontaneous magnetisation: Yang 1952, Phys. Rev. 85, 808), a large-L reference only."""

    name = "ising"
    space = "spins"
    has_gradient = False
    max_enumerated = 4

    def __init__(self, L: int = 4, beta: float = 0.44):  # noqa: N803
        self.L = positive_int("L", L, minimum=2)
        self.beta = positive("beta", beta)
        self.event_shape = (self.L, self.L)
        self.reference_kind = "exact" if self.L <= self.max_enumerated else "infinite-lattice"

    def hamiltonian(self, s: torch.Tensor) -> torch.Tensor:
        """H(s) = -Σ_<ij> s_i s_j (total, not per spin) of spins [B, L, L] -> [B]."""
        self._check_batch(s)
        return -neighbour_products(s)

    def energy(self, s: torch.Tensor) -> torch.Tensor:
        return self.beta * self.hamiltonian(s)

    def observables(self, s: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-configuration observables [B] with the names of `reference()`: energy per spin, m and |m|
        (C and χ are fluctuations over a chain: β² N var(e) and `susceptibility(m, N, β)`)."""
        m = magnetisation(s)
        return {"energy_per_spin": self.hamiltonian(s) / (self.L * self.L), "magnetisation": m,
                "abs_magnetisation": m.abs()}

    def reference(self) -> dict[str, float]:
        if self.L <= self.max_enumerated:
            return exact_ising(self.L, self.beta)
        t = 1.0 / self.beta
        return {"log_z_per_spin": onsager_log_z_per_spin(self.beta),
                "energy_per_spin": float(ising_ops.onsager_energy(t)),
                "abs_magnetisation": float(ising_ops.onsager_magnetisation(t))}


@lru_cache(maxsize=None)
def _ising_density_of_states(L: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # noqa: N803
    """(H, M, count): the distinct (total energy, total magnetisation) pairs of all 2^(L²) configurations and how
    many configurations have each, by enumeration with gensci.ops.ising (L <= 4: 65,536 states)."""
    n = L * L
    codes = np.arange(2**n, dtype=np.int64)
    spins = (1 - 2 * ((codes[:, None] >> np.arange(n)) & 1)).astype(np.int8).reshape(-1, L, L)
    h = np.rint(ising_ops.energy(spins) * n).astype(np.int64)
    m = np.rint(ising_ops.magnetisation(spins) * n).astype(np.int64)
    pairs, counts = np.unique(np.stack([h, m], 1), axis=0, return_counts=True)
    return pairs[:, 0], pairs[:, 1], counts


def exact_ising(L: int, beta: float) -> dict[str, float]:  # noqa: N803
    """Exact answers of the periodic L x L Ising model at β by enumeration (per spin where it says so):
    log_z, log_z_per_spin, energy_per_spin ⟨H⟩/N, abs_magnetisation ⟨|m|⟩, specific_heat C = β² N (⟨e²⟩ - ⟨e⟩²) with e = H/N,
    susceptibility χ = β N (⟨m²⟩ - ⟨|m|⟩²) (the `susceptibility` convention)."""
    if L > IsingTarget.max_enumerated:
        raise ConfigError(f"exact enumeration is for L <= {IsingTarget.max_enumerated} (2^(L²) states), got L = {L}")
    h, m, count = _ising_density_of_states(L)
    n = L * L
    logw = np.log(count) - beta * h
    log_z = float(np.logaddexp.reduce(logw))
    p = np.exp(logw - log_z)
    e, am = h / n, np.abs(m) / n
    mean_e, mean_am = float(p @ e), float(p @ am)
    return {"log_z": log_z, "log_z_per_spin": log_z / n, "energy_per_spin": mean_e, "abs_magnetisation": mean_am,
            "specific_heat": beta**2 * n * float(p @ e**2 - mean_e**2),
            "susceptibility": beta * n * float(p @ am**2 - mean_am**2)}


def onsager_log_z_per_spin(beta: float) -> float:
    """ln Z / N of the infinite square lattice, J = 1 (Onsager 1944, Phys. Rev. 65, 117):
        ln 2 + 1/(8π²) ∫∫_[0,2π]² ln[cosh²(2β) - sinh(2β)(cos θ1 + cos θ2)] dθ1 dθ2,
    integrated over θ2 in closed form (∫_0^2π ln(a - b cos θ) dθ = 2π ln((a + sqrt(a² - b²))/2)), then over θ1
    by quadrature (the integrand has an integrable log singularity only at T_c)."""
    from scipy.integrate import quad

    c2, s2 = math.cosh(2 * beta) ** 2, math.sinh(2 * beta)

    def inner(t1: float) -> float:  # (1/2π) ∫ dθ2 of the log, at this θ1
        a = c2 - s2 * math.cos(t1)
        return math.log((a + math.sqrt(max(a * a - s2 * s2, 0.0))) / 2)

    total, _ = quad(inner, 0.0, math.pi, epsabs=1e-13, epsrel=1e-12, limit=200)  # symmetric in θ1 -> 2π - θ1
    return math.log(2.0) + total / (2 * math.pi)
