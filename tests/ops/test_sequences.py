"""Sequence weights, the site-independent model and mutant enumeration on toy alignments with known answers."""

import math

import torch

from gensci.ops.sequences import (mutate, pwm_log_frequencies, random_double_mutants, sequence_weights,
                                  single_mutants, site_independent_scores)


def test_sequence_weights_on_a_toy_alignment():
    # 10 columns; rows 0-2 are near copies (>= 90 % identical), row 3 is 80 % identical to row 0 (not > 80 %:
    # not a neighbour at theta = 0.2), row 4 is unrelated
    base = torch.zeros(10, dtype=torch.long)
    near, near2, eighty = base.clone(), base.clone(), base.clone()
    near[0], near2[9], eighty[:2] = 1, 2, 3
    other = torch.full((10,), 5)
    seqs = torch.stack([base, near, near2, eighty, other])
    w = sequence_weights(seqs, theta=0.2)
    # row 0: itself, rows 1 and 2 (90 %); row 3 is exactly 80 %: no. Rows 1 and 2: themselves and row 0 (they are
    # 80 % identical to each other: no). Row 3: 80 %, 80 %, 70 % to rows 0-2: alone. Row 4: alone.
    torch.testing.assert_close(w, torch.tensor([1 / 3, 1 / 2, 1 / 2, 1.0, 1.0]))
    assert torch.equal(sequence_weights(seqs, 0.2, chunk=2), w)
    assert torch.allclose(sequence_weights(seqs, theta=0.5), torch.tensor([1 / 4, 1 / 4, 1 / 4, 1 / 4, 1.0]))


def test_pwm_log_likelihood_ratios_on_a_toy():
    # one column: state 0 twice, state 1 once (weights 1), q = 3, pseudocount 1: f = (3, 2, 1) / 6
    seqs = torch.tensor([[0, 2], [0, 2], [1, 2]])
    log_f = pwm_log_frequencies(seqs, torch.ones(3), q=3, pseudocount=1.0)
    torch.testing.assert_close(log_f[0].exp(), torch.tensor([3 / 6, 2 / 6, 1 / 6]))
    wt = torch.tensor([0, 2])
    ratio = site_independent_scores(log_f, torch.tensor([[1, 2], [2, 2]])) - site_independent_scores(log_f, wt[None])
    torch.testing.assert_close(ratio, torch.tensor([math.log(2 / 3), math.log(1 / 3)]))
    # weights count: halving the weight of the first two sequences gives (1 + 1, 1 + 1, 1) / 5
    log_w = pwm_log_frequencies(seqs, torch.tensor([0.5, 0.5, 1.0]), q=3, pseudocount=1.0)
    torch.testing.assert_close(log_w[0].exp(), torch.tensor([2 / 5, 2 / 5, 1 / 5]))


def test_mutant_enumeration():
    wt = torch.tensor([0, 5, 19, 3])
    pos, new = single_mutants(wt)
    assert len(pos) == 4 * 19 and not (new == wt[pos]).any() and (new < 20).all()
    seqs = mutate(wt, pos, new)
    assert ((seqs != wt).sum(1) == 1).all()
    i, b, j, c = random_double_mutants(wt, 50, torch.Generator().manual_seed(0))
    assert len(i) == 50 and (i < j).all() and not (b == wt[i]).any() and not (c == wt[j]).any()
    assert len(set(zip(i.tolist(), b.tolist(), j.tolist(), c.tolist()))) == 50
    doubles = mutate(wt, torch.stack([i, j], 1), torch.stack([b, c], 1))
    assert ((doubles != wt).sum(1) == 2).all()
    assert len(random_double_mutants(wt, 10**6, torch.Generator().manual_seed(0))[0]) == 6 * 19 * 19
