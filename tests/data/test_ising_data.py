"""The Wolff sampler against exact answers: a 3x3 lattice enumerated, Onsager's infinite lattice, the
autocorrelation time of an AR(1) series; the thinning decorrelates; the data set's items and cache."""

import itertools

import numpy as np
import pytest

from gensci.config import validate
from gensci.data.ising import integrated_autocorrelation_time, measure_thinning, sample_configurations
from gensci.ops.ising import WolffChains, energy, magnetisation, onsager_energy, onsager_magnetisation
from gensci.workflows.base import load_data


def test_tracked_energy_and_magnetisation_stay_exact():
    rng = np.random.default_rng(0)
    chains = WolffChains(rng.choice(np.int8([-1, 1]), (5, 64)), 2.4, rng)
    for _ in range(30):
        chains.step()
    lattices = chains.lattices()
    np.testing.assert_array_equal(chains.energy, np.round(energy(lattices) * 64))
    np.testing.assert_array_equal(chains.magnet, lattices.sum(axis=(1, 2)))


def test_a_3x3_lattice_matches_exact_enumeration():
    """All 512 states of the periodic 3x3 lattice give <e> and <|m|> exactly; the Wolff chains must agree
    within 4 standard errors (256 chains x 300 steps; tau ~ 1 step here, errors from the chain means)."""
    t = 2.5
    states = np.array(list(itertools.product([-1, 1], repeat=9)), np.int8).reshape(-1, 3, 3)
    w = np.exp(-energy(states) * 9 / t)
    exact_e, exact_m = (w * energy(states)).sum() / w.sum(), (w * np.abs(magnetisation(states))).sum() / w.sum()
    rng = np.random.default_rng(1)
    chains = WolffChains(rng.choice(np.int8([-1, 1]), (256, 9)), t, rng)
    chains.run(20)
    e, m = [], []
    for _ in range(300):
        chains.step()
        e.append(chains.energy / 9)
        m.append(np.abs(chains.magnet) / 9)
    e, m = np.array(e).mean(0), np.array(m).mean(0)  # per chain
    assert abs(e.mean() - exact_e) < 4 * e.std() / np.sqrt(len(e))
    assert abs(m.mean() - exact_m) < 4 * m.std() / np.sqrt(len(m))


def test_ar1_autocorrelation_time():
    """x_t = phi x_t-1 + noise has tau_int = (1 + phi) / (2 (1 - phi)) = 4.5 for phi = 0.8."""
    rng = np.random.default_rng(0)
    phi, x = 0.8, np.zeros((4000, 32))
    for i in range(1, len(x)):
        x[i] = phi * x[i - 1] + rng.normal(size=32)
    tau, ok = integrated_autocorrelation_time(x)
    assert ok and tau == pytest.approx(4.5, rel=0.1)
    assert integrated_autocorrelation_time(rng.normal(size=(2000, 8)))[0] == pytest.approx(0.5, abs=0.1)


@pytest.mark.parametrize("t", [1.8, 3.0])
def test_onsager_away_from_tc(t):
    """L = 16 against the infinite lattice. Tolerance: 4 standard errors of the (decorrelated) samples,
    plus 0.005 for the finite size: away from T_c the correction decays as exp(-L / xi), and Onsager's
    correlation length is xi < 2.5 at these temperatures (so exp(-16 / 2.5) ~ 2e-3)."""
    pilot = measure_thinning(16, t, np.random.default_rng(0), n_chains=32, burn_in_sweeps=10, pilot_sweeps=20)
    x = sample_configurations(16, t, 192, pilot["thinning"], np.random.default_rng(1), n_chains=64, burn_in_sweeps=10)
    e, m = energy(x), np.abs(magnetisation(x))
    assert abs(e.mean() - onsager_energy(t)) < 4 * e.std() / np.sqrt(len(e)) + 0.005
    if t < 2.269:
        assert abs(m.mean() - onsager_magnetisation(t)) < 4 * m.std() / np.sqrt(len(m)) + 0.005


def test_thinning_decorrelates_kept_samples():
    """Near T_c one Wolff step leaves |m| strongly correlated; samples kept every k = ceil(2 tau) steps
    are nearly independent (lag-1 correlation along each chain small)."""
    t, rng = 2.269, np.random.default_rng(2)
    pilot = measure_thinning(16, t, rng, n_chains=32, burn_in_sweeps=10, pilot_sweeps=40)
    assert pilot["window_found"] and pilot["thinning"] >= 2

    def lag1(thinning: int) -> float:
        x = sample_configurations(16, t, 32 * 24, thinning, np.random.default_rng(3), n_chains=32, burn_in_sweeps=10)
        a = np.abs(magnetisation(x)).reshape(32, 24)  # chain-major
        a = a - a.mean()
        return float((a[:, 1:] * a[:, :-1]).mean() / (a**2).mean())

    assert lag1(1) > 0.4  # the raw chain is correlated ...
    assert abs(lag1(pilot["thinning"])) < 0.25  # ... the thinned one is not


def test_data_set_items_conditions_and_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GENSCI_CACHE", str(tmp_path))
    data = {"name": "ising", "lattice_size": 16, "temperatures": [3.0, 1.8], "n_per_temperature": 8,
            "n_valid_per_temperature": 4, "n_test_per_temperature": 6, "n_chains": 4, "burn_in_sweeps": 2, "pilot_sweeps": 10}
    cfg = validate({"data": data, "method": {"name": "toy"}})
    splits = load_data(cfg)
    test = splits.test.tensors
    assert test["x"].shape == (12, 1, 16, 16) and set(test["x"].unique().tolist()) == {-1.0, 1.0}
    assert splits.info["temperatures"] == [1.8, 3.0]  # sorted: labels index this grid
    np.testing.assert_allclose(test["temperature"].numpy(), np.array([1.8, 3.0], np.float32)[test["label"].numpy()])
    assert len(splits.info["autocorrelation"]["thinning"]) == 2 and splits.info["condition_keys"] == ["temperature"]
    assert list(tmp_path.glob("ising/*.npz"))
    again = load_data(cfg)  # from the cache: identical
    assert (again.train.tensors["x"] == splits.train.tensors["x"]).all()
