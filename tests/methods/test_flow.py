import pytest
import torch

from gensci.methods.diffusion.flow import (
    categorical_step, euler_step_gaussian, interpolate_categorical, interpolate_gaussian, jump_probabilities,
    sample_time, time_grid,
)


def test_gaussian_interpolant_endpoints_and_euler_step():
    g = torch.Generator().manual_seed(0)
    x0, x1, noise = (torch.randn(4, 5, 3, generator=g) for _ in range(3))
    assert torch.equal(interpolate_gaussian(x0, x1, torch.zeros(4, 1, 1)), x0)
    assert torch.equal(interpolate_gaussian(x0, x1, torch.ones(4, 1, 1)), x1)
    half = interpolate_gaussian(x0, x1, torch.full((4, 1, 1), 0.5), noise, sigma=0.2)
    assert torch.allclose(half, 0.5 * (x0 + x1) + 0.2 * noise)
    t = torch.full((4, 1, 1), 0.3)
    xt = interpolate_gaussian(x0, x1, t)
    assert torch.allclose(euler_step_gaussian(xt, x1, t, 0.7), x1, atol=1e-6)  # a step to t = 1 lands on x1_hat
    assert torch.allclose(euler_step_gaussian(xt, x1, t, 0.2), interpolate_gaussian(x0, x1, t + 0.2), atol=1e-6)


def test_categorical_interpolant_endpoints_and_rate():
    g = torch.Generator().manual_seed(0)
    x0, x1 = torch.randint(0, 5, (2, 20000), generator=g)
    assert torch.equal(interpolate_categorical(x0, x1, torch.tensor(0.0), g), x0)
    assert torch.equal(interpolate_categorical(x0, x1, torch.tensor(1.0), g), x1)
    xt = interpolate_categorical(x0, x1, torch.tensor(0.3), g)
    differ = x0 != x1
    assert abs(float((xt[differ] == x1[differ]).float().mean()) - 0.3) < 0.02


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_jump_probabilities_are_distributions_and_reach_a_sure_prediction(eta):
    g = torch.Generator().manual_seed(0)
    xt = torch.randint(0, 4, (3, 7), generator=g)
    p1 = torch.softmax(torch.randn(3, 7, 4, generator=g), -1)
    t = torch.tensor([[0.1], [0.5], [0.9]])
    probs = jump_probabilities(xt, p1, t, 0.05, eta)
    assert (probs >= 0).all() and torch.allclose(probs.sum(-1), torch.ones(3, 7))
    sure = torch.nn.functional.one_hot(torch.full((3, 7), 2), 4).float()
    last = jump_probabilities(xt, sure, t, 1.0, eta)  # the last step (t + dt >= 1): no noise, jump for sure
    assert torch.allclose(last, sure)
    assert torch.equal(categorical_step(xt, sure, t, 1.0, eta, g), torch.full((3, 7), 2))


def test_dfm_euler_reproduces_a_known_categorical_with_the_ideal_denoiser():
    # data: class 1 w.p. 0.7, class 3 w.p. 0.3; uniform prior. The ideal denoiser is Bayes' rule,
    # p(x_1 = c | x_t) ~ p(x_1 = c) p(x_t | x_1 = c) with p(x_t | x_1) = t delta + (1 - t) / K; integrating the
    # jumps from the prior must reproduce the data distribution
    target = torch.tensor([0.0, 0.7, 0.0, 0.3])
    k, n, steps = 4, 20000, 50
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, k, (n,), generator=g)
    grid = time_grid(steps)
    for t0, t1 in zip(grid[:-1], grid[1:]):
        t = float(t0)
        lik = t * torch.eye(k) + (1 - t) / k  # p(x_t | x_1), symmetric in the two
        post = target * lik[x]  # p(x_1 | x_t) up to normalisation
        post = post / post.sum(-1, keepdim=True)
        x = categorical_step(x, post, torch.full((n,), t), float(t1 - t0), 0.0, g)
    freq = torch.bincount(x, minlength=k) / n
    assert torch.allclose(freq, target, atol=0.02)


def test_time_sampling_and_grid():
    torch.manual_seed(0)
    t = sample_time(20000)
    assert 0 <= t.min() and t.max() <= 1 and abs(float(t.mean()) - 2 / 3) < 0.01  # Beta(2, 1) has mean 2/3
    grid = time_grid(4)
    assert grid.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    with pytest.raises(ValueError):
        time_grid(0)
