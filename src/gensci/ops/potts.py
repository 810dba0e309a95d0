"""Potts models of aligned sequences: energies, Gibbs sampling, exact mutation effects, pseudo-likelihood fit.

A Potts model on L positions with q states has fields h [L, q] and couplings J [L, L, q, q] with
J[i, j, a, b] = J[j, i, b, a] and J[i, i] = 0. A sequence x (ints, [L]) has the energy

    E(x) = -sum_i h_i(x_i) - sum_{i<j} J_ij(x_i, x_j),

and at temperature T the probability p_T(x) = exp(-E(x) / T) / Z (Weigt et al. 2009 PNAS, Eq. 2; Ekeberg et
al. 2013 Phys Rev E, Eq. 1, with T = 1). A mutation's true effect is the energy change E(mutant) - E(wild type):
its negative, divided by T, is the log-probability ratio a model of the family should predict.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from gensci.ops.random import sample_categorical_rows
from gensci.ops.sequences import one_hot


def symmetrize_couplings(J: Tensor) -> Tensor:
    """Any J [L, L, q, q] -> (J + J^T) / 2 with J[i, j, a, b] = J[j, i, b, a] and zero diagonal blocks."""
    J = 0.5 * (J + J.permute(1, 0, 3, 2))
    eye = torch.eye(J.shape[0], dtype=torch.bool, device=J.device)
    return J.masked_fill(eye[:, :, None, None], 0.0)


def energy(h: Tensor, J: Tensor, seqs: Tensor, chunk: int = 4096) -> Tensor:
    """E(x) for seqs [N, L] (ints) -> [N]; h [L, q], J [L, L, q, q] symmetric as above."""
    length = h.shape[0]
    pos = torch.arange(length, device=seqs.device)
    out = []
    for block in seqs.long().split(chunk):
        fields = h[pos, block].sum(-1)
        pairs = J[pos[:, None], pos[None, :], block[:, :, None], block[:, None, :]]  # [b, L, L]
        out.append(-(fields + 0.5 * pairs.sum((1, 2))))
    return torch.cat(out) if out else h.new_zeros(0)


def local_fields(h: Tensor, J: Tensor, seqs: Tensor) -> Tensor:
    """h_i(a) + sum_j J_ij(a, x_j) for every position i and state a: seqs [N, L] -> [N, L, q].
    Its softmax over a (divided by T) is the conditional p(x_i = a | x_-i)."""
    x = one_hot(seqs, h.shape[1], h.dtype).flatten(1)  # [N, L*q]
    L, q = h.shape
    return h + (x @ J.permute(1, 3, 0, 2).reshape(L * q, L * q)).view(-1, L, q)


def gibbs_sample(h: Tensor, J: Tensor, n_chains: int, n_per_chain: int, burn_in: int, thin: int,
                 temperature: float = 1.0, generator: torch.Generator | None = None) -> Tensor:
    """Heat-bath Gibbs sampling of p_T: n_chains independent chains from uniform random sequences, each site
    in turn redrawn from its exact conditional softmax(local field / T); after `burn_in` sweeps one sequence
    per chain is kept every `thin` sweeps. Returns [n_per_chain * n_chains, L] ints (record-major)."""
    L, q = h.shape
    x = torch.randint(0, q, (n_chains, L), generator=generator, device=generator.device if generator else "cpu")
    x = x.to(h.device)
    Jp = J.permute(0, 1, 3, 2)  # [i, j, x_j, a]
    pos = torch.arange(L, device=h.device)
    kept = []
    for sweep in range(1, burn_in + thin * n_per_chain + 1):
        for i in range(L):
            logits = (h[i] + Jp[i, pos, x].sum(1)) / temperature  # [n_chains, q]
            x[:, i] = sample_categorical_rows(F.softmax(logits, -1), generator)
        if sweep > burn_in and (sweep - burn_in) % thin == 0:
            kept.append(x.clone())
    return torch.cat(kept)


def single_mutant_effects(h: Tensor, J: Tensor, wild_type: Tensor) -> Tensor:
    """Exact E(x with x_i = b) - E(x) for x = wild_type [L] and every (i, b): [L, q] (0 where b = x_i)."""
    local = local_fields(h, J, wild_type[None])[0]  # [L, q]
    wt_local = local.gather(1, wild_type.long()[:, None])
    return -(local - wt_local)


def double_mutant_effects(h: Tensor, J: Tensor, wild_type: Tensor, i: Tensor, b: Tensor, j: Tensor,
                          c: Tensor) -> tuple[Tensor, Tensor]:
    """Exact energy change of the double mutants (x_i = b, x_j = c), i != j, all [M] ints, and its epistatic
    part (the change minus the two single changes): -(J_ij(b, c) - J_ij(b, a') - J_ij(a, c) + J_ij(a, a'))
    with a, a' the wild-type states at i, j. Returns (effect [M], epistasis [M])."""
    singles = single_mutant_effects(h, J, wild_type)
    a, a2 = wild_type[i], wild_type[j]
    epistasis = -(J[i, j, b, c] - J[i, j, b, a2] - J[i, j, a, c] + J[i, j, a, a2])
    return singles[i, b] + singles[j, c] + epistasis, epistasis


def fit_pseudolikelihood(seqs: Tensor, weights: Tensor, q: int, lambda_h: float = 0.01,
                         lambda_J: float | None = None, max_iter: int = 100) -> tuple[Tensor, Tensor]:
    """Maximum pseudo-likelihood Potts fit with L2 penalties, as plmc does (Ekeberg et al. 2013 Phys Rev E, Eq. 9;
    github.com/debbiemarkslab/plmc, README): L-BFGS on

        -sum_n w_n sum_i log p(x_i^n | x_-i^n) + lambda_h ||h||^2 + lambda_J sum_{i<j} ||J_ij||^2.

    Defaults as EVcouplings runs plmc: lambda_h = 0.01, lambda_J = 0.01 (q - 1)(L - 1), 100 iterations
    (evcouplings/couplings/protocol.py, `lambda_J_times_Lq`; plmc README's example: -le 16 -lh 0.01 -m 100).
    seqs [N, L] ints, weights [N] -> (h [L, q], J [L, L, q, q]) at T = 1. Dense: for small L only
    (memory and time grow as (L q)^2)."""
    N, L = seqs.shape
    lambda_J = 0.01 * (q - 1) * (L - 1) if lambda_J is None else lambda_J
    x = one_hot(seqs, q).to(weights.device)  # [N, L, q]
    flat = x.flatten(1)
    w = weights.float()
    h = torch.zeros(L, q, device=w.device, requires_grad=True)
    W = torch.zeros(L * q, L * q, device=w.device, requires_grad=True)
    off_diagonal = 1.0 - torch.block_diag(*[torch.ones(q, q, device=w.device)] * L)

    def couplings() -> Tensor:  # [L*q, L*q], symmetric, zero diagonal blocks
        return 0.5 * (W + W.T) * off_diagonal

    def objective() -> Tensor:
        Jf = couplings()
        logits = h + (flat @ Jf).view(N, L, q)
        pll = (F.log_softmax(logits, -1) * x).sum((1, 2))
        return -(w * pll).sum() + lambda_h * h.pow(2).sum() + 0.5 * lambda_J * Jf.pow(2).sum()

    opt = torch.optim.LBFGS([h, W], max_iter=max_iter, line_search_fn="strong_wolfe", history_size=10,
                            tolerance_grad=1e-5, tolerance_change=1e-9)

    def closure():
        opt.zero_grad()
        loss = objective()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        J = couplings().view(L, q, L, q).permute(0, 2, 1, 3).contiguous()
        return h.detach().clone(), J
