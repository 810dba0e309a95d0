import pytest
import torch

from gensci.config import TrainConfig
from gensci.errors import ConfigError, ContractError, UserError
from gensci.methods.base import SamplingOptions
from gensci.methods.diffusion import discrete
from gensci.methods.diffusion.discrete import q_probs, transition_matrix
from gensci.methods.digress import DiGress, DiGressConfig
from gensci.testing import SimpleStepper

# QM9-like heavy atoms: C, N, O, F with charges -1, 0, 1; the (type, charge) pairs that occur: C, N, N+, O, O-, F
INFO = {"atom_types": ["C", "N", "O", "F"], "atomic_numbers": [6, 7, 8, 9], "charge_values": [-1, 0, 1],
        "bond_types": ["none", "single", "double", "triple"], "max_n_atoms": 6, "n_nodes_hist": {"3": 2, "4": 1},
        "atom_charge_marginal": [[0, 0.7, 0], [0, 0.1, 0.01], [0.01, 0.17, 0], [0, 0.01, 0]],
        "bond_type_marginal": [0.7, 0.24, 0.04, 0.02]}
TINY = dict(n_layers=2, dx=32, de=16, dy=16, n_head=4, ff_x=32, ff_e=16, ff_y=16, mlp_x=32, mlp_e=16, mlp_y=16,
            dropout=0.0)


def molecules() -> dict:
    """Nitromethane C[N+](=O)[O-], acetonitrile CC#N and ethanol CCO, heavy atoms, padded to 6."""
    mols = [([0, 1, 2, 2], [0, 1, 0, -1], [(0, 1, 1), (1, 2, 2), (1, 3, 1)]),
            ([0, 0, 1], [0, 0, 0], [(0, 1, 1), (1, 2, 3)]),
            ([0, 0, 2], [0, 0, 0], [(0, 1, 1), (1, 2, 1)])]
    b, n = len(mols), 6
    types, charges = torch.full((b, n), -1), torch.zeros(b, n, dtype=torch.long)
    bonds, mask = torch.zeros(b, n, n, dtype=torch.long), torch.zeros(b, n)
    for k, (t, c, edges) in enumerate(mols):
        types[k, : len(t)], charges[k, : len(c)], mask[k, : len(t)] = torch.tensor(t), torch.tensor(c), 1
        for i, j, order in edges:
            bonds[k, i, j] = bonds[k, j, i] = order
    return {"atom_types": types, "formal_charges": charges, "bonds": bonds, "node_mask": mask}


def _method(**kw) -> DiGress:
    torch.manual_seed(0)
    return DiGress(DiGressConfig(**(TINY | kw)), INFO)


def test_node_categories_are_the_charged_pairs_seen_in_training():
    method = _method()
    pairs = list(zip(method.class_type.tolist(), method.class_charge.tolist()))
    assert pairs == [(0, 0), (1, 0), (1, 1), (2, -1), (2, 0), (3, 0)]  # C, N, N+, O-, O, F
    assert torch.allclose(method.marg_x.sum(), torch.tensor(1.0, dtype=torch.float64))
    assert float(method.marg_x[2]) == pytest.approx(0.01 / 1.0)


def test_encode_decode_round_trip_and_unseen_charges():
    method, batch = _method(), molecules()
    out = method.decode(*method.encode(batch))
    for key in batch:
        assert torch.equal(out[key].to(batch[key].dtype), batch[key]), key
    batch["formal_charges"][1, 0] = 1  # C+ never occurs in training
    with pytest.raises(ContractError, match="atom_charge_marginal"):
        method.encode(batch)


def test_molecular_features_on_nitromethane():
    method, batch = _method(extra_features="none"), molecules()
    x, e, mask = method.encode(batch)
    seen = {}
    method.net.register_forward_hook(lambda mod, args, out: seen.update(x=args[0], y=args[2]))
    method.network(x, e, torch.zeros(3), mask)
    k = method.kx
    # node features after the one-hots: usual valence - bond-order sum, and the sum (DiGress ChargeFeature, Valency)
    assert seen["x"][0, :4, k + 1].tolist() == [1, 4, 2, 1]  # C: 1 bond; N+: 1 + 2 + 1; O: 2; O-: 1
    assert seen["x"][0, :4, k].tolist() == [3, -1, 0, 1]  # 4 - 1, 3 - 4, 2 - 2, 2 - 1 (element valences)
    weight = (12 + 14 + 16 + 16) / (6 * 19)
    assert seen["y"][0, 1].item() == pytest.approx(weight)  # y: n / max_n, weight, t
    assert seen["y"][0, 0].item() == pytest.approx(4 / 6)


def test_molecular_features_need_known_elements():
    info = INFO | {"atomic_numbers": [6, 7, 8, 17]}
    with pytest.raises(ConfigError, match="molecular_features"):
        DiGress(DiGressConfig(**TINY), info)
    DiGress(DiGressConfig(**TINY, molecular_features=False), info)


def _fixed_time_loss(method, batch, t_int, repeats=8):
    """Mean loss at one noise level over `repeats` seeded corruptions."""
    x0, e0, mask = method.encode(batch)
    a, total = method.abar[t_int], 0.0
    with torch.no_grad():
        for seed in range(repeats):
            g = torch.Generator().manual_seed(100 + seed)
            xt = discrete.sample_noisy(x0, a, method.marg_x, g)
            et = discrete.sample_noisy(e0, a, method.marg_e, g, pairs=True)
            xt, et, _ = method._masked(xt, et, mask)
            t = torch.full((len(mask),), t_int / method.config.timesteps)
            total += float(method.loss(*method.network(xt, et, t, mask), x0, e0, mask)[0]) / repeats
    return total


def test_tiny_model_overfits_three_molecules():
    # 150 Adam steps at lr 3e-3 on nitromethane, acetonitrile and ethanol: the loss at t = 25 of 500 (abar 0.99)
    # falls at least 4x (measured 6.5x; 11x after 300 steps)
    method, batch = _method(), molecules()
    before = _fixed_time_loss(method, batch, 25)
    stepper = SimpleStepper(method.optimizers(TrainConfig(lr=3e-3, weight_decay=0.0)))
    torch.manual_seed(0)
    for i in range(150):
        method.train_step(batch, i, stepper)
    after = _fixed_time_loss(method, batch, 25)
    assert after < before / 4, (before, after)


def test_sampling_calls_the_network_steps_times_and_samples_are_well_formed():
    method = _method().eval()
    calls = []
    method.net.register_forward_hook(lambda *_: calls.append(1))
    out = method.sample(6, generator=torch.Generator().manual_seed(0), options=SamplingOptions(steps=7, batch_size=4))
    assert len(calls) == 7 * 2  # two batches (4 + 2 graphs), 7 network calls each
    real = out["node_mask"].bool()
    assert set(real.sum(1).tolist()) <= {3, 4} and out["bonds"].shape == (6, 6, 6)  # sizes from the histogram
    bonds = out["bonds"]
    assert torch.equal(bonds, bonds.transpose(1, 2)) and not bonds.diagonal(dim1=1, dim2=2).any()
    assert not bonds[~(real.unsqueeze(1) & real.unsqueeze(2))].any()
    assert (out["atom_types"][~real] == -1).all() and (out["atom_types"][real] >= 0).all()
    assert not out["formal_charges"][~real].any()
    pairs = set(zip(out["atom_types"][real].tolist(), out["formal_charges"][real].tolist()))
    assert pairs <= {(0, 0), (1, 0), (1, 1), (2, -1), (2, 0), (3, 0)}


def test_seeded_sampling_and_chain():
    method = _method().eval()
    a = method.sample(4, generator=torch.Generator().manual_seed(3), options=SamplingOptions(steps=5))
    b = method.sample(4, generator=torch.Generator().manual_seed(3), options=SamplingOptions(steps=5))
    c = method.sample(4, generator=torch.Generator().manual_seed(4), options=SamplingOptions(steps=5))
    assert all(torch.equal(a[k], b[k]) for k in a) and not all(torch.equal(a[k], c[k]) for k in a)
    chain = method.chain(4, generator=torch.Generator().manual_seed(0), options=SamplingOptions(steps=6))
    assert chain["bonds"].shape == (4, 6, 6) and chain["atom_types"].shape == (4, 6)
    assert chain["node_mask"].sum(1).tolist() == [3, 3, 3, 3]  # the histogram's mode
    assert chain["t"][0] == 1.0 and chain["t"][-1] == 0.0 and torch.all(torch.diff(chain["t"]) < 0)
    assert method.describe_sampling(SamplingOptions())["sampling_steps"] == 500


def test_steps_and_conditions_are_checked():
    method = _method(timesteps=10).eval()
    with pytest.raises(UserError, match="1..10"):
        method.sample(1, options=SamplingOptions(steps=11))
    assert method.describe_sampling(SamplingOptions())["sampling_steps"] == 10  # the default (500) is capped at T
    with pytest.raises(UserError):
        method.sample(1, condition=1)
    with pytest.raises(UserError, match="sampler"):
        method.sample(1, options=SamplingOptions(sampler="ddim"))


def test_marginals_are_checked():
    with pytest.raises(ContractError, match="atom_charge_marginal"):
        DiGress(DiGressConfig(**TINY), INFO | {"atom_charge_marginal": [[1.0, 0, 0]]})
    with pytest.raises(ContractError, match="bond_type_marginal"):
        DiGress(DiGressConfig(**TINY), INFO | {"bond_type_marginal": [0.5, 0.5]})


def test_schedule_is_digress_cosine():
    # cvignac/DiGress@780242b diffusion_utils.cosine_beta_schedule_discrete + PredefinedNoiseScheduleDiscrete:
    # betas from the normalised cos^2 curve on T + 2 points, clamped to [0, 0.9999], abar = exp(cumsum(log(1 - beta)))
    T, s = 500, 0.008
    x = torch.linspace(0, T + 2, T + 2, dtype=torch.float64)
    f = torch.cos(0.5 * torch.pi * ((x / (T + 2)) + s) / (1 + s)) ** 2
    f = f / f[0]
    betas = (1 - f[1:] / f[:-1]).clamp(0, 0.9999)
    want = torch.exp(torch.cumsum(torch.log(1 - betas), 0))
    assert torch.allclose(_method().abar, want, rtol=1e-10)


def test_forward_process_composes_and_ends_at_the_prior():
    # q(x_t | x_0) = x_0 Qbar_t with Qbar_t = Qbar_s Q_t|s, a_t|s = abar_t / abar_s (DiGress sec. 4.1), on the method's
    # own schedule and node marginals; at t = T the noise has forgotten x_0: q(x_T | x_0) is the prior m for every x_0
    method = _method()
    m, abar = method.marg_x, method.abar
    eye = torch.eye(method.kx, dtype=torch.float64)
    for s, t in [(0, 1), (10, 250), (250, 499), (1, 500)]:
        step = transition_matrix(abar[t] / abar[s], m)
        assert torch.allclose(q_probs(eye, abar[s], m) @ step, q_probs(eye, abar[t], m), atol=1e-12)
    assert torch.allclose(q_probs(eye, abar[-1], m), m.expand(method.kx, -1), atol=1e-8)
    assert torch.all(torch.diff(abar) < 0) and abar[0] > 0.999


def test_network_is_permutation_equivariant():
    # node logits permute with the nodes, edge logits with the pairs; extra features "eigenvalues" (cycles, spectrum)
    # and the molecular features included (eigenvectors are excluded: eigh fixes their sign arbitrarily)
    method = _method(extra_features="eigenvalues").eval()
    x0, e0, mask = method.encode(molecules())
    g = torch.Generator().manual_seed(0)
    xt = discrete.sample_noisy(x0, torch.tensor(0.5), method.marg_x, g)
    et = discrete.sample_noisy(e0, torch.tensor(0.5), method.marg_e, g, pairs=True)
    xt, et, _ = method._masked(xt, et, mask)
    t = torch.tensor([0.5, 0.2, 0.9])
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    with torch.no_grad():
        lx, le = method.network(xt, et, t, mask)
        px, pe = method.network(xt[:, perm], et[:, perm][:, :, perm], t, mask[:, perm])
    assert torch.allclose(px, lx[:, perm], atol=1e-5) and torch.allclose(pe, le[:, perm][:, :, perm], atol=1e-5)
    assert torch.allclose(le, le.transpose(1, 2)) and lx.abs().sum() > 0
