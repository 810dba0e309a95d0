"""Time sampling for the diffusion term of the variational bound: unbiased for any per-t loss, and the
importance proposal w_t removes the spread that comes from the bound's weights."""

import pytest
import torch

from gensci.methods.diffusion.likelihood import vlb_times, vlb_weights
from gensci.methods.diffusion.schedules import gamma_table

T = 50
GAMMA = gamma_table("polynomial_2", T, 1e-5)


def estimates(loss: torch.Tensor, k: int, proposal, n: int = 100_000, seed: int = 0) -> torch.Tensor:
    """n independent estimates of sum_t loss[t - 1] from k weighted times each: [n]."""
    out = torch.zeros(n, dtype=torch.float64)
    for t, weight in vlb_times(n, T, k, torch.Generator().manual_seed(seed), torch.device("cpu"), proposal):
        assert t.min() >= 1 and t.max() <= T
        out += weight * loss[t - 1]
    return out


@pytest.mark.parametrize("k", [1, 3, 7, T])  # strata of unequal size when T % k != 0
@pytest.mark.parametrize("importance", [False, True])
def test_weighted_times_are_unbiased_for_any_loss(k, importance):
    loss = torch.rand(T, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * vlb_weights(GAMMA)
    est = estimates(loss, k, vlb_weights(GAMMA) if importance else None)
    assert float(est.mean()) == pytest.approx(float(loss.sum()), abs=4 * float(est.std()) / len(est) ** 0.5 + 1e-12)


def test_uniform_single_time_is_edms_estimator_and_strata_cover_the_grid():
    t, weight = next(vlb_times(1000, T, 1, torch.Generator().manual_seed(0), torch.device("cpu")))
    assert torch.equal(t, torch.randint(1, T + 1, (1000,), generator=torch.Generator().manual_seed(0)))
    assert (weight == T).all()
    times = [t for t, _ in vlb_times(3, T, T, None, torch.device("cpu"))]
    assert torch.equal(torch.stack(times), torch.arange(1, T + 1)[:, None].expand(T, 3))  # K = T: every t once


def test_importance_proposal_removes_the_spread_of_the_weights():
    """A loss proportional to w_t (a model with the same eps error at every t) is estimated exactly with
    q = w_t, and with far less spread than uniform times."""
    loss = 3.0 * vlb_weights(GAMMA)
    exact = estimates(loss, 2, vlb_weights(GAMMA), n=1000)
    assert torch.allclose(exact, loss.sum().expand(1000), rtol=1e-9)
    assert float(estimates(loss, 2, None, n=1000).std()) > 0.1 * float(loss.sum())
