import itertools
import math

import numpy as np
import pytest
import torch

from gensci.data.targets import TARGETS, check_finite, target
from gensci.data.targets.lattices import (
    IsingTarget,
    exact_ising,
    magnetisation,
    onsager_log_z_per_spin,
    susceptibility,
)
from gensci.data.targets.wells import FAB_WELL_Z1, MB_BOX, grid_log_z, well_integrals
from gensci.errors import UserError
from gensci.ops.ising import CRITICAL_TEMPERATURE, onsager_energy

F64 = torch.float64


def test_energies_on_hand_computed_points():
    dw = target("double-well")
    x = torch.tensor([[0.0, 0.0], [1.0, 2.0], [-2.0, -1.0]], dtype=F64)
    # 1 - 6 + 1 + 2 = -2 ; 16 - 24 - 2 + 0.5 = -9.5
    assert torch.allclose(dw.energy(x), torch.tensor([0.0, -2.0, -9.5], dtype=F64))
    mw = target("many-well", dim=4)
    y = torch.tensor([[1.0, 2.0, -2.0, -1.0]], dtype=F64)  # (1 - 6 - 0.5 + 2) + (16 - 24 + 1 + 0.5)
    assert torch.allclose(mw.energy(y), torch.tensor([-3.5 - 6.5], dtype=F64))
    mb = target("mueller-brown")
    # at (0, 0) by hand, term by term: A_j exp(a X² + b X Y + c Y²) with (x - X, y - Y) = (-X, -Y)
    by_hand = 0.1 * (-200 * math.exp(-1) - 100 * math.exp(-10 * 0.25) - 170 * math.exp(-6.5 * 0.25 - 11 * 0.75
                     - 6.5 * 2.25) + 15 * math.exp(0.7 - 0.6 + 0.7))
    assert mb.energy(torch.zeros(1, 2, dtype=F64)).item() == pytest.approx(by_hand, rel=1e-12)
    # the deepest minimum of Müller-Brown is about -146.7 (k = 1) near (-0.558, 1.442)
    assert mb.energy(torch.tensor([[-0.558, 1.442]], dtype=F64)).item() == pytest.approx(-14.67, abs=0.01)


@pytest.mark.parametrize("name,params,shape", [
    ("double-well", {}, (2,)), ("mueller-brown", {}, (2,)), ("gmm-40", {"seed": 1}, (2,)),
    ("many-well", {"dim": 6}, (6,)), ("phi4", {"L": 3}, (3, 3))])
def test_gradients_match_finite_differences(name, params, shape):
    t = target(name, **params)
    g = torch.Generator().manual_seed(0)
    x = torch.randn((4, *shape), generator=g, dtype=F64)
    if name == "gmm-40":  # near the means, where the density is not flat
        x = t.means[:4] + x
    grad = t.grad_energy(x)
    assert grad.shape == x.shape and t.has_gradient
    eps = 1e-6
    flat = x.reshape(4, -1)
    for i in range(flat.shape[1]):
        step = torch.zeros_like(flat)
        step[:, i] = eps
        fd = (t.energy((flat + step).reshape(x.shape)) - t.energy((flat - step).reshape(x.shape))) / (2 * eps)
        assert torch.allclose(grad.reshape(4, -1)[:, i], fd, rtol=1e-6, atol=1e-6)
    assert torch.allclose(t.log_prob(x), -t.energy(x))


def test_energies_keep_dtype_and_batch_rows_independent():
    for t in (target("double-well"), target("gmm-40"), target("phi4", L=4), target("ising", L=4)):
        x = torch.randn((5, *t.event_shape), generator=torch.Generator().manual_seed(1))
        if t.space == "spins":
            x = x.sign()
        e32, e64 = t.energy(x), t.energy(x.double())
        assert e32.shape == (5,) and e32.dtype == torch.float32 and e64.dtype == F64
        assert torch.allclose(e32.double(), e64, rtol=1e-4, atol=1e-3)
        assert torch.equal(t.energy(x.double()[2:3]), e64[2:3])


def test_double_well_quadrature_matches_a_brute_force_grid():
    dw = target("double-well")
    ref = dw.reference()
    assert grid_log_z(dw.energy, (-6.0, 6.0, -12.0, 12.0), 0.005) == pytest.approx(ref["log_z"], abs=1e-6)
    # P(x1 > 0) on the grid: the x2 factor cancels, so a 1-D grid in x1 suffices
    x1 = torch.arange(-6.0, 6.0, 1e-4, dtype=F64) + 5e-5
    w = torch.exp(-(x1**4 - 6 * x1**2 + x1))
    assert float(w[x1 > 0].sum() / w.sum()) == pytest.approx(ref["p_right"], rel=1e-6)
    assert 0.01 < ref["p_right"] < 0.1  # the tilt +x1 makes the right well the shallow one


def test_many_well_log_z_is_fabs_number():
    z1, _ = well_integrals(-0.5)
    assert z1 == pytest.approx(FAB_WELL_Z1, rel=1e-7)
    ref = target("many-well").reference()["log_z"]
    assert ref == pytest.approx(16 * (math.log(FAB_WELL_Z1) + 0.5 * math.log(2 * math.pi)), abs=1e-5)
    assert ref == pytest.approx(164.69, abs=0.01)
    # independent copies: log Z adds over pairs
    assert target("many-well", dim=4).reference()["log_z"] == pytest.approx(ref / 8, rel=1e-12)


def test_mueller_brown_quadrature_matches_a_grid_on_a_larger_box():
    mb = target("mueller-brown")
    ref = mb.reference()["log_z"]
    assert grid_log_z(mb.energy, (-3.0, 2.0, -2.0, 3.5), 0.004) == pytest.approx(ref, abs=1e-5)
    assert grid_log_z(mb.energy, MB_BOX, 0.004) == pytest.approx(ref, abs=1e-5)
    assert target("mueller-brown", k=0.2).reference() == {}  # the box is vouched for at k = 0.1 only


def test_gmm_is_normalised_and_exact_samples_have_the_right_means():
    t = target("gmm-40", seed=3)
    assert torch.equal(t.means, target("gmm-40", seed=3).means)
    assert not torch.equal(t.means, target("gmm-40", seed=4).means)
    assert t.means.abs().max() <= 40 and t.scale == pytest.approx(math.log1p(math.e))
    # the midpoint rule is spectrally accurate for Gaussians: a coarse grid suffices
    assert grid_log_z(t.energy, (-50.0, 50.0, -50.0, 50.0), 0.2) == pytest.approx(t.reference()["log_z"], abs=1e-6)
    x, true = t.sample_with_components(20_000, generator=torch.Generator().manual_seed(0))
    assert torch.equal(x, t.sample(20_000, generator=torch.Generator().manual_seed(0)))
    for k in range(40):
        xk = x[true == k]
        assert abs(len(xk) - 500) < 5 * math.sqrt(500)  # equal weights: n/40 each
        assert torch.allclose(xk.mean(0), t.means[k], atol=0.25)  # 4 standard errors (1.31 / sqrt 500)
        assert torch.allclose(xk.std(0), torch.full((2,), t.scale, dtype=F64), rtol=0.15)
    # the mode-count helper: every component visited; components > 6 scales from every other are recovered by
    # nearest-mean assignment (almost) exactly
    comp = t.nearest_component(x)
    assert t.modes_found(x) == 40 and t.modes_found(x[:1]) == 1
    at_means = t.means[[0, 0, 5]] + 0.01
    assert t.nearest_component(at_means).tolist() == [0, 0, 5]
    assert t.modes_found(at_means) == 2 and t.modes_found(at_means, min_count=2) == 1
    gap = torch.cdist(t.means, t.means).fill_diagonal_(float("inf")).min(1).values
    isolated = torch.isin(true, torch.nonzero(gap > 6 * t.scale).flatten())
    assert isolated.sum() > 2000 and (comp[isolated] == true[isolated]).double().mean() > 0.999


def test_phi4_action_on_hand_computed_lattices():
    t = target("phi4", L=2, m2=-4, lam=8)
    one = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]], dtype=F64)
    # only the site (0,0) is nonzero: Σ_μ 2φ² = 4 (its neighbours are 0), m² φ² = -4, λ φ⁴ = 8
    assert t.energy(one).item() == pytest.approx(4 - 4 + 8)
    t3 = target("phi4", L=3, m2=1.5, lam=0.5)
    phi = torch.tensor([[[1.0, 2.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 0.5]]], dtype=F64)
    action = 0.0  # the action written term by term: for each site, each direction μ with its x+μ and x-μ
    for i, j in itertools.product(range(3), repeat=2):
        p = phi[0, i, j].item()
        for di, dj in [(1, 0), (0, 1)]:
            fwd, bwd = phi[0, (i + di) % 3, (j + dj) % 3].item(), phi[0, (i - di) % 3, (j - dj) % 3].item()
            action += 2 * p * p - p * fwd - p * bwd
        action += 1.5 * p * p + 0.5 * p**4
    assert t3.energy(phi).item() == pytest.approx(action, rel=1e-12)


@pytest.mark.parametrize("c", [0.0, 0.7, -1.3])
def test_phi4_action_of_a_constant_field_is_its_closed_form(c):
    t = target("phi4", L=8, m2=-4, lam=8)
    x = torch.full((1, 8, 8), c, dtype=F64)
    assert t.energy(x).item() == pytest.approx(64 * (-4 * c**2 + 8 * c**4))  # the hopping terms cancel


def test_lattice_observables():
    x = torch.tensor([[[1.0, 1.0], [1.0, 1.0]], [[-1.0, -1.0], [-1.0, 1.0]]])
    m = magnetisation(x)
    assert torch.allclose(m, torch.tensor([1.0, -0.5]))
    assert torch.equal(target("phi4", L=2).observables(x)["abs_magnetisation"], m.abs())
    # χ = N (⟨m²⟩ - ⟨|m|⟩²) = 4 (0.625 - 0.5625)
    assert susceptibility(m, 4) == pytest.approx(0.25)
    assert susceptibility(m, 4, beta=2.0) == pytest.approx(0.5)


def _brute_force_ising(L, beta):
    """Every configuration of the L x L periodic lattice, bonds summed site by site."""
    n = L * L
    ws, es, ms = [], [], []
    for bits in itertools.product([-1, 1], repeat=n):
        s = np.array(bits).reshape(L, L)
        h = -sum(s[i, j] * (s[(i + 1) % L, j] + s[i, (j + 1) % L]) for i in range(L) for j in range(L))
        ws.append(math.exp(-beta * h))
        es.append(h / n)
        ms.append(abs(s.sum()) / n)
    w, e, m = np.array(ws), np.array(es), np.array(ms)
    z = w.sum()
    p = w / z
    return {"log_z": math.log(z), "energy_per_spin": p @ e, "abs_magnetisation": p @ m,
            "specific_heat": beta**2 * n * (p @ e**2 - (p @ e) ** 2),
            "susceptibility": beta * n * (p @ m**2 - (p @ m) ** 2)}


@pytest.mark.parametrize("L,beta", [(2, 0.3), (3, 0.44), (3, 1.0)])
def test_ising_enumeration_matches_a_brute_force_loop(L, beta):
    exact = exact_ising(L, beta)
    for key, value in _brute_force_ising(L, beta).items():
        assert exact[key] == pytest.approx(value, rel=1e-10, abs=1e-12), key
    assert exact["log_z_per_spin"] == pytest.approx(exact["log_z"] / L**2)


def test_ising_target_energy_and_exact_l4_behaviour():
    t = target("ising", L=4, beta=0.5)
    assert not t.has_gradient and t.space == "spins" and t.reference_kind == "exact"
    up = torch.ones(1, 4, 4)
    assert t.hamiltonian(up).item() == -32 and t.energy(up).item() == -16
    with pytest.raises(UserError, match="no gradient"):
        t.grad_energy(up)
    mixed = up.clone()
    mixed[0, 0, :] = -1  # one row flipped: 8 broken vertical bonds, m = 1/2
    obs = t.observables(torch.cat([up, mixed]))
    assert obs["energy_per_spin"].tolist() == [-2.0, -1.0] and obs["abs_magnetisation"].tolist() == [1.0, 0.5]
    assert {"energy_per_spin", "abs_magnetisation"} < set(t.reference())  # same names as the exact answers
    temps = np.linspace(1.0, 4.0, 61)
    refs = [exact_ising(4, 1 / T) for T in temps]
    am = np.array([r["abs_magnetisation"] for r in refs])
    heat = np.array([r["specific_heat"] for r in refs])
    chi = np.array([r["susceptibility"] for r in refs])
    assert am[0] > 0.99 and np.all(np.diff(am) < 0) and am[-1] < 0.6
    # finite-size peaks near Onsager's T_c = 2.269 (shifted up at L = 4)
    assert 2.0 < temps[heat.argmax()] < 2.8 and 2.2 < temps[chi.argmax()] < 3.2
    # T = 1: the ground state -2 plus single flips, 8 e^(-8β) per spin to leading order (2.7e-3)
    assert refs[0]["energy_per_spin"] == pytest.approx(-2.0 + 8 * math.exp(-8), abs=5e-4)


def test_onsager_free_energy():
    beta_c = 1 / CRITICAL_TEMPERATURE
    # at T_c: ln Z / N = ln(2)/2 + 2G/π, G Catalan's constant
    assert onsager_log_z_per_spin(beta_c) == pytest.approx(0.5 * math.log(2) + 2 * 0.915965594177219 / math.pi,
                                                             abs=1e-8)
    # d(ln Z/N)/dβ = -u: consistent with the internal energy of gensci.ops.ising
    for beta in (0.3, 0.6):
        h = 1e-5
        slope = (onsager_log_z_per_spin(beta + h) - onsager_log_z_per_spin(beta - h)) / (2 * h)
        assert slope == pytest.approx(-float(onsager_energy(1 / beta)), rel=1e-6)
    # high temperature: the L = 4 torus is already the infinite lattice to ~tanh(β)^4
    assert exact_ising(4, 0.1)["log_z"] / 16 == pytest.approx(onsager_log_z_per_spin(0.1), abs=2e-4)
    big = target("ising", L=16, beta=0.6)
    assert big.reference_kind == "infinite-lattice"
    assert set(big.reference()) == {"log_z_per_spin", "energy_per_spin", "abs_magnetisation"}


def test_registry_and_bad_input():
    assert set(TARGETS) == {"double-well", "mueller-brown", "gmm-40", "many-well", "phi4", "ising"}
    assert isinstance(target("ising", L=4, beta=0.44), IsingTarget)
    with pytest.raises(UserError, match="known targets: double-well, gmm-40") as e:
        target("double-wel")
    assert "\n" not in str(e.value)
    for name, params, msg in [("phi4", {"L": 1}, "L must be"), ("phi4", {"lam": -1.0}, "lam must be"),
                              ("ising", {"beta": 0}, "beta must be"), ("many-well", {"dim": 5}, "even"),
                              ("gmm-40", {"seed": 0.5}, "seed"), ("double-well", {"scale": 2}, "bad parameters"),
                              ("mueller-brown", {"k": float("nan")}, "k must be")]:
        with pytest.raises(UserError, match=msg):
            target(name, **params)
    with pytest.raises(UserError, match="batch"):
        target("phi4", L=4).energy(torch.zeros(2, 3, 3))
    with pytest.raises(UserError, match="exact enumeration"):
        exact_ising(5, 0.4)


def test_check_finite():
    e = torch.tensor([1.0, 2.0])
    assert check_finite(e) is e
    x = torch.tensor([[0.0], [1e300]])
    with pytest.raises(UserError, match=r"not finite for 1 of 2 samples \(first at index 1"):
        check_finite(torch.tensor([1.0, float("inf")]), x)
    with pytest.raises(UserError, match="2 of 3"):
        check_finite(torch.tensor([float("nan"), 0.0, float("nan")]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_energies_run_on_the_gpu():
    for name in TARGETS:
        t = target(name)
        x = torch.randn((3, *t.event_shape), dtype=F64, device="cuda")
        if t.space == "spins":
            x = x.sign()
        assert torch.allclose(t.energy(x).cpu(), t.energy(x.cpu()))
        if t.has_gradient:
            assert t.grad_energy(x).device.type == "cuda"
    gmm = target("gmm-40")
    assert gmm.sample(5, generator=torch.Generator("cuda").manual_seed(0)).device.type == "cuda"
