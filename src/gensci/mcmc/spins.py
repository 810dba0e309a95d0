"""Kernels for ±1 spin lattices (the Ising target, J = 1, periodic L x L, U = β H with H = -Σ_<ij> s_i s_j) on B
chains: single-spin Metropolis and heat-bath (Glauber) on a checkerboard sweep, and Wolff cluster flips.
They follow gensci.mcmc's Kernel protocol, so `run_chains(target("ising", L=8, beta=0.44), x0, Wolff(), ...)`
drives them; the state's energy is kept exact from the flips (no full re-evaluation).

What one "energy evaluation" is here (Counts.energy, per chain): the work of evaluating the energy of one full
lattice, i.e. reading the neighbours of all N = L² sites. So a checkerboard sweep (the local field at every site,
once) counts 1, and a Wolff move counts |C| / N, |C| the cluster size: growing the cluster reads the 4 neighbours of
each of its |C| sites and nothing else, the same per-site work as a sweep. With this unit "τ_int per energy
evaluation" compares the kernels by the work they do, and a continuous kernel's full energy call counts 1 too.
Wolff's fractional counts are carried over between steps (whole evaluations are added as they accumulate).

The accept_prob each step returns per chain: the mean flip probability over the N site proposals of a sweep
(Metropolis min(1, e^-ΔU), heat-bath its conditional flip probability); 1 for Wolff (rejection-free).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from gensci.errors import UserError
from gensci.mcmc.samplers import ChainState, Counted, Kernel
from gensci.ops.ising import WolffChains
from gensci.ops.random import sample_integers, sample_uniform


def local_field(s: Tensor) -> Tensor:
    """h_i = Σ of the 4 periodic neighbours of each site, spins [B, L, L] -> [B, L, L]; flipping s_i changes
    H = -Σ_<ij> s_i s_j by 2 s_i h_i."""
    return (torch.roll(s, 1, -1) + torch.roll(s, -1, -1) + torch.roll(s, 1, -2) + torch.roll(s, -1, -2))


def checkerboard(L: int, device: torch.device) -> Tensor:  # noqa: N803
    """[2, L, L] bool masks of the even and odd sites: no two sites of one colour are neighbours (L even)."""
    i = torch.arange(L, device=device)
    even = (i[:, None] + i[None, :]) % 2 == 0
    return torch.stack([even, ~even])


class SpinKernel(Kernel):
    """A kernel for the `space == "spins"` Ising target: no step size to tune, β read from the target."""

    def __init__(self):
        super().__init__(step_size=1.0)

    def check(self, target) -> None:
        if getattr(target, "space", None) != "spins" or not hasattr(target, "beta") or not hasattr(target, "L"):
            raise UserError(f"{type(self).__name__} samples the Ising target (spins ±1, target('ising', L=..., "
                            f"beta=...)); got {type(target).__name__}")

    def _adapt(self, accept_prob: Tensor) -> None:  # nothing to tune
        pass


class CheckerboardSweep(SpinKernel):
    """One step = one sweep: every even site, then every odd site, each given a single-spin update with the
    probability `flip_probability(s, h, β)`. Sites of one colour share no bond, so updating them together is the
    same as updating them one after another; each half-sweep satisfies detailed balance, so the sweep leaves
    exp(-βH) invariant. Needs even L (otherwise the periodic boundary joins sites of one colour)."""

    @staticmethod
    def flip_probability(s: Tensor, h: Tensor, beta: float) -> Tensor:
        raise NotImplementedError

    def check(self, target) -> None:
        super().check(target)
        if target.L % 2:
            raise UserError(f"the checkerboard sweep needs an even lattice size L, got L = {target.L}")

    def _transition(self, state: ChainState, f: Counted, generator) -> tuple[ChainState, Tensor]:
        beta = f.target.beta
        s = state.x
        delta_h = torch.zeros(s.shape[0], dtype=state.energy.dtype, device=s.device)
        prob_sum = torch.zeros_like(delta_h)
        for mask in checkerboard(s.shape[-1], s.device):
            h = local_field(s)
            p = self.flip_probability(s, h, beta) * mask
            flip = sample_uniform(s.shape, generator, s.device, p.dtype) < p
            delta_h += (2 * s * h * flip).flatten(1).sum(1).to(delta_h.dtype)
            prob_sum += p.flatten(1).sum(1).to(delta_h.dtype)
            s = torch.where(flip, -s, s)
            f.counts.proposals += int(mask.sum()) * s.shape[0]
            f.counts.accepted += int(flip.sum())
        f.counts.energy += s.shape[0]  # the local field at every site once: one lattice energy (module docstring)
        n_sites = s.shape[-1] * s.shape[-2]
        return ChainState(s, state.energy + beta * delta_h), prob_sum / n_sites


class SpinMetropolis(CheckerboardSweep):
    """Single-spin Metropolis: flip s_i with probability min(1, exp(-2β s_i h_i)) (Metropolis et al. 1953)."""

    @staticmethod
    def flip_probability(s, h, beta):
        return torch.exp(-2 * beta * s * h).clamp(max=1.0)


class HeatBath(CheckerboardSweep):
    """Heat-bath (Glauber 1963): draw s_i from its conditional, P(s_i = +1 | rest) = 1 / (1 + exp(-2β h_i)),
    so the flip probability is 1 / (1 + exp(2β s_i h_i)), whatever the current s_i."""

    @staticmethod
    def flip_probability(s, h, beta):
        return torch.sigmoid(-2 * beta * s * h)


class Wolff(SpinKernel):
    """One step = one Wolff cluster flip per chain (Wolff 1989, Phys. Rev. Lett. 62, 361): a uniform seed site,
    bonds to same-spin neighbours added with probability 1 - exp(-2βJ), the cluster flipped (always accepted).

    The cluster growth is gensci.ops.ising.WolffChains (numpy, vectorised over chains), shared with the Ising data
    set rather than rewritten in torch: it is a data-dependent breadth-first search that gains little from torch,
    and one implementation keeps the data set and this baseline the same sampler. Each step moves the spins to
    numpy and back (the kernel runs on CPU arrays whatever the tensors' device) and seeds a numpy generator with
    one draw from the torch generator, so a seeded run is reproducible."""

    def __init__(self):
        super().__init__()
        self._site_carry = 0  # cluster sites not yet counted as whole energy evaluations

    def _transition(self, state: ChainState, f: Counted, generator) -> tuple[ChainState, Tensor]:

        beta, s = f.target.beta, state.x
        b, L = s.shape[0], s.shape[-1]  # noqa: N806
        seed = int(sample_integers(0, 2**62, (1,), generator, s.device))
        spins = s.detach().cpu().numpy().astype(np.int8).reshape(b, L * L)
        chains = WolffChains(spins, 1.0 / beta, np.random.default_rng(seed))  # p_add = 1 - exp(-2 / T), T = 1 / β
        sizes = chains.step()
        self._site_carry += int(sizes.sum())
        f.counts.energy += self._site_carry // (L * L)  # |C| / N evaluations per move (module docstring)
        self._site_carry %= L * L
        f.counts.proposals += b
        f.counts.accepted += b
        x = torch.from_numpy(chains.lattices()).to(s.device, s.dtype)
        energy = beta * torch.from_numpy(chains.energy).to(state.energy.device, state.energy.dtype)
        return ChainState(x, energy), torch.ones(b, dtype=state.energy.dtype, device=s.device)


def random_spins(n: int, L: int, generator: torch.Generator | None = None, dtype: torch.dtype = torch.float64,  # noqa: N803
                 device: torch.device | str = "cpu") -> Tensor:
    """n uniformly random ±1 lattices [n, L, L] (a hot start)."""
    return (2 * sample_integers(0, 2, (n, L, L), generator, torch.device(device)) - 1).to(dtype)


__all__ = ["CheckerboardSweep", "HeatBath", "SpinKernel", "SpinMetropolis", "Wolff", "checkerboard",
           "local_field", "random_spins"]
