"""A learned local proposal x1 -> x2 = x1 + mu(x1) + sigma(x1) * eps, eps ~ N(0, I), where a small MLP gives the mean
shift mu and the log-scale log sigma per dimension. q(x2 | x1) is Gaussian, so the reverse density q(x1 | x2) is
computable and Metropolis-Hastings with p(x2) q(x1 | x2) / (p(x1) q(x2 | x1)) makes the chain exact for any weights.

Training maximises the expected acceptance-weighted squared jump S = E[p_acc(x1 -> x2) ||x2 - x1||^2], the delta of
L2HMC (Levy, Hoffman & Sohl-Dickstein, ICLR 2018; brain-research/l2hmc SCGExperiment.ipynb), with x1 the chains'
current states (the chains advance while training, as there) and p_acc = min(1, ratio) differentiated through the
reparameterised eps. We maximise S itself rather than L2HMC's lambda^2/delta - delta/lambda^2: the 1/delta term is
infinite for a rejected proposal (L2HMC adds 1e-4 to delta), which on a multi-modal target punishes exactly the rare
long jumps between modes that S rewards; S is bounded by the target's spread and needs neither lambda nor the floor.

    kernel = LearnedProposal(dim=2, seed=0)
    fit = train_learned_proposal(kernel, target, x0, steps=500, generator=torch.Generator().manual_seed(0))
    result = run_chains(target, fit.state.x, kernel, n_steps=2000)   # exact MH with the frozen weights
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn

from gensci.errors import UserError
from gensci.mcmc.samplers import ChainState, Counted, Counts, Kernel, init_state, metropolis
from gensci.ops.random import sample_normal
from gensci.progress import Progress

LOG_SCALE_BOUNDS = (-7.0, 3.0)  # sigma in [1e-3, 20]: keeps exp finite and the reverse density well-conditioned


class LearnedProposal(Kernel):
    """Metropolis-Hastings with the learned Gaussian proposal (module docstring). `scale` is sigma at zero network
    output; the weights are initialised from torch's default with `seed` (the global RNG is left untouched).
    Nothing adapts during warm-up: training is `train_learned_proposal`."""

    def __init__(self, dim: int, hidden: int = 32, scale: float = 1.0, seed: int = 0):
        super().__init__(step_size=scale)
        if dim < 1 or hidden < 1:
            raise UserError(f"LearnedProposal needs dim >= 1 and hidden >= 1, got {dim}, {hidden}")
        self.dim, self.log_scale = int(dim), math.log(scale)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.net = nn.Sequential(nn.Linear(dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                                     nn.Linear(hidden, 2 * dim))

    def _adapt(self, accept_prob: Tensor) -> None:  # the weights are trained, not adapted
        pass

    def shift_and_log_scale(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """mu(x) and log sigma(x), each [B, dim], of flattened states x [B, dim]."""
        self.net.to(device=x.device, dtype=x.dtype)
        mu, raw = self.net(x).chunk(2, dim=-1)
        return mu, (self.log_scale + raw).clamp(*LOG_SCALE_BOUNDS)

    def log_q(self, x_to: Tensor, x_from: Tensor) -> Tensor:
        """log q(x_to | x_from) [B] of flattened states, up to the constant -dim/2 log 2 pi (it cancels)."""
        mu, log_sigma = self.shift_and_log_scale(x_from)
        z = (x_to - x_from - mu) * torch.exp(-log_sigma)
        return -(0.5 * z**2 + log_sigma).sum(-1)

    def propose(self, x: Tensor, f: Counted, generator) -> tuple[ChainState, Tensor]:
        """A proposal from x [B, ...] (differentiable in the weights when grad is on): the proposed state (energy
        counted) and the MH log ratio [B]."""
        flat = x.flatten(1)
        if flat.shape[1] != self.dim:
            raise UserError(f"LearnedProposal was built for dim {self.dim}, the states have {flat.shape[1]} dims")
        mu, log_sigma = self.shift_and_log_scale(flat)
        eps = sample_normal(flat.shape, generator, flat.device, flat.dtype)
        flat2 = flat + mu + torch.exp(log_sigma) * eps
        x2 = flat2.view_as(x)
        energy2 = f.energy(x2)
        log_fwd = -(0.5 * eps**2 + log_sigma).sum(-1)  # the same as log_q(flat2, flat), without a second forward
        return ChainState(x2, energy2), self.log_q(flat, flat2) - log_fwd - energy2

    def _transition(self, state, f, generator):
        proposed, log_ratio = self.propose(state.x, f, generator)
        return metropolis(replace(state, grad=None, log_q=None), proposed, log_ratio + state.energy, f.counts,
                          generator)


@dataclass
class LearnedTraining:
    objective: list[float]  # S = mean p_acc * ||x2 - x1||^2 over the chains, per training step
    acceptance: list[float]  # mean p_acc per training step
    counts: Counts  # training's own energy (and backpropagated gradient) evaluations
    state: ChainState  # the chains after training, to continue from


def train_learned_proposal(kernel: LearnedProposal, target, x0: Tensor, steps: int, lr: float = 1e-3,
                           generator: torch.Generator | None = None, progress: bool = True) -> LearnedTraining:
    """Maximise S (module docstring) by Adam at `lr` (L2HMC's 1e-3, SCGExperiment.ipynb) for `steps` steps on the B
    chains started at x0 [B, ...]; each step also advances the chains by the MH step of its proposals. The target's
    energy must be differentiable by autograd. Counts: B energies and B gradients (the backward pass) per step."""
    if steps < 1 or lr <= 0:
        raise UserError(f"training needs steps >= 1 and lr > 0, got {steps}, {lr}")
    f = Counted(target)
    with torch.no_grad():
        state = init_state(f, x0)
    kernel.net.to(device=x0.device, dtype=x0.dtype)
    opt = torch.optim.Adam(kernel.net.parameters(), lr=lr)
    objective, acceptance = [], []
    with Progress("learned proposal: step", total=steps, enabled=progress) as bar:
        for step in range(1, steps + 1):
            proposed, log_ratio = kernel.propose(state.x, f, generator)
            log_ratio = log_ratio + state.energy
            finite = torch.isfinite(log_ratio)
            p_acc = torch.where(finite, log_ratio, torch.zeros_like(log_ratio)).clamp(max=0).exp() * finite
            jump = ((proposed.x - state.x) ** 2).flatten(1).sum(1)
            s = (p_acc * jump).mean()
            opt.zero_grad()
            (-s).backward()
            f.counts.gradient += x0.shape[0]  # backprop through U(x2): one gradient per chain
            opt.step()
            proposed = ChainState(proposed.x.detach(), proposed.energy.detach())
            with torch.no_grad():
                state, _ = metropolis(state, proposed, log_ratio.detach(), f.counts, generator)
            objective.append(float(s.detach()))
            acceptance.append(float(p_acc.detach().mean()))
            bar.update(step, s=f"{objective[-1]:.4g}", acc=f"{acceptance[-1]:.3f}")
    return LearnedTraining(objective, acceptance, f.counts, state)
