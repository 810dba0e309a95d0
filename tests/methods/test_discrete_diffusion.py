import itertools

import pytest
import torch

from gensci.methods.diffusion.discrete import (
    cosine_alpha_bar, gaussian_gamma, model_posterior_probs, posterior_probs, q_probs, sample_classes, sample_noisy,
    sample_prior, sample_reverse, symmetrize_pairs, transition_matrix,
)
from gensci.methods.diffusion.schedules import alpha, sigma

M = torch.tensor([0.6, 0.25, 0.1, 0.05], dtype=torch.float64)  # marginals of 4 classes (e.g. no/single/double/triple bond)


@pytest.mark.parametrize("a", [0.0, 0.3, 0.97, 1.0])
def test_transition_matrices_are_stochastic_and_keep_the_marginals(a):
    q = transition_matrix(torch.tensor(a, dtype=torch.float64), M)
    assert (q >= 0).all() and torch.allclose(q.sum(-1), torch.ones(4, dtype=torch.float64))
    assert torch.allclose(M @ q, M)  # the marginal prior is stationary
    onehot = torch.eye(4, dtype=torch.float64)
    assert torch.allclose(q_probs(onehot, torch.tensor(a), M), onehot @ q)


def test_one_step_matrices_compose_to_the_cumulative_one():
    a_s, a_t = torch.tensor(0.8, dtype=torch.float64), torch.tensor(0.3, dtype=torch.float64)
    assert torch.allclose(transition_matrix(a_s, M) @ transition_matrix(a_t / a_s, M), transition_matrix(a_t, M))


def test_posterior_matches_bayes_and_sums_to_one():
    a_s, a_t = torch.tensor(0.7, dtype=torch.float64), torch.tensor(0.2, dtype=torch.float64)
    q_s, q_ts, q_t = transition_matrix(a_s, M), transition_matrix(a_t / a_s, M), transition_matrix(a_t, M)
    eye = torch.eye(4, dtype=torch.float64)
    for x0, xt in itertools.product(range(4), range(4)):
        bayes = torch.stack([q_s[x0, k] * q_ts[k, xt] / q_t[x0, xt] for k in range(4)])  # q(x_s=k | x_t, x_0)
        got = posterior_probs(eye[xt], eye[x0], a_t, a_s, M)
        assert torch.allclose(got, bayes, atol=1e-12) and abs(float(got.sum()) - 1) < 1e-12


def test_model_posterior_mixes_the_per_class_posteriors():
    g = torch.Generator().manual_seed(0)
    xt = torch.nn.functional.one_hot(torch.randint(0, 4, (3, 5), generator=g), 4).double()
    p0 = torch.softmax(torch.randn(3, 5, 4, generator=g, dtype=torch.float64), -1)
    a_t, a_s = torch.tensor([[0.2], [0.5], [0.9]], dtype=torch.float64), torch.tensor([[0.3], [0.6], [0.95]], dtype=torch.float64)
    got = model_posterior_probs(xt, p0, a_t, a_s, M)
    want = sum(p0[..., c : c + 1] * posterior_probs(xt, torch.eye(4, dtype=torch.float64)[c].expand_as(xt), a_t, a_s, M)
               for c in range(4))
    assert torch.allclose(got, want, atol=1e-12)
    assert torch.allclose(got.sum(-1), torch.ones(3, 5, dtype=torch.float64))
    # a sure prediction at s = 0 (abar_0 = 1) gives back that class
    sure = model_posterior_probs(xt, torch.eye(4, dtype=torch.float64)[2].expand_as(xt), a_t, torch.ones_like(a_s), M)
    assert torch.allclose(sure, torch.eye(4, dtype=torch.float64)[2].expand_as(xt))


@pytest.mark.parametrize("nu", [1.0, 1.5, 2.5])
def test_midi_cosine_schedule(nu):
    a = cosine_alpha_bar(500, nu)
    assert a.shape == (501,) and torch.all(torch.diff(a) < 0)
    assert a[0] > 0.999 and a[-1] < 1e-3
    if nu > 1:  # a larger exponent noises later: more signal left at mid-way (MiDi sec. 4.2)
        assert a[250] > cosine_alpha_bar(500, 1.0)[250]
    g = gaussian_gamma(a)
    assert torch.allclose(alpha(g), a, rtol=1e-9) and torch.allclose(sigma(g) ** 2, 1 - a**2, rtol=1e-6)


def test_symmetric_pair_sampling():
    g = torch.Generator().manual_seed(0)
    probs = torch.softmax(torch.randn(2, 6, 6, 4, generator=g), -1)
    e = sample_classes(probs, g, pairs=True)
    assert torch.equal(e, e.transpose(1, 2)) and (e.diagonal(dim1=1, dim2=2) == 0).all()
    assert torch.equal(symmetrize_pairs(e), e)
    counts = torch.bincount(sample_classes(M.expand(20000, 4), torch.Generator().manual_seed(1)), minlength=4)
    assert torch.allclose(counts / 20000.0, M.float(), atol=0.015)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(sample_classes(probs, g1, pairs=True), sample_classes(probs, g2, pairs=True))


def test_samplers_of_prior_forward_and_reverse_draw_the_stated_distributions():
    n = 20000
    g = torch.Generator().manual_seed(0)
    prior = sample_prior(M, (n,), g)
    assert torch.allclose(torch.bincount(prior, minlength=4) / n, M.float(), atol=0.015)
    x0 = torch.full((n,), 2)
    xt = sample_noisy(x0, torch.tensor(0.6), M, g)  # q(x_t | x_0 = 2) = 0.6 e_2 + 0.4 m
    assert torch.allclose(torch.bincount(xt, minlength=4) / n, (0.4 * M + 0.6 * torch.eye(4)[2]).float(), atol=0.015)
    pairs = sample_noisy(torch.zeros(3, 5, 5, dtype=torch.long), torch.tensor(0.1), M, g, pairs=True)
    assert torch.equal(pairs, pairs.transpose(1, 2)) and not pairs.diagonal(dim1=1, dim2=2).any()
    # reverse: the model's posterior, sampled; at s = 0 (abar 1) a sure prediction is returned as is
    p0 = torch.softmax(torch.randn(n, 4, generator=g), -1)
    a_t, a_s = torch.tensor(0.3), torch.tensor(0.7)
    xs = sample_reverse(xt, p0, a_t, a_s, M, g)
    want = model_posterior_probs(torch.nn.functional.one_hot(xt, 4).float(), p0, a_t, a_s, M.float()).mean(0)
    assert torch.allclose(torch.bincount(xs, minlength=4) / n, want, atol=0.015)
    sure = torch.eye(4)[1].expand(n, 4)
    assert (sample_reverse(xt, sure, a_t, torch.tensor(1.0), M, g) == 1).all()
