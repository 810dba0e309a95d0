"""Thermodynamics of Ising lattices per temperature, compared with Monte Carlo reference lattices by
their own sample variance (gensci.metrics.sample_variance).

For configurations s [N, L, L] (±1) at temperature T, with m and e the magnetisation and energy per
spin of each configuration and n = L^2 (the finite-lattice estimators with |m| of Newman & Barkema
1999, "Monte Carlo Methods in Statistical Physics"):
- abs_m = <|m|>, energy = <e>,
- specific_heat = n (<e^2> - <e>^2) / T^2, susceptibility = n (<m^2> - <|m|>^2) / T,
- binder = 1 - <m^4> / (3 <m^2>^2) (Binder 1981, Z. Phys. B 43, 119: 2/3 in the ordered phase, 0 for
  a Gaussian m),
- correlation G(r) = <s_i s_{i+r}> along the lattice axes, r = 0 .. L/2 (periodic),
- sign balance: below T_c the two signs of m are equally likely (no field); the minority sign's
  share of the configurations, 0.5 ideal, 0 when a generator knows only one sign.
Generated values that are not exactly ±1 are first made spins (`as_spins`).
"""

from __future__ import annotations

import numpy as np

from gensci.metrics.sample_variance import Comparison, compare_means, compare_statistic, pooled_fraction
from gensci.ops.ising import CRITICAL_TEMPERATURE, energy, magnetisation

OBSERVABLES = ("abs_m", "energy", "specific_heat", "susceptibility", "binder")


def as_spins(x, seed: int = 0) -> np.ndarray:
    """Values in `[-1, 1]` [N, L, L] (or [N, 1, L, L]) -> spins ±1 int8: +1 with probability (1 + x)/2.

    Exact for ±1 input. For values in between it reads x as the spin's mean, as the VAE's Bernoulli
    likelihood of the decoder output does (a tanh generator output likewise). NaN raises."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    x = np.asarray(x, np.float64)
    if x.ndim == 4 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 3:
        raise ValueError(f"expected lattices [N, L, L] or [N, 1, L, L], got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{int((~np.isfinite(x)).sum())} NaN/inf spin values")
    up = np.random.default_rng(seed).random(x.shape) < (1 + np.clip(x, -1, 1)) / 2
    return np.where(up, 1, -1).astype(np.int8)


def thermodynamics(m: np.ndarray, e: np.ndarray, temperature: float, n_sites: int) -> np.ndarray:
    """The OBSERVABLES [5] from per-configuration m [N] and e [N]."""
    m, e = np.asarray(m, np.float64), np.asarray(e, np.float64)
    m2 = (m**2).mean()
    return np.array([np.abs(m).mean(), e.mean(), n_sites * e.var() / temperature**2,
                     n_sites * (m2 - np.abs(m).mean() ** 2) / temperature,
                     1 - (m**4).mean() / (3 * m2**2) if m2 > 0 else 0.0])


def correlation_function(spins) -> np.ndarray:
    """G(r) = <s_i s_{i+r}> per configuration [N, L//2 + 1], averaged over sites and both axes (periodic)."""
    s = np.asarray(spins, np.float64)
    f = np.fft.fft(s, axis=-1), np.fft.fft(s, axis=-2)
    rows = np.fft.ifft(np.abs(f[0]) ** 2, axis=-1).real.mean(axis=(-2,))  # [N, L] along x
    cols = np.fft.ifft(np.abs(f[1]) ** 2, axis=-2).real.mean(axis=(-1,))  # [N, L] along y
    size = s.shape[-1]
    return ((rows + cols) / (2 * size))[:, : size // 2 + 1]


def sign_balance(m) -> float:
    """The minority sign's share of configurations with m != 0 (0.5 ideal); nan if all have m = 0."""
    m = np.asarray(m)
    nonzero = m[m != 0]
    return float(min((nonzero > 0).mean(), (nonzero < 0).mean())) if nonzero.size else float("nan")


def _per_config(spins) -> np.ndarray:
    """[N, 2]: (m, e) per configuration."""
    return np.stack([magnetisation(spins), energy(spins)], axis=1)


def compare_temperature(generated, real, temperature: float, seed: int = 0) -> dict[str, Comparison]:
    """Spins generated [Ng, L, L] vs real [Nr, L, L] at one temperature: the observables (bootstrap
    yardstick) and G(r) (per-configuration means)."""
    n_sites = np.asarray(real).shape[-1] ** 2
    stat = lambda me: thermodynamics(me[:, 0], me[:, 1], temperature, n_sites)  # noqa: E731
    return {"observables": compare_statistic(stat, _per_config(generated), _per_config(real), seed=seed),
            "correlation": compare_means(correlation_function(generated), correlation_function(real))}


def lattice_metrics(generated: dict[float, np.ndarray], real: dict[float, np.ndarray], seed: int = 0):
    """Spins per temperature {T: [N, L, L]} (generated and real, the same temperatures) ->
    (metrics, {T: comparisons}).

    metrics: observables_within_2sigma (fraction of the temperature x observable cells within 2 sigma
    of the Monte Carlo data), correlation_within_2sigma (temperature x distance cells), sign_balance
    (mean over T < T_c of the generated minority-sign share; the data's beside it as
    sign_balance_data), per observable its within-fraction over temperatures, and by_temperature:
    {T (str): {observable: {"generated", "data", "sigma"}}}, the values behind the verdicts."""
    temps = sorted(real)
    comps = {t: compare_temperature(generated[t], real[t], t, seed) for t in temps}
    obs = np.stack([comps[t]["observables"].within for t in temps])  # [T, 5]
    below = [t for t in temps if t < CRITICAL_TEMPERATURE]
    balance = lambda sets: float(np.mean([sign_balance(magnetisation(sets[t])) for t in below])) if below else float("nan")  # noqa: E731
    metrics = {
        "observables_within_2sigma": float(obs.mean()),
        "correlation_within_2sigma": pooled_fraction([comps[t]["correlation"] for t in temps]),
        "sign_balance": balance(generated),
        "sign_balance_data": balance(real),
    } | {f"{name}_within_2sigma": float(obs[:, i].mean()) for i, name in enumerate(OBSERVABLES)}
    metrics["by_temperature"] = {f"{t:.4g}": per_observable(comps[t]["observables"]) for t in temps}
    return metrics, comps


def per_observable(comparison: Comparison) -> dict[str, dict[str, float]]:
    """One temperature's observables as plain numbers: {name: {"generated", "data", "sigma"}}."""
    return {name: {"generated": float(comparison.generated[i]), "data": float(comparison.real[i]),
                   "sigma": float(comparison.sigma[i])} for i, name in enumerate(OBSERVABLES)}
