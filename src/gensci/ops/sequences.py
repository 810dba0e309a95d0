"""Aligned sequences as integer tensors: the alphabet, one-hot codes, DeepSequence's sequence weights and the
site-independent model (a position weight matrix).

Sequences are int64 tensors seqs [N, L] with states 0..q-1 in the order of ALPHABET (20 amino acids, then
the gap, as DeepSequence's "protein_withgap" alphabet: github.com/debbiemarkslab/DeepSequence,
DeepSequence/helper.py, commit 22e72c5).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

ALPHABET = "ACDEFGHIKLMNPQRSTVWY-"
GAP = ALPHABET.index("-")
N_AMINO_ACIDS = 20


def one_hot(seqs: Tensor, q: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """seqs [..., L] int -> one-hot [..., L, q]."""
    return F.one_hot(seqs.long(), q).to(dtype)


def sequence_weights(seqs: Tensor, theta: float = 0.2, chunk: int = 1024) -> Tensor:
    """DeepSequence's weights: w_n = 1 / #{m : identity(n, m) > 1 - theta} (n itself included), seqs [N, L] -> [N].

    identity = the fraction of the L columns where both hold the same state (the gap counts as a state, as
    with DeepSequence's alphabets that include it). Riesselman et al. 2018, Methods "Sequence reweighting";
    helper.py (commit 22e72c5) computes 1 / sum(x_n . x_m / x_n . x_n > 1 - theta). The effective number of
    sequences is Neff = sum(w)."""
    n, length = seqs.shape
    x = one_hot(seqs, int(seqs.max()) + 1 if n else 1).flatten(1)  # [N, L*q]: x_n . x_m = matching columns
    counts = torch.empty(n, dtype=torch.float64, device=seqs.device)
    for start in range(0, n, chunk):
        same = x[start : start + chunk] @ x.T  # [b, N], exact small integers in float32
        counts[start : start + len(same)] = (same > (1 - theta) * length).sum(-1).double()
    return (1.0 / counts).float()


def pwm_log_frequencies(seqs: Tensor, weights: Tensor, q: int, pseudocount: float = 1.0) -> Tensor:
    """The site-independent model: log f_i(a) [L, q] from weighted counts plus a pseudocount per state,
    f_i(a) = (sum_n w_n [x_i^n = a] + pseudocount) / (Neff + q * pseudocount)."""
    counts = (one_hot(seqs, q, torch.float64) * weights.double()[:, None, None]).sum(0)  # [L, q]
    freqs = (counts + pseudocount) / (weights.double().sum() + q * pseudocount)
    return freqs.log().float()


def site_independent_scores(log_freqs: Tensor, seqs: Tensor) -> Tensor:
    """Log-probability under the PWM log_freqs [L, q] of each sequence seqs [M, L] -> [M]
    (the difference of two such scores is the model's predicted mutation effect)."""
    rows = torch.arange(log_freqs.shape[0], device=seqs.device)
    return log_freqs[rows, seqs.long()].sum(-1)


def single_mutants(wild_type: Tensor, states: int = N_AMINO_ACIDS) -> tuple[Tensor, Tensor]:
    """Every single substitution of wild_type [L] to another of the first `states` states (the amino acids,
    not the gap, as a deep mutational scan makes them): (positions [M], new states [M]), M = L (states - 1)
    when the wild type holds no gap."""
    L = wild_type.shape[0]
    pos = torch.arange(L, device=wild_type.device).repeat_interleave(states)
    new = torch.arange(states, device=wild_type.device).repeat(L)
    keep = new != wild_type[pos]
    return pos[keep], new[keep]


def random_double_mutants(wild_type: Tensor, n: int, generator: torch.Generator,
                          states: int = N_AMINO_ACIDS) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """n distinct double substitutions drawn uniformly from all of wild_type [L] (positions i < j, new states
    b != x_i, c != x_j among the first `states`): (i, b, j, c), each [n'] with n' = min(n, how many exist)."""
    L = wild_type.shape[0]
    wt = wild_type.cpu()
    i, j = torch.triu_indices(L, L, 1)
    # all (pair, b, c) combinations index a grid; draw distinct cells and drop those that are no mutation
    total = len(i) * states * states
    order = torch.randperm(total, generator=generator)
    pair, rest = order // (states * states), order % (states * states)
    b, c = rest // states, rest % states
    keep = (b != wt[i[pair]]) & (c != wt[j[pair]])
    pick = keep.nonzero()[:, 0][:n]
    out = (i[pair[pick]], b[pick], j[pair[pick]], c[pick])
    return tuple(t.to(wild_type.device) for t in out)


def mutate(wild_type: Tensor, positions: Tensor, states: Tensor) -> Tensor:
    """Mutant sequences [M, L] from wild_type [L]: positions, states [M] (one substitution each) or [M, k]."""
    seqs = wild_type.repeat(positions.shape[0], 1)
    positions, states = positions.reshape(len(seqs), -1), states.reshape(len(seqs), -1)
    return seqs.scatter(1, positions.long(), states.long().to(seqs.dtype))
