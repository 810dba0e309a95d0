"""Potts maths: exact mutant energies, Gibbs sampling against brute-force marginals, pseudo-likelihood fit."""

import itertools

import torch

from gensci.ops.potts import (double_mutant_effects, energy, fit_pseudolikelihood, gibbs_sample, local_fields,
                              single_mutant_effects, symmetrize_couplings)
from gensci.ops.sequences import mutate


def random_model(L=6, q=4, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    h = scale * torch.randn(L, q, generator=g)
    J = symmetrize_couplings(scale * torch.randn(L, L, q, q, generator=g))
    return h, J


def test_energy_matches_the_definition():
    h, J = random_model()
    x = torch.tensor([[0, 1, 2, 3, 0, 1], [3, 3, 2, 1, 0, 0]])
    for s, e in zip(x, energy(h, J, x)):
        direct = -sum(h[i, s[i]] for i in range(6)) - sum(J[i, j, s[i], s[j]] for i in range(6) for j in range(i + 1, 6))
        assert torch.isclose(e, direct, atol=1e-5)


def test_single_and_double_mutant_effects_equal_recomputed_energies():
    h, J = random_model()
    wt = torch.tensor([0, 1, 2, 3, 0, 1])
    e_wt = energy(h, J, wt[None])[0]
    singles = single_mutant_effects(h, J, wt)
    pos = torch.arange(6).repeat_interleave(4)
    new = torch.arange(4).repeat(6)
    direct = energy(h, J, mutate(wt, pos, new)) - e_wt
    torch.testing.assert_close(singles[pos, new], direct, atol=1e-5, rtol=0)
    pairs = [(i, b, j, c) for i, j in itertools.combinations(range(6), 2) for b in range(4) for c in range(4)
             if b != wt[i] and c != wt[j]]
    i, b, j, c = (torch.tensor(v) for v in zip(*pairs))
    double, epistasis = double_mutant_effects(h, J, wt, i, b, j, c)
    direct = energy(h, J, mutate(wt, torch.stack([i, j], 1), torch.stack([b, c], 1))) - e_wt
    torch.testing.assert_close(double, direct, atol=1e-5, rtol=0)
    torch.testing.assert_close(epistasis, direct - singles[i, b] - singles[j, c], atol=1e-5, rtol=0)
    assert epistasis.abs().max() > 0.1  # couplings make the effects non-additive


def test_local_fields_give_the_energy_change_of_one_site():
    h, J = random_model()
    x = torch.tensor([[0, 1, 2, 3, 0, 1]])
    local = local_fields(h, J, x)[0]
    x2 = x.clone()
    x2[0, 2] = 0
    assert torch.isclose(energy(h, J, x2)[0] - energy(h, J, x)[0], -(local[2, 0] - local[2, 2]), atol=1e-5)


def test_gibbs_sampler_reproduces_exact_marginals():
    # 3 positions x 3 states: 27 sequences, enumerated for the exact distribution p_T ∝ exp(-E / T)
    L, q, T = 3, 3, 0.7
    h, J = random_model(L, q, seed=1)
    states = torch.tensor(list(itertools.product(range(q), repeat=L)))
    p = torch.softmax(-energy(h, J, states) / T, 0)
    exact_single = torch.stack([torch.stack([p[states[:, i] == a].sum() for a in range(q)]) for i in range(L)])
    exact_pair = torch.stack([p[(states[:, 0] == a) & (states[:, 2] == b)].sum() for a in range(q) for b in range(q)])
    seqs = gibbs_sample(h, J, n_chains=2000, n_per_chain=5, burn_in=20, thin=3, temperature=T,
                        generator=torch.Generator().manual_seed(0))
    assert seqs.shape == (10000, L)
    single = torch.stack([torch.bincount(seqs[:, i], minlength=q) for i in range(L)]) / len(seqs)
    pair = torch.bincount(seqs[:, 0] * q + seqs[:, 2], minlength=q * q) / len(seqs)
    assert (single - exact_single).abs().max() < 0.02  # binomial s.e. <= 0.005 at n = 10,000
    assert (pair - exact_pair).abs().max() < 0.02
    # the sampler's temperature matters: at T = 5 the marginals are far flatter than at 0.7
    hot = gibbs_sample(h, J, 2000, 1, 20, 1, 5.0, torch.Generator().manual_seed(0))
    hot_single = torch.stack([torch.bincount(hot[:, i], minlength=q) for i in range(L)]) / len(hot)
    assert (hot_single - exact_single).abs().max() > 0.05


def test_gibbs_sampler_is_seeded():
    h, J = random_model(4, 3)
    a = gibbs_sample(h, J, 10, 2, 3, 2, 1.0, torch.Generator().manual_seed(5))
    b = gibbs_sample(h, J, 10, 2, 3, 2, 1.0, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_pseudolikelihood_fit_recovers_the_couplings_of_sampled_data():
    h, J = random_model(5, 3, seed=2, scale=0.8)
    seqs = gibbs_sample(h, J, 1000, 4, 30, 3, 1.0, torch.Generator().manual_seed(0))
    h_fit, J_fit = fit_pseudolikelihood(seqs, torch.ones(len(seqs)), 3, lambda_J=0.1, max_iter=60)
    assert torch.equal(J_fit, J_fit.permute(1, 0, 3, 2))
    # energies are defined up to a gauge: compare energy differences over all sequences
    states = torch.tensor(list(itertools.product(range(3), repeat=5)))
    true, fit = -energy(h, J, states), -energy(h_fit, J_fit, states)
    corr = torch.corrcoef(torch.stack([true - true.mean(), fit - fit.mean()]))[0, 1]
    assert corr > 0.95
