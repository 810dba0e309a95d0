"""The Bayes-optimal denoiser of noised Ising lattices, against a lattice-diffusion run's network.

Uniform categorical noise on +-1 spins keeps a spin with probability (1 + abar) / 2, so the posterior of the clean
lattice given x_t is an Ising model at the data's temperature T in a site field along x_t,
    p(s | x_t) ~ exp(sum_<ij> s_i s_j / T + h sum_i s_i x_t,i),   h = atanh(abar) = (1/2) log((1 + abar) / (1 - abar)),
and its site marginals p(s_i | x_t) are the best any denoiser can say about site i alone. They are measured by
checkerboard heat-bath sweeps of that model, averaging each site's conditional probability (Rao-Blackwellised).
For the cross-entropy probe the chain starts at the clean lattice, which is an exact draw from p(s | x_t), so no
burn-in is needed and there is no mixing bias near T_c (only Monte Carlo noise).

Two probes (`python benchmarks/lattices/ising_optimal_denoiser.py RUN ...`):
- `--probe ce`: per temperature and t, the cross-entropy of the clean spins under the network's p(x_0 | x_t) (two
  passes when self-conditioned: the second sees the first's estimate) and under the exact marginals, on --n test
  lattices. The network cannot go below the exact figure; the excess is what training could still gain per site.
- `--probe sample`: the run's sampler (factorised ancestral steps, gensci.methods.diffusion.discrete) driven by the
  exact marginals instead of the network (chains start from x_t, --burn-in sweeps), and by the network, from the
  prior; the energy per spin of the results against the data's. What the exact denoiser gets wrong is the
  sampler's own error: each step draws every site independently from its marginal and loses their correlations.
  With `--switch s1 s2 ...`: one chain per s, the exact denoiser above t = s and the network at and below it; how
  the energy moves from s = 0 (exact throughout) to s = T (the network) says where the network's errors cost bonds.

Prints markdown tables. Costs: --probe ce with --n 64 and --sweeps 200 takes about a minute per (T, t) cell on
one thread; --probe sample about --steps x (--burn-in + --sweeps) sweeps per temperature.
"""

from __future__ import annotations

import argparse

import torch

from gensci.methods.diffusion import discrete
from gensci.methods.diffusion.samplers import time_grid
from gensci.ops.ising import energy
from gensci.workflows.base import Run


def exact_marginals(start: torch.Tensor, field: torch.Tensor, beta: float, sweeps: int, burn_in: int,
                    generator: torch.Generator) -> torch.Tensor:
    """P(s_i = +1 | x_t) [B, L, L] of the Ising model at beta with site field [B, L, L] (module docstring), by
    checkerboard heat-bath from `start` (+-1 [B, L, L]); even L (periodic checkerboard)."""
    s = start.clone()
    r, c = torch.meshgrid(torch.arange(s.shape[-2]), torch.arange(s.shape[-1]), indexing="ij")
    colours = [((r + c) % 2 == k) for k in (0, 1)]
    total = torch.zeros_like(s)
    for sweep in range(burn_in + sweeps):
        for colour in colours:
            local = beta * (s.roll(1, -1) + s.roll(-1, -1) + s.roll(1, -2) + s.roll(-1, -2)) + field
            p_up = torch.sigmoid(2 * local)
            if sweep >= burn_in:
                total += torch.where(colour, p_up, 0)  # this colour's conditional given the other's current spins
            draw = torch.where(torch.rand(s.shape, generator=generator) < p_up, 1.0, -1.0)
            s = torch.where(colour, draw, s)
    return total / sweeps


def site_field(method, xt: torch.Tensor, t: int) -> torch.Tensor:
    """h x_t [B, L, L] for state indices xt [B, 1, L, L] at step t: h = atanh(abar_t) (module docstring)."""
    return torch.atanh(method.abar[t].clamp(max=1 - 1e-7)) * method.values[xt[:, 0]]


def network_p0(method, xt: torch.Tensor, t: int, labels: torch.Tensor, previous=None) -> torch.Tensor:
    """The network's p(x_0 | x_t) [B, 1, L, L, 2]: with self-conditioning, a first pass feeds the second."""
    if method.config.self_condition and previous is None:
        previous = method.logits(xt, t, labels).softmax(-1)
    return method.logits(xt, t, labels, None, previous if method.config.self_condition else None).softmax(-1)


@torch.no_grad()
def cross_entropy_table(method, run, labels, times, n, sweeps, generator) -> None:
    test, temperatures = run.data.test.tensors, run.info["temperatures"]
    print("| T | t | abar | network CE | exact CE | excess |\n|---|---|---|---|---|---|")
    for label in labels:
        x0 = method.to_states(test["x"][test["label"] == label][:n])
        spins = method.values[x0[:, 0]]
        lab = torch.full((len(x0),), label)
        for t in times:
            xt = discrete.sample_noisy(x0, method.abar[t], method.uniform, generator)
            p_net = network_p0(method, xt, t, lab)[:, 0]  # [B, L, L, 2]
            ce_net = -p_net.gather(-1, x0[:, 0, ..., None]).clamp_min(1e-12).log().mean()
            p_up = exact_marginals(spins, site_field(method, xt, t), 1 / temperatures[label], sweeps, 0, generator)
            p_true = torch.where(spins > 0, p_up, 1 - p_up)
            ce_exact = -p_true.clamp_min(1e-12).log().mean()
            print(f"| {temperatures[label]} | {t} | {float(method.abar[t]):.4f} | {float(ce_net):.4f} | "
                  f"{float(ce_exact):.4f} | {float(ce_net / ce_exact - 1):+.1%} |", flush=True)


def denoisers(method, label: int, n: int, beta: float, sweeps: int, burn_in: int, generator):
    """(exact, network): posteriors p(x_0 | x_t) [n, 1, L, L, 2] for LatticeDiffusion.reverse_chain at one
    temperature; the network one keeps its last estimate for self-conditioning (call network.reset() per chain)."""
    lab = torch.full((n,), label)

    def exact(x, t):
        p_up = exact_marginals(method.values[x[:, 0]], site_field(method, x, t), beta, sweeps, burn_in, generator)
        return torch.stack([1 - p_up, p_up], -1)[:, None]

    def network(x, t):
        network.previous = network_p0(method, x, t, lab, network.previous)
        return network.previous

    network.reset = lambda: setattr(network, "previous", None)
    network.reset()
    return exact, network


def chain_energy(method, posterior, grid, n, generator) -> str:
    """Energy per spin ± its standard error of n lattices sampled along `grid` with `posterior`."""
    x = method.reverse_chain(discrete.sample_prior(method.uniform, (n, *method.shape), generator), grid, posterior,
                             generator)
    e = energy(method.values[x[:, 0]])
    return f"{e.mean():.3f} ± {e.std() / len(e) ** 0.5:.3f}"


@torch.no_grad()
def sampler_table(method, run, labels, steps, n, sweeps, burn_in, generator, switches=None) -> None:
    """Without `switches`: the sampler driven by the exact denoiser and by the network. With them: per switch s,
    the exact denoiser for t > s and the network for t <= s (s = 0: exact throughout; s >= T: the network), so
    the energy's drift as s grows shows at which noise levels the network's errors cost the bonds."""
    test, temperatures = run.data.test.tensors, run.info["temperatures"]
    grid = time_grid(method.config.timesteps, steps)
    columns = ["exact-denoiser E", "network E"] if switches is None else [f"network at t <= {s}" for s in switches]
    print(f"| T | steps | data E | {' | '.join(columns)} |\n|---|---|---|{'---|' * len(columns)}")
    for label in labels:
        data = energy(test["x"][test["label"] == label][:, 0])
        exact, network = denoisers(method, label, n, 1 / temperatures[label], sweeps, burn_in, generator)
        if switches is None:
            chains = [exact, network]
        else:
            chains = [lambda x, t, s=s: network(x, t) if t <= s else exact(x, t) for s in switches]
        ends = []
        for posterior in chains:
            network.reset()
            ends.append(chain_energy(method, posterior, grid, n, generator))
        print(f"| {temperatures[label]} | {steps} | {data.mean():.3f} ± {data.std() / len(data) ** 0.5:.3f} | "
              f"{' | '.join(ends)} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run")
    ap.add_argument("--probe", choices=["ce", "sample"], default="ce")
    ap.add_argument("--labels", type=int, nargs="+", default=[7, 9], help="temperature indices (7: T = 2.7)")
    ap.add_argument("--t", type=int, nargs="+", default=[20, 100, 200], help="noise steps for --probe ce")
    ap.add_argument("--steps", type=int, default=50, help="sampler steps for --probe sample")
    ap.add_argument("--switch", type=int, nargs="+", help="--probe sample: exact denoiser above each t, network at "
                    "and below it, one column per value")
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--sweeps", type=int, default=200)
    ap.add_argument("--burn-in", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    run = Run(args.run)
    method = run.method().eval()
    if method.values.tolist() != [-1.0, 1.0] or method.shape[0] != 1:
        raise SystemExit(f"{args.run}: not a lattice-diffusion run on +-1 spins")
    generator = torch.Generator().manual_seed(args.seed)
    if args.probe == "ce":
        cross_entropy_table(method, run, args.labels, args.t, args.n, args.sweeps, generator)
    else:
        sampler_table(method, run, args.labels, args.steps, args.n, args.sweeps, args.burn_in, generator,
                      args.switch)


if __name__ == "__main__":
    main()
