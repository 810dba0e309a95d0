"""Monte Carlo estimates of the diffusion term of the variational bound, sum_{t=1}^T L_t.

L_t = 1/2 w_t E||eps - eps_hat(z_t, t)||^2 with w_t = SNR(t - 1) / SNR(t) - 1 (Kingma et al. 2021, "Variational
Diffusion Models", eq. 13 in discrete time; EDM eq. 10 with its en_diffusion.py compute_loss). One uniform t per
item (T L_t) is unbiased but very noisy: L_t is largest at the few smallest t, which a uniform draw rarely hits.
`vlb_times` draws K times per item with weights, one per stratum (stratified sampling), either uniform in t or
importance-sampled from a proposal q (t drawn with probability q(t), weight 1 / q(t)); both are unbiased.
With q proportional to w_t the weighted term is 1/2 E||eps - eps_hat||^2 up to a constant, which varies far less
over t than L_t (benchmarks/molecules/README.md).
"""

from __future__ import annotations

from typing import Iterator

import torch
from torch import Tensor

from gensci.methods.diffusion.schedules import snr
from gensci.ops.random import sample_integers, sample_uniform


def vlb_weights(gamma: Tensor) -> Tensor:
    """w_t = SNR(t - 1) / SNR(t) - 1 for t = 1..T: [T] from a gamma table [T + 1] (positive: gamma increases)."""
    return snr(gamma[:-1] - gamma[1:]) - 1


def vlb_times(n: int, timesteps: int, samples: int, generator: torch.Generator | None, device: torch.device,
              proposal: Tensor | None = None) -> Iterator[tuple[Tensor, Tensor]]:
    """`samples` = K pairs (t [n] in 1..T, weight [n] float64) with E[sum_k weight_k L_{t_k}] = sum_{t=1}^T L_t.

    proposal None (uniform): t uniform in the k-th of K integer strata [1 + kT/K, 1 + (k+1)T/K), weight = the
    stratum's size (K = 1: one uniform t with weight T, EDM's estimator).
    proposal q [T] (positive, for t = 1..T; normalised here): systematic sampling of q's CDF, u = (k + U) / K,
    t = F^-1(u), weight 1 / (K q(t)). Draws happen when each pair is taken, on the generator's device.
    """
    if not 1 <= samples <= timesteps:
        raise ValueError(f"samples must be in 1..{timesteps}, got {samples}")
    if proposal is None:
        for k in range(samples):
            lo, hi = 1 + k * timesteps // samples, 1 + (k + 1) * timesteps // samples
            t = sample_integers(lo, hi, (n,), generator, device)
            yield t, torch.full((n,), float(hi - lo), dtype=torch.float64, device=device)
        return
    q = (proposal / proposal.sum()).to(device=device, dtype=torch.float64)
    cdf = torch.cumsum(q, 0)
    for k in range(samples):
        u = (k + sample_uniform((n,), generator, device, torch.float64)) / samples
        index = torch.searchsorted(cdf, u * cdf[-1], right=True).clamp(max=timesteps - 1)
        yield index + 1, 1 / (samples * q[index])
