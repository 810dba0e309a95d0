"""The 2D Ising model on a periodic square lattice (J = 1, k_B = 1, no field): measurements of
configurations and Onsager's exact results for the infinite lattice. Shared by the simulator
(gensci.data.ising) and the metrics (gensci.metrics.lattices).

H = -sum_<ij> s_i s_j over nearest-neighbour pairs, s = ±1. Exact results (infinite lattice):
- critical temperature T_c = 2 / ln(1 + sqrt 2) ≈ 2.269185 (Kramers & Wannier 1941; Onsager 1944);
- spontaneous magnetisation M(T) = (1 - sinh(2/T)^-4)^(1/8) for T < T_c, 0 above (announced by
  Onsager 1949, derived by Yang 1952, Phys. Rev. 85, 808);
- energy per spin u(T) = -coth(2β) [1 + (2/π)(2 tanh²(2β) - 1) K(k)], k = 2 sinh(2β) / cosh²(2β),
  K the complete elliptic integral of the first kind (Onsager 1944, Phys. Rev. 65, 117; the form of
  textbooks, e.g. Huang, "Statistical Mechanics", ch. 15).
"""

from __future__ import annotations

import math

import numpy as np

CRITICAL_TEMPERATURE = 2.0 / math.log(1.0 + math.sqrt(2.0))


def onsager_magnetisation(temperature) -> np.ndarray:
    """Spontaneous magnetisation per spin of the infinite lattice; 0 at and above T_c."""
    t = np.asarray(temperature, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        inner = 1.0 - np.sinh(2.0 / t) ** -4
    return np.where(t < CRITICAL_TEMPERATURE, np.clip(inner, 0, None) ** 0.125, 0.0)


def onsager_energy(temperature) -> np.ndarray:
    """Internal energy per spin of the infinite lattice (-2 at T = 0, -sqrt 2 at T_c, -> 0 as T -> inf)."""
    from scipy.special import ellipk

    beta2 = 2.0 / np.asarray(temperature, dtype=np.float64)
    k = 2.0 * np.sinh(beta2) / np.cosh(beta2) ** 2
    m = np.minimum(k**2, 1.0 - 1e-16)  # scipy's ellipk takes m = k^2; K diverges (only) at T_c, where its factor is 0
    return -(1.0 / np.tanh(beta2)) * (1.0 + (2.0 / np.pi) * (2.0 * np.tanh(beta2) ** 2 - 1.0) * ellipk(m))


def magnetisation(spins) -> np.ndarray:
    """Magnetisation per spin m = mean(s) of configurations [..., L, L] -> [...]."""
    return np.asarray(spins, dtype=np.float64).mean(axis=(-2, -1))


def energy(spins) -> np.ndarray:
    """Energy per spin -sum_<ij> s_i s_j / N on the periodic lattice, configurations [..., L, L] -> [...]
    (each bond counted once: right and down neighbours)."""
    s = np.asarray(spins, dtype=np.float64)
    bonds = s * np.roll(s, -1, axis=-1) + s * np.roll(s, -1, axis=-2)
    return -bonds.mean(axis=(-2, -1))


def neighbour_table(size: int) -> np.ndarray:
    """Flat indices [L*L, 4] of the right, left, down and up neighbours of each site (periodic)."""
    idx = np.arange(size * size).reshape(size, size)
    nbs = [np.roll(idx, -1, axis=1), np.roll(idx, 1, axis=1), np.roll(idx, -1, axis=0), np.roll(idx, 1, axis=0)]
    return np.stack(nbs, axis=-1).reshape(size * size, 4)


class WolffChains:
    """R independent L x L periodic Ising chains updated together by Wolff cluster flips.

    spins [R, L*L] int8 (±1); `energy` [R] (sum over bonds of -s_i s_j) and `magnet` [R] (sum of
    spins) are kept exact; `step()` flips one cluster per chain and returns the cluster sizes [R].
    """

    def __init__(self, spins: np.ndarray, temperature: float, rng: np.random.Generator):
        self.n_chains, n = spins.shape
        self.size = math.isqrt(n)
        self.spins = np.ascontiguousarray(spins, dtype=np.int8).ravel()  # flat [R * N]
        self.p_add = -math.expm1(-2.0 / temperature)  # 1 - exp(-2 J / T)
        self.rng = rng
        self.table = neighbour_table(self.size)
        self._in_cluster = np.zeros(self.spins.size, dtype=bool)
        lattice = self.lattices().astype(np.int64)
        bonds = lattice * np.roll(lattice, -1, -1) + lattice * np.roll(lattice, -1, -2)
        self.energy = -bonds.sum(axis=(1, 2))
        self.magnet = lattice.sum(axis=(1, 2))

    @property
    def n_sites(self) -> int:
        return self.size * self.size

    def lattices(self) -> np.ndarray:
        """The current configurations [R, L, L] int8 (a copy)."""
        return self.spins.reshape(self.n_chains, self.size, self.size).copy()

    def _neighbours(self, flat: np.ndarray) -> np.ndarray:
        """Flat indices [len(flat), 4] of the neighbours of flat sites (same chain)."""
        chain, site = np.divmod(flat, self.n_sites)
        return chain[:, None] * self.n_sites + self.table[site]

    def step(self) -> np.ndarray:
        n = self.n_sites
        seeds = np.arange(self.n_chains) * n + self.rng.integers(n, size=self.n_chains)
        sign = self.spins[seeds].astype(np.int64)  # the cluster's spin, per chain
        in_c = self._in_cluster
        in_c[seeds] = True
        frontier, members = seeds, [seeds]
        while frontier.size:
            cand = self._neighbours(frontier).ravel()
            same = self.spins[cand] == np.repeat(sign[frontier // n], 4)
            ok = same & ~in_c[cand] & (self.rng.random(cand.size) < self.p_add)
            frontier = np.unique(cand[ok])  # a site reached by several bonds joins once
            in_c[frontier] = True
            members.append(frontier)
        cluster = np.concatenate(members)
        chain = cluster // n
        nbr = self._neighbours(cluster)
        boundary = ~in_c[nbr]  # bonds leaving the cluster change sign; interior bonds do not
        before = (sign[chain][:, None] * self.spins[nbr] * boundary).sum(1)
        self.energy += 2 * np.bincount(chain, weights=before, minlength=self.n_chains).astype(np.int64)
        sizes = np.bincount(chain, minlength=self.n_chains)
        self.magnet -= 2 * sign * sizes
        self.spins[cluster] *= -1
        in_c[cluster] = False
        return sizes

    def run(self, steps: int) -> np.ndarray:
        """`steps` steps; returns the cluster sizes [steps, R]."""
        return np.array([self.step() for _ in range(steps)]).reshape(steps, self.n_chains)
