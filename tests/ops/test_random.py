"""Seeded draws follow the generator, whatever device the result goes to."""

import pytest
import torch

from gensci.ops.masks import masked_mean, sample_com_free_gaussian, sample_masked_gaussian
from gensci.ops.random import (
    sample_categorical, sample_categorical_rows, sample_integers, sample_normal, sample_uniform,
)

CPU = torch.device("cpu")


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_draws_are_the_generators_numbers_in_the_asked_dtype():
    assert torch.equal(sample_normal((4, 3), gen(), CPU), torch.randn(4, 3, generator=gen()))
    assert sample_normal((2,), gen(), CPU, torch.float64).dtype == torch.float64
    assert torch.equal(sample_uniform((5,), gen(), CPU), torch.rand(5, generator=gen()))
    assert torch.equal(sample_integers(3, 9, (6,), gen(), CPU), torch.randint(3, 9, (6,), generator=gen()))
    probs = torch.tensor([0.0, 1.0, 3.0])
    draws = sample_categorical(probs, 400, gen())
    assert (draws > 0).all() and 0.6 < float((draws == 2).float().mean()) < 0.9


def test_one_class_per_row_follows_each_rows_weights():
    probs = torch.tensor([[0.0, 1.0, 3.0], [5.0, 0.0, 0.0]]).expand(4, 1000, 2, 3)  # leading dims, unnormalised
    draws = sample_categorical_rows(probs, gen())
    assert draws.shape == (4, 1000, 2) and draws.dtype == torch.int64
    assert (draws[..., 0] > 0).all() and (draws[..., 1] == 0).all()  # zero weight: never drawn
    assert abs(float((draws[..., 0] == 2).float().mean()) - 0.75) < 0.02
    assert torch.equal(sample_categorical_rows(probs, gen(3)), sample_categorical_rows(probs, gen(3)))


def test_masked_and_com_free_gaussians():
    mask = torch.tensor([[1.0, 1, 1, 0], [1, 1, 0, 0]])
    x = sample_com_free_gaussian((2, 4, 3), mask, gen(), torch.float64)
    h = sample_masked_gaussian((2, 4, 5), mask, gen(1))
    assert x.dtype == torch.float64 and masked_mean(x, mask).abs().max() < 1e-12
    assert (x[mask == 0] == 0).all() and (h[mask == 0] == 0).all() and (h[mask == 1] != 0).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_cpu_generator_gives_the_same_numbers_on_cuda():
    cuda = torch.device("cuda")
    assert torch.equal(sample_normal((4, 3), gen(), cuda).cpu(), sample_normal((4, 3), gen(), CPU))
    mask = torch.ones(2, 4, device=cuda)
    assert torch.allclose(sample_com_free_gaussian((2, 4, 3), mask, gen()).cpu(),
                          sample_com_free_gaussian((2, 4, 3), mask.cpu(), gen()), atol=1e-6)
    assert torch.equal(sample_integers(0, 9, (5,), gen(), cuda).cpu(), sample_integers(0, 9, (5,), gen(), CPU))
    assert torch.equal(sample_categorical(torch.ones(5, device=cuda), 7, gen()).cpu(),
                       sample_categorical(torch.ones(5), 7, gen()))
    rows = torch.rand(6, 4, generator=gen(2))
    assert torch.equal(sample_categorical_rows(rows.to(cuda), gen()).cpu(), sample_categorical_rows(rows, gen()))
