"""Normalising-flow proposals trained on an energy (issue 26, item 2): a zuko flow over the target's flattened event,
trained by reverse KL (energy only), forward KL (samples) or both, then used exactly: importance sampling (log Z,
ESS) and as the proposal of `IndependenceMH` / `FlowMALA`.

    gmm, g = target("gmm-40"), torch.Generator().manual_seed(0)
    proposal = FlowProposal(gmm, generator=g)
    run = train_flow(proposal, gmm, loss="forward_kl", steps=2000, samples=gmm.sample(100_000, g).float(), generator=g)
    importance_sampling(proposal, gmm, 20_000, g)   # {"log_z", "error", "ess_fraction", "samples", ...}
    run_chains(gmm, proposal.sample(64, g)[0], IndependenceMH(proposal), n_steps=1000, generator=g)

The flow acts on standardised coordinates y = (x - shift) / scale: zuko's splines act on [-5, 5] (identity outside)
and its base is N(0, I), so the scale should put the target's mass within a few units. Sampling draws the base noise
from the caller's torch.Generator and pushes it through the inverse transform, so it is seeded per generator (zuko's
own `sample` uses torch's global RNG).

Losses (Noé, Olsson, Köhler & Wu, Science 365 eaaw1147 (2019), "Boltzmann generators": J_KL and J_ML, combined as a
weighted sum): reverse KL E_q[U(x) + log q(x)] (= KL(q || p) - log Z, so it needs only the energy, and is mode-seeking:
Midgley et al., ICLR 2023, "Flow annealed importance sampling bootstrap", abstract), forward KL -E_p[log q(x)] over
given samples (mass-covering, but needs samples of p: exact ones, or MCMC's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor

from gensci.errors import UserError
from gensci.metrics.sampling import kish_ess_fraction, log_partition
from gensci.ops.random import sample_integers, sample_normal
from gensci.progress import Progress

FLOWS = ("nsf", "realnvp")
LOSSES = ("reverse_kl", "forward_kl", "both")


def default_standardisation(target) -> tuple[float, float]:
    """(shift, scale) for a target: a box of means uniform in [-a, a] (GMM-40's loc_scaling a = 40) has per-dimension
    standard deviation a / sqrt(3); otherwise (0, 1), the targets' natural units (wells, lattices)."""
    a = getattr(target, "loc_scaling", None)
    return 0.0, (float(a) / math.sqrt(3.0) if a else 1.0)


class FlowProposal(torch.nn.Module):
    """A zuko flow q(x) on the target's event shape, an exact proposal: `sample(n, generator) -> (x, log q(x))` and
    `log_prob(x)`, as `IndependenceMH` expects. flow: "nsf" (rational-quadratic spline couplings, zuko.flows.NSF with
    passes=2, so both directions cost one pass) or "realnvp" (affine couplings); transforms, hidden: its depth and
    MLP widths; shift, scale: the standardisation (default from the target, `default_standardisation`). The weights
    are initialised from torch's global RNG unless `generator` is given (then seeded by it)."""

    def __init__(self, target, flow: Literal["nsf", "realnvp"] = "nsf", transforms: int = 4,
                 hidden: tuple[int, ...] = (64, 64), shift: float | None = None, scale: float | None = None,
                 generator: torch.Generator | None = None):
        super().__init__()
        import zuko  # imported here: only the flow proposals need it

        if getattr(target, "space", "continuous") != "continuous":
            raise UserError(f"a flow proposal needs a continuous target; {getattr(target, 'name', target)!r} "
                            f"has space {target.space!r}")
        if flow not in FLOWS:
            raise UserError(f"unknown flow {flow!r}; choose one of {', '.join(FLOWS)}")
        if transforms < 1 or not hidden or min(hidden) < 1:
            raise UserError(f"a flow needs transforms >= 1 and positive hidden widths, got {transforms}, {hidden}")
        default_shift, default_scale = default_standardisation(target)
        self.shift = float(default_shift if shift is None else shift)
        self.scale = float(default_scale if scale is None else scale)
        if not (self.scale > 0 and math.isfinite(self.scale)):
            raise UserError(f"the flow's scale must be a positive number, got {scale}")
        self.event_shape = tuple(target.event_shape)
        self.features = math.prod(self.event_shape)
        fork = [generator.device] if generator is not None and generator.device.type != "cpu" else []
        with torch.random.fork_rng(devices=fork, enabled=generator is not None):
            if generator is not None:
                torch.manual_seed(int(torch.randint(2**62, (), generator=generator, device=generator.device)))
            if flow == "nsf":
                self.flow = zuko.flows.NSF(self.features, transforms=transforms, hidden_features=list(hidden),
                                           passes=2)
            else:
                self.flow = zuko.flows.RealNVP(self.features, transforms=transforms, hidden_features=list(hidden))

    def _param(self) -> Tensor:
        return next(self.flow.parameters())

    def rsample(self, n: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        """n samples [n, *event_shape] and their log q [n], differentiable in the flow's weights."""
        p = self._param()
        dist = self.flow()
        z = sample_normal((n, self.features), generator, p.device, p.dtype)
        y, ladj = dist.transform.inv.call_and_ladj(z)  # ladj = log |det dy/dz|
        log_q = dist.base.log_prob(z) - ladj - self.features * math.log(self.scale)
        return (self.shift + self.scale * y).reshape(n, *self.event_shape), log_q

    def sample(self, n: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        with torch.no_grad():
            return self.rsample(n, generator)

    def log_prob(self, x: Tensor) -> Tensor:
        """log q(x) [B] of x [B, *event_shape] (any dtype or device: moved to the flow's, returned in x's)."""
        p = self._param()
        y = (x.reshape(x.shape[0], -1).to(p) - self.shift) / self.scale
        return (self.flow().log_prob(y) - self.features * math.log(self.scale)).to(x.dtype)


def _energy(target, x: Tensor) -> Tensor:
    """U(x) in float64 (GMM-40's log-sum-exp and the wells' quartics lose digits in float32), returned in x's dtype."""
    return target.energy(x.double()).to(x.dtype)


@dataclass
class FlowTraining:
    """What `train_flow` did: history rows {"step", "loss", "ess_fraction"} every `eval_every` steps (ESS/N of a
    held-out batch of `eval_batch` fresh flow samples); energy evaluations of the loss (`energy_evaluations`) and of
    the held-out checks (`eval_energy_evaluations`), counted apart so that ESS per evaluation can include or not the
    monitoring."""

    history: list[dict[str, float]] = field(default_factory=list)
    energy_evaluations: int = 0
    eval_energy_evaluations: int = 0


def log_weights(proposal: FlowProposal, target, n: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
    """n flow samples [n, ...] and their importance log-weights -U(x) - log q(x) [n] (float64)."""
    x, log_q = proposal.sample(n, generator)
    return x, -target.energy(x.double()) - log_q.double()


def train_flow(proposal: FlowProposal, target, loss: Literal["reverse_kl", "forward_kl", "both"] = "reverse_kl",
               steps: int = 1000, batch: int = 256, lr: float = 1e-3, samples: Tensor | None = None,
               generator: torch.Generator | None = None, forward_weight: float = 1.0, eval_every: int = 100,
               eval_batch: int = 1024, max_grad_norm: float | None = None, progress: bool = True) -> FlowTraining:
    """Train `proposal` in place with Adam. loss: "reverse_kl" E_q[U + log q] (batch flow samples, one energy each),
    "forward_kl" -E_p[log q] over `batch` rows drawn from `samples` [M, *event_shape] (no energy), or "both":
    reverse + forward_weight * forward (Noé et al. 2019's w_KL J_KL + w_ML J_ML, 1:1 in their Fig. 2 notebook).
    max_grad_norm clips the gradient (a reverse-KL batch with one sample deep in a tail can throw the weights far).
    A non-finite loss stops with a one-line UserError naming the step."""
    if loss not in LOSSES:
        raise UserError(f"unknown flow loss {loss!r}; choose one of {', '.join(LOSSES)}")
    if steps < 1 or batch < 1 or eval_every < 1 or eval_batch < 2 or not lr > 0:
        raise UserError(f"need steps, batch, eval_every >= 1, eval_batch >= 2 and lr > 0; got {steps}, {batch}, "
                        f"{eval_every}, {eval_batch}, {lr}")
    p = proposal._param()
    if loss != "reverse_kl":
        if samples is None or samples.shape[0] < 1:
            raise UserError(f"loss {loss!r} needs samples of the target (exact ones, or an MCMC run's); got none")
        if tuple(samples.shape[1:]) != proposal.event_shape:
            raise UserError(f"samples have event shape {tuple(samples.shape[1:])}, the flow "
                            f"{proposal.event_shape}")
        samples = samples.to(p.device, p.dtype)
    run = FlowTraining()
    opt = torch.optim.Adam(proposal.parameters(), lr=lr)
    with Progress("flow training: step", total=steps, enabled=progress) as bar:
        for step in range(1, steps + 1):
            value = torch.zeros((), device=p.device, dtype=p.dtype)
            if loss != "forward_kl":
                x, log_q = proposal.rsample(batch, generator)
                value = value + (_energy(target, x) + log_q).mean()
                run.energy_evaluations += batch
            if loss != "reverse_kl":
                rows = sample_integers(0, samples.shape[0], (batch,), generator, p.device)
                value = value - (forward_weight if loss == "both" else 1.0) * proposal.log_prob(samples[rows]).mean()
            if not torch.isfinite(value):
                raise UserError(f"flow training: the {loss} loss is not finite at step {step} ({value.item()}); "
                                f"lower lr (now {lr}), set max_grad_norm, or choose a scale that fits the target")
            opt.zero_grad(set_to_none=True)
            value.backward()
            if max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(proposal.parameters(), max_grad_norm)
            opt.step()
            if step % eval_every == 0 or step == steps:
                _, lw = log_weights(proposal, target, eval_batch, generator)
                run.eval_energy_evaluations += eval_batch
                ess = kish_ess_fraction(lw) if not torch.isnan(lw).any() else float("nan")
                run.history.append({"step": step, "loss": float(value.detach()), "ess_fraction": ess})
                bar.update(step, loss=f"{float(value.detach()):.4g}", ess=f"{ess:.3f}")
            else:
                bar.update(step)
    return run


def importance_sampling(proposal: FlowProposal, target, n: int, generator: torch.Generator | None = None,
                        chunk: int = 65536) -> dict:
    """Importance sampling with the flow: n samples in chunks, log Z = log mean w with its error and ESS/N
    (`log_partition`); returns those plus "samples" [n, ...] and "log_weights" [n] (float64) for self-normalised
    estimates (`importance_estimate`), and "energy_evaluations" (n)."""
    if n < 2:
        raise UserError(f"importance sampling needs n >= 2 samples, got {n}")
    xs, lws = [], []
    for start in range(0, n, chunk):
        x, lw = log_weights(proposal, target, min(chunk, n - start), generator)
        xs.append(x)
        lws.append(lw)
    lw = torch.cat(lws)
    if torch.isnan(lw).any() or torch.isposinf(lw).any():
        raise UserError(f"{int((torch.isnan(lw) | torch.isposinf(lw)).sum())} of {n} importance log-weights are NaN "
                        "or +inf: the flow put samples where the energy or log q is not finite")
    return {**log_partition(lw), "samples": torch.cat(xs), "log_weights": lw, "energy_evaluations": n}
