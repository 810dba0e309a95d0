"""Classical MCMC kernels on B independent chains advanced together: random-walk Metropolis, MALA, HMC,
independence Metropolis-Hastings with any proposal (what a flow plugs in), and the flow + MALA mixture.

A target is any object with `energy(x) -> [B]` (U, so p(x) is proportional to exp(-U(x))); MALA and HMC also
need `has_gradient` true and use `grad_energy(x)` if the target has one, autograd of U otherwise. Every call is
counted in `Counts` (energies and gradients per chain state), since samplers are compared by ESS per energy
evaluation. A proposal whose energy, log-density or acceptance ratio is not finite is rejected and counted in
`Counts.nonfinite`: the chain stays where it was.

Step sizes adapt during warm-up by dual averaging (Hoffman & Gelman 2014, JMLR 15, "The No-U-Turn Sampler",
sec. 3.2, Algorithm 5, with their gamma = 0.05, t0 = 10, kappa = 0.75) on the mean acceptance probability
of the B chains, one step size shared by all; `freeze()` then fixes the averaged step size, so the chain that
is measured is an exact (non-adaptive) Markov chain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Protocol

import torch
from torch import Tensor

from gensci.errors import UserError
from gensci.ops.random import sample_normal, sample_uniform


class Proposal(Protocol):
    """An independence proposal q: `sample(n, generator) -> (x [n, ...], log q(x) [n])`, `log_prob(x) -> [n]`."""

    def sample(self, n: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]: ...

    def log_prob(self, x: Tensor) -> Tensor: ...


@dataclass
class Counts:
    """What a run cost and did, summed over chains: one energy per chain state is one evaluation."""

    energy: int = 0
    gradient: int = 0
    proposals: int = 0
    accepted: int = 0
    nonfinite: int = 0  # proposals rejected because their energy, log q or acceptance ratio was not finite


@dataclass
class ChainState:
    """The B chains: positions x [B, ...], their energies [B], and cached gradients / proposal log-densities."""

    x: Tensor
    energy: Tensor
    grad: Tensor | None = None
    log_q: Tensor | None = None  # the independence proposal's log q(x), when known


@dataclass
class Counted:
    """A target whose energy and gradient calls are counted."""

    target: object
    counts: Counts = field(default_factory=Counts)

    def energy(self, x: Tensor) -> Tensor:
        self.counts.energy += x.shape[0]
        return self.target.energy(x)

    def grad(self, x: Tensor) -> Tensor:
        self.counts.gradient += x.shape[0]
        grad_energy = getattr(self.target, "grad_energy", None)
        if callable(grad_energy):
            return grad_energy(x)
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(self.target.energy(xg).sum(), xg)
        return g.detach()


def has_gradient(target) -> bool:
    return bool(getattr(target, "has_gradient", callable(getattr(target, "grad_energy", None))))


def init_state(f: Counted, x0: Tensor, need_grad: bool = False) -> ChainState:
    """The chains at x0 [B, ...]; a UserError when the energy is not finite at a start state."""
    energy = f.energy(x0)
    if energy.shape != x0.shape[:1]:
        raise UserError(f"the target's energy returned shape {tuple(energy.shape)} for {x0.shape[0]} states; "
                        f"it must return one energy per state, shape [{x0.shape[0]}]")
    bad = ~torch.isfinite(energy)
    if bad.any():
        first = int(bad.nonzero()[0, 0])
        raise UserError(f"the energy is not finite at {int(bad.sum())} of {x0.shape[0]} start states (first: chain "
                        f"{first}, energy {energy[first].item()}); start the chains where the target is finite")
    return ChainState(x0, energy, f.grad(x0) if need_grad else None)


def _sum_event(t: Tensor) -> Tensor:
    return t.flatten(1).sum(1)


def _select(accept: Tensor, new: Tensor | None, old: Tensor | None) -> Tensor | None:
    if new is None or old is None:
        return None
    return torch.where(accept.view(-1, *[1] * (new.dim() - 1)), new, old)


def metropolis(state: ChainState, proposed: ChainState, log_ratio: Tensor, counts: Counts,
               generator: torch.Generator | None) -> tuple[ChainState, Tensor]:
    """Accept each chain's proposal with probability min(1, exp(log_ratio)); non-finite ones are rejected.
    Returns the new state and the acceptance probabilities [B]."""
    finite = torch.isfinite(log_ratio) & torch.isfinite(proposed.energy) & torch.isfinite(proposed.x).flatten(1).all(1)
    log_ratio = torch.where(finite, log_ratio, torch.full_like(log_ratio, -math.inf))
    u = sample_uniform(log_ratio.shape, generator, log_ratio.device, log_ratio.dtype)
    accept = torch.log(u) < log_ratio
    counts.proposals += accept.numel()
    counts.accepted += int(accept.sum())
    counts.nonfinite += int((~finite).sum())
    new = ChainState(_select(accept, proposed.x, state.x), _select(accept, proposed.energy, state.energy),
                     _select(accept, proposed.grad, state.grad), _select(accept, proposed.log_q, state.log_q))
    return new, log_ratio.clamp(max=0).exp()


class DualAveraging:
    """Hoffman & Gelman 2014, Algorithm 5 (gamma 0.05, t0 10, kappa 0.75; mu = log(10 eps0)): drives the
    acceptance probability toward `target`; `averaged` is the step size to freeze after warm-up."""

    def __init__(self, step_size: float, target: float, gamma: float = 0.05, t0: float = 10.0, kappa: float = 0.75):
        self.target, self.gamma, self.t0, self.kappa = target, gamma, t0, kappa
        self.mu = math.log(10 * step_size)
        self.t, self.h_bar, self.log_avg = 0, 0.0, 0.0
        self.step_size = self.averaged = step_size

    def update(self, accept_prob: float) -> float:
        self.t += 1
        w = 1.0 / (self.t + self.t0)
        self.h_bar = (1 - w) * self.h_bar + w * (self.target - accept_prob)
        log_eps = self.mu - math.sqrt(self.t) / self.gamma * self.h_bar
        eta = self.t ** -self.kappa
        self.log_avg = eta * log_eps + (1 - eta) * self.log_avg
        self.step_size, self.averaged = math.exp(log_eps), math.exp(self.log_avg)
        return self.step_size


class Kernel:
    """One transition of all B chains. `step(state, f, generator, adapt)` returns (state, acceptance prob [B]);
    with adapt=True the step size moves toward `target_acceptance`; `freeze()` ends adaptation."""

    needs_gradient = False
    target_acceptance = 0.5

    def __init__(self, step_size: float = 0.1, target_acceptance: float | None = None):
        if step_size <= 0:
            raise UserError(f"the step size must be positive, got {step_size}")
        self.step_size = float(step_size)
        if target_acceptance is not None:
            self.target_acceptance = float(target_acceptance)
        self._adapter: DualAveraging | None = None

    def check(self, target) -> None:
        if self.needs_gradient and not has_gradient(target):
            raise UserError(f"{type(self).__name__} needs the energy's gradient, and this target has none "
                            f"(has_gradient is false); use one that needs none (RandomWalkMetropolis for a continuous space)")

    def _adapt(self, accept_prob: Tensor) -> None:
        if self._adapter is None:
            self._adapter = DualAveraging(self.step_size, self.target_acceptance)
        self.step_size = self._adapter.update(float(accept_prob.mean()))

    def freeze(self) -> None:
        if self._adapter is not None:
            self.step_size, self._adapter = self._adapter.averaged, None

    def step(self, state: ChainState, f: Counted, generator, adapt: bool = False) -> tuple[ChainState, Tensor]:
        state, accept_prob = self._transition(state, f, generator)
        if adapt:
            self._adapt(accept_prob)
        return state, accept_prob

    def _transition(self, state: ChainState, f: Counted, generator) -> tuple[ChainState, Tensor]:
        raise NotImplementedError


class RandomWalkMetropolis(Kernel):
    """x' = x + eps xi, xi ~ N(0, I). Target acceptance 0.234 (Roberts, Gelman & Gilks 1997, Ann. Appl. Probab.
    7, 110: the optimum as the dimension grows)."""

    target_acceptance = 0.234

    def _transition(self, state, f, generator):
        x = state.x + self.step_size * sample_normal(state.x.shape, generator, state.x.device, state.x.dtype)
        proposed = ChainState(x, f.energy(x))
        return metropolis(state, proposed, state.energy - proposed.energy, f.counts, generator)


class MALA(Kernel):
    """Metropolis-adjusted Langevin: x' = x - (eps^2 / 2) grad U(x) + eps xi, with the Hastings correction of
    the Gaussian proposal. Target acceptance 0.574 (Roberts & Rosenthal 1998, JRSS B 60, 255)."""

    needs_gradient = True
    target_acceptance = 0.574

    def _transition(self, state, f, generator):
        if state.grad is None:
            state = replace(state, grad=f.grad(state.x))
        eps = self.step_size
        noise = sample_normal(state.x.shape, generator, state.x.device, state.x.dtype)
        x = state.x - 0.5 * eps**2 * state.grad + eps * noise
        proposed = ChainState(x, f.energy(x), f.grad(x))
        log_q_fwd = -0.5 * _sum_event(noise**2)
        log_q_back = -_sum_event((state.x - x + 0.5 * eps**2 * proposed.grad) ** 2) / (2 * eps**2)
        log_ratio = state.energy - proposed.energy + log_q_back - log_q_fwd
        return metropolis(replace(state, log_q=None), proposed, log_ratio, f.counts, generator)


class HMC(Kernel):
    """Hamiltonian Monte Carlo with unit mass: L leapfrog steps of size eps, accepted on exp(H - H').
    Target acceptance 0.65 (Hoffman & Gelman 2014 sec. 3.2; Beskos et al. 2013, Bernoulli 19, 1501: 0.651).
    `jitter` > 0 draws each chain's step size uniformly in eps (1 +- jitter) at every step: a trajectory whose
    length is near a half period of some direction maps x to about -x there and barely moves the energy; a random
    length breaks that resonance and keeps the chain exact (Neal 2011, "MCMC using Hamiltonian dynamics", Handbook
    of MCMC ch. 5, which suggests randomising the step size for this reason)."""

    needs_gradient = True
    target_acceptance = 0.65

    def __init__(self, step_size: float = 0.1, n_leapfrog: int = 10, target_acceptance: float | None = None,
                 jitter: float = 0.0):
        super().__init__(step_size, target_acceptance)
        if n_leapfrog < 1:
            raise UserError(f"HMC needs at least one leapfrog step, got {n_leapfrog}")
        if not 0 <= jitter < 1:
            raise UserError(f"HMC's jitter must lie in [0, 1), got {jitter}")
        self.n_leapfrog, self.jitter = int(n_leapfrog), float(jitter)

    def _transition(self, state, f, generator):
        if state.grad is None:
            state = replace(state, grad=f.grad(state.x))
        x = state.x
        eps = torch.full((x.shape[0], *[1] * (x.dim() - 1)), self.step_size, dtype=x.dtype, device=x.device)
        if self.jitter:
            eps = eps * (1 + self.jitter * (2 * sample_uniform(eps.shape, generator, x.device, x.dtype) - 1))
        p0 = sample_normal(x.shape, generator, x.device, x.dtype)
        x, p = state.x, p0 - 0.5 * eps * state.grad
        for i in range(self.n_leapfrog):
            x = x + eps * p
            g = f.grad(x)
            p = p - (eps if i < self.n_leapfrog - 1 else 0.5 * eps) * g
        proposed = ChainState(x, f.energy(x), g)
        log_ratio = state.energy - proposed.energy + 0.5 * _sum_event(p0**2) - 0.5 * _sum_event(p**2)
        return metropolis(replace(state, log_q=None), proposed, log_ratio, f.counts, generator)


class IndependenceMH(Kernel):
    """Independence Metropolis-Hastings: x' ~ q, accepted with min(1, p(x') q(x) / (p(x) q(x'))), in log space
    (Albergo, Kanwar & Shanahan 2019, PRD 100 034515). The proposal needs `log_prob` only when the
    current state's log q is unknown (the chains did not start from q, or a local move has moved them)."""

    def __init__(self, proposal: Proposal):
        super().__init__(step_size=1.0)
        self.proposal = proposal

    def _adapt(self, accept_prob: Tensor) -> None:  # nothing to tune
        pass

    def _transition(self, state, f, generator):
        if state.log_q is None:
            log_prob = getattr(self.proposal, "log_prob", None)
            if not callable(log_prob):
                raise UserError("the independence proposal has no log_prob, so it cannot score chains that did not "
                                "start from it; start the chains from proposal.sample or give it a log_prob")
            state = replace(state, log_q=log_prob(state.x))
        x, log_q = self.proposal.sample(state.x.shape[0], generator)
        x = x.to(state.x.device, state.x.dtype)
        proposed = ChainState(x, f.energy(x), None, log_q.to(state.energy))
        log_ratio = state.energy - proposed.energy + state.log_q - proposed.log_q
        return metropolis(state, proposed, log_ratio, f.counts, generator)  # proposals carry no gradient: dropped


class FlowMALA(Kernel):
    """The flow + local mixture of Gabrie, Rotskoff & Vanden-Eijnden 2022 (PNAS 119 e2109420119): each step is
    `flow_moves` independence moves from the proposal, then `local_moves` MALA moves. Adaptation tunes the MALA step size
    only; the acceptance reported is the independence moves' mean."""

    needs_gradient = True

    def __init__(self, proposal: Proposal, step_size: float = 0.1, flow_moves: int = 1, local_moves: int = 1,
                 target_acceptance: float | None = None):
        super().__init__(step_size)
        if flow_moves < 1 or local_moves < 0:
            raise UserError(f"FlowMALA needs flow_moves >= 1 and local_moves >= 0, got {flow_moves}, {local_moves}")
        self.flow, self.local = IndependenceMH(proposal), MALA(step_size, target_acceptance)
        self.flow_moves, self.local_moves = int(flow_moves), int(local_moves)

    def freeze(self) -> None:
        self.local.freeze()
        self.step_size = self.local.step_size

    def step(self, state, f, generator, adapt: bool = False):
        probs = []
        for _ in range(self.flow_moves):
            state, p = self.flow.step(state, f, generator)
            probs.append(p)
        for _ in range(self.local_moves):
            state, _ = self.local.step(state, f, generator, adapt)
        self.step_size = self.local.step_size
        return state, torch.stack(probs).mean(0)
