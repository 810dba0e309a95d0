"""Run B chains of one kernel: warm-up (step-size adaptation, then frozen), then the recorded chain.

    result = run_chains(target, x0, HMC(step_size=0.1, n_leapfrog=10), n_steps=2000, warmup=500,
                        generator=torch.Generator().manual_seed(0))
    result.samples        # [n_steps, B, ...]; the warm-up is not recorded
    result.counts.energy  # energy evaluations, warm-up included (what ESS per evaluation divides by)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from gensci.errors import UserError
from gensci.mcmc.samplers import ChainState, Counted, Counts, Kernel, init_state


@dataclass
class ChainResult:
    samples: Tensor  # [n_steps, B, ...] after warm-up
    energies: Tensor  # [n_steps, B]
    accept_prob: Tensor  # [n_steps, B], the acceptance probability of each recorded step
    step_size: float  # the frozen step size the recorded chain used
    counts: Counts  # warm-up included
    state: ChainState  # the last state, to continue from

    @property
    def acceptance(self) -> float:
        """Mean acceptance probability of the recorded steps."""
        return float(self.accept_prob.mean())


def run_chains(target, x0: Tensor, kernel: Kernel, n_steps: int, warmup: int = 0,
               generator: torch.Generator | None = None, adapt: bool = True, thin: int = 1) -> ChainResult:
    """Advance the B chains that start at x0 [B, ...] by `warmup` adapting steps (when `adapt`), freeze the
    step size, then record every `thin`-th of `n_steps` * thin steps."""
    if n_steps < 1 or warmup < 0 or thin < 1:
        raise UserError(f"need n_steps >= 1, warmup >= 0 and thin >= 1, got {n_steps}, {warmup}, {thin}")
    kernel.check(target)
    f = Counted(target)
    with torch.no_grad():
        state = init_state(f, x0, kernel.needs_gradient)
        for _ in range(warmup):
            state, _ = kernel.step(state, f, generator, adapt=adapt)
        kernel.freeze()
        samples, energies, probs = [], [], []
        for i in range(n_steps * thin):
            state, p = kernel.step(state, f, generator)
            if (i + 1) % thin == 0:
                samples.append(state.x)
                energies.append(state.energy)
                probs.append(p)
    return ChainResult(torch.stack(samples), torch.stack(energies), torch.stack(probs), kernel.step_size,
                       f.counts, state)
