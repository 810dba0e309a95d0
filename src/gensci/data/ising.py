"""2D Ising lattices (periodic L x L, J = 1, no field) at temperatures across T_c, drawn with the
Wolff single-cluster algorithm and thinned by their measured autocorrelation time.

The sampler (`WolffChains`): R independent chains advance together, vectorised over chains with
numpy (no numba). One step flips one cluster per chain (Wolff 1989, Phys. Rev. Lett. 62, 361): a
random seed site, then the cluster grows breadth-first; each bond from a newly added site to a
same-spin neighbour outside the cluster is added with p = 1 - exp(-2/T), every bond tried once.
Energy and magnetisation are updated exactly from the flipped cluster and its boundary bonds.

Per temperature (gensci.data.ising.simulate_temperature):
1. chains start ordered (one random sign each) below T_c and random at and above it, and run
   `burn_in_sweeps` sweeps, a sweep being N / <cluster size> steps (<C> measured in this phase);
2. a pilot run of `pilot_sweeps` sweeps records |m| and the energy at every step; their integrated
   autocorrelation times tau_int (in steps; Sokal's automatic window with c = 5: Madras & Sokal
   1988, J. Stat. Phys. 50, 109; Sokal 1997, "Monte Carlo methods in statistical mechanics", Sec. 3)
   give the thinning k = ceil(2 max(tau_|m|, tau_E)): a configuration is kept every k steps, so the
   variance of a mean over kept samples is that of independent ones (within ~e^-2 correlation);
3. each split (train/valid/test) runs its own chains from its own seed (burn-in again), keeping
   every k-th configuration, so changing the training size does not change the test set.
info records tau_int, k, <C> and the pilot length per temperature.

Items: {"x": [1, L, L] float32 spins ±1, "label": int64 temperature index, "temperature": float32}.
The temperature is the condition; the GAN/VAE family samples by it as a class (the temperatures are
a fixed grid, so the class index is exact, not a binning). Cached as int8 in GENSCI_CACHE/ising/.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import Field, field_validator

from gensci.config import DataConfig
from gensci.data.base import DataSplits, TensorDictDataset, config_digest, default_cache_dir
from gensci.data.images import SPLITS, load_cached
from gensci.ops.ising import CRITICAL_TEMPERATURE, WolffChains
from gensci.progress import Progress
from gensci.spec import DataSpec, TensorSpec, ValueRange

_SIM_VERSION = 1  # part of the cache key: bump when the sampler changes
SPIN_RANGE = ValueRange(-1.0, 1.0, values=(-1.0, 1.0), unit="spin")
# 10 temperatures across T_c (2.269 is T_c to 3 decimals); denser near T_c where the physics changes.
DEFAULT_TEMPERATURES = [1.6, 1.9, 2.1, 2.2, 2.269, 2.35, 2.5, 2.7, 3.0, 3.3]


class IsingDataConfig(DataConfig):
    name: Literal["ising"] = "ising"
    lattice_size: Literal[16, 32, 64] = Field(32, description="L (16 only for tests: the conv nets need >= 16)")
    temperatures: list[float] = Field(default_factory=lambda: list(DEFAULT_TEMPERATURES), min_length=1)
    n_per_temperature: int = Field(1000, ge=1, description="training lattices per temperature")
    n_valid_per_temperature: int = Field(100, ge=1)
    n_test_per_temperature: int = Field(250, ge=1)
    n_chains: int = Field(64, ge=1, description="Wolff chains run together (vectorised) per temperature and split")
    burn_in_sweeps: int = Field(20, ge=1)
    pilot_sweeps: int = Field(100, ge=10, description="length of the run that measures the autocorrelation time")
    cache: bool = True

    @field_validator("temperatures")
    @classmethod
    def _positive(cls, v: list[float]) -> list[float]:
        if any(t <= 0 for t in v) or len(set(v)) != len(v):
            raise ValueError(f"temperatures must be distinct and positive, got {v}")
        return sorted(v)


def integrated_autocorrelation_time(series: np.ndarray, c: float = 5.0) -> tuple[float, bool]:
    """tau_int = 1/2 + sum_{t=1}^{M} rho(t) of series [T, R] (R independent chains, one observable),
    with Sokal's automatic window: the smallest M with M >= c tau_int(M). rho is the autocovariance
    averaged over chains (about the pooled mean) over the variance. Returns (tau, window_found):
    False when no window fits in the series (it is too short for this tau)."""
    x = np.asarray(series, dtype=np.float64)
    x = x - x.mean()
    t = len(x)
    var = (x**2).mean()
    if var == 0:
        return 0.5, True
    f = np.fft.rfft(x, n=2 * t, axis=0)
    acov = np.fft.irfft(np.abs(f) ** 2, axis=0)[:t].mean(1) / np.arange(t, 0, -1)
    rho = acov / acov[0]
    taus = 0.5 + np.cumsum(rho[1:])
    window = np.flatnonzero(np.arange(1, t) >= c * taus)
    if window.size == 0:
        return float(taus[-1]), False
    return float(taus[window[0]]), True


def _start(n_chains: int, size: int, temperature: float, rng: np.random.Generator) -> np.ndarray:
    """Ordered chains (a random sign each) below T_c, random spins at and above it: [R, L*L] int8."""
    if temperature < CRITICAL_TEMPERATURE:
        return np.repeat(rng.choice(np.int8([-1, 1]), (n_chains, 1)), size * size, axis=1)
    return rng.choice(np.int8([-1, 1]), (n_chains, size * size))


def _burn_in(chains: WolffChains, sweeps: int) -> float:
    """Run until the chains have flipped `sweeps` x N spins on average each; returns <cluster size>."""
    flipped, steps = 0.0, 0
    while flipped < sweeps * chains.n_sites:
        flipped += chains.step().mean()
        steps += 1
    return flipped / steps


def measure_thinning(size: int, temperature: float, rng: np.random.Generator, n_chains: int = 64,
                     burn_in_sweeps: int = 20, pilot_sweeps: int = 100) -> dict[str, float]:
    """The pilot run of the module docstring: tau_int (steps) of |m| and E, the thinning k, <C>."""
    chains = WolffChains(_start(n_chains, size, temperature, rng), temperature, rng)
    mean_cluster = _burn_in(chains, burn_in_sweeps)
    steps = max(50, round(pilot_sweeps * chains.n_sites / mean_cluster))
    abs_m, energy = np.empty((steps, n_chains)), np.empty((steps, n_chains))
    for i in range(steps):
        chains.step()
        abs_m[i], energy[i] = np.abs(chains.magnet), chains.energy
    (tau_m, ok_m), (tau_e, ok_e) = (integrated_autocorrelation_time(s) for s in (abs_m, energy))
    tau = max(tau_m, tau_e)
    return {"tau_abs_m": tau_m, "tau_energy": tau_e, "thinning": max(1, math.ceil(2 * tau)),
            "mean_cluster_size": float(mean_cluster), "pilot_steps": steps, "window_found": bool(ok_m and ok_e)}


def sample_configurations(size: int, temperature: float, n: int, thinning: int, rng: np.random.Generator,
                          n_chains: int = 64, burn_in_sweeps: int = 20) -> np.ndarray:
    """n configurations [n, L, L] int8: chains burnt in, then one kept every `thinning` steps."""
    r = min(n_chains, n)
    chains = WolffChains(_start(r, size, temperature, rng), temperature, rng)
    _burn_in(chains, burn_in_sweeps)
    kept = []
    for _ in range(math.ceil(n / r)):
        chains.run(thinning)
        kept.append(chains.lattices())
    return np.stack(kept, axis=1).reshape(-1, size, size)[:n]  # chain-major: consecutive items share a chain


def simulate(config: IsingDataConfig) -> dict[str, np.ndarray]:
    """All splits: {split}_x [N, L, L] int8, {split}_y [N] temperature index; plus the pilot results
    per temperature (tau_abs_m, tau_energy, thinning, mean_cluster_size, pilot_steps, window_found)."""
    sizes = {"train": config.n_per_temperature, "valid": config.n_valid_per_temperature,
             "test": config.n_test_per_temperature}
    out: dict[str, list] = {f"{s}_{k}": [] for s in SPLITS for k in "xy"}
    pilots = []
    total = len(config.temperatures) * sum(sizes.values())
    with Progress("simulating Ising lattices (Wolff; once, then cached):", total, unit="lattices") as progress:
        for ti, t in enumerate(config.temperatures):
            pilot = measure_thinning(config.lattice_size, t, np.random.default_rng([config.seed, 99, ti]),
                                     config.n_chains, config.burn_in_sweeps, config.pilot_sweeps)
            pilots.append(pilot)
            for si, split in enumerate(SPLITS):
                rng = np.random.default_rng([config.seed, si, ti])
                x = sample_configurations(config.lattice_size, t, sizes[split], pilot["thinning"], rng,
                                          config.n_chains, config.burn_in_sweeps)
                out[f"{split}_x"].append(x)
                out[f"{split}_y"].append(np.full(len(x), ti, np.int64))
                progress.advance(len(x))
    arrays = {k: np.concatenate(v) for k, v in out.items()}
    return arrays | {f"pilot_{k}": np.array([p[k] for p in pilots]) for k in pilots[0]}


def cache_path(config: IsingDataConfig, cache_dir: Path | None = None) -> Path:
    key = config.model_dump(mode="json", exclude={"cache"}) | {"version": _SIM_VERSION}
    digest = config_digest(key)
    return (cache_dir or default_cache_dir()) / "ising" / f"ising_L{config.lattice_size}_{digest}.npz"


ISING_INFO = frozenset({"channels", "image_size", "n_classes", "class_names", "dataset", "temperatures",
                        "condition_keys", "critical_temperature", "lattice_size", "autocorrelation"})


class IsingData:
    """Wolff-sampled 2D Ising lattices per temperature (module docstring)."""

    Config: ClassVar[type[IsingDataConfig]] = IsingDataConfig

    @classmethod
    def spec(cls, config: IsingDataConfig) -> DataSpec:
        size = config.lattice_size
        return DataSpec(
            domain="lattices",
            items={"x": TensorSpec((1, size, size), "float", "spins ±1"),
                   "label": TensorSpec((), "int", "temperature index (the condition)"),
                   "temperature": TensorSpec((), "float", "temperature in units of J / k_B")},
            info=ISING_INFO,
            ranges={"x": SPIN_RANGE},
        )

    @classmethod
    def load(cls, config: IsingDataConfig) -> DataSplits:
        arrays = load_cached(cache_path(config), lambda: simulate(config), config.cache)
        temps = np.asarray(config.temperatures, np.float32)

        def split(name: str) -> TensorDictDataset:
            x = torch.from_numpy(arrays[f"{name}_x"].astype(np.float32))[:, None]
            y = torch.from_numpy(arrays[f"{name}_y"]).long()
            return TensorDictDataset({"x": x, "label": y, "temperature": torch.from_numpy(temps)[y]})

        pilot = {k[len("pilot_"):]: arrays[k].tolist() for k in arrays if k.startswith("pilot_")}
        info = {
            "channels": 1,
            "image_size": config.lattice_size,
            "lattice_size": config.lattice_size,
            "n_classes": len(temps),
            "class_names": [f"T={t:.3f}" for t in config.temperatures],
            "temperatures": list(config.temperatures),
            "condition_keys": ["temperature"],  # the label indexes this grid: temperatures[label]
            "critical_temperature": CRITICAL_TEMPERATURE,
            "coupling": 1.0,
            "boundary": "periodic",
            "dataset": "ising",
            "autocorrelation": pilot,  # per temperature: tau_abs_m, tau_energy (steps), thinning, ...
            "pixel_mean": [0.0],  # spins up and down are equally likely at every temperature (no field)
        }
        return DataSplits(split("train"), split("valid"), split("test"), info)
