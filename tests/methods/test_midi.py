import pytest
import torch

from gensci.config import TrainConfig
from gensci.errors import ContractError, UserError
from gensci.methods.base import SamplingOptions
from gensci.methods.midi import MiDi, MiDiConfig
from gensci.testing import SimpleStepper

INFO = {"atom_types": ["H", "C", "N", "O", "F"], "charge_values": [-1, 0, 1],
        "bond_types": ["none", "single", "double", "triple"], "max_n_atoms": 7,
        "n_nodes_hist": {"3": 1, "5": 1}, "atom_type_marginal": [0.6, 0.25, 0.05, 0.09, 0.01],
        "charge_marginal": [0.01, 0.98, 0.01], "bond_type_marginal": [0.85, 0.12, 0.02, 0.01]}
TINY = {"hidden_nf": 32, "message_nf": 16, "edge_nf": 16, "n_layers": 3}


def two_molecules() -> dict:
    """Methane (C + 4 H, tetrahedral, C-H 1.09 A) and water (O + 2 H, 0.96 A, 104.5 deg), padded to 7 atoms."""
    d = 1.09 / 3**0.5
    methane = [[0, 0, 0], [d, d, d], [d, -d, -d], [-d, d, -d], [-d, -d, d]]
    a = torch.deg2rad(torch.tensor(104.5 / 2))
    water = [[0, 0, 0], [0.96 * torch.sin(a), 0.96 * torch.cos(a), 0], [-0.96 * torch.sin(a), 0.96 * torch.cos(a), 0]]
    pos = torch.zeros(2, 7, 3)
    pos[0, :5], pos[1, :3] = torch.tensor(methane), torch.tensor(water)
    mask = torch.zeros(2, 7)
    mask[0, :5], mask[1, :3] = 1, 1
    pos = (pos - (pos * mask[..., None]).sum(1, keepdim=True) / mask.sum(1)[:, None, None]) * mask[..., None]
    types = torch.full((2, 7), -1)
    types[0, :5], types[1, :3] = torch.tensor([1, 0, 0, 0, 0]), torch.tensor([3, 0, 0])
    bonds = torch.zeros(2, 7, 7, dtype=torch.long)
    bonds[0, 0, 1:5] = bonds[0, 1:5, 0] = 1
    bonds[1, 0, 1:3] = bonds[1, 1:3, 0] = 1
    return {"positions": pos, "node_mask": mask, "atom_types": types, "formal_charges": torch.zeros(2, 7, dtype=torch.long),
            "bonds": bonds}


def _method(objective="flow", **kw) -> MiDi:
    torch.manual_seed(0)
    return MiDi(MiDiConfig(objective=objective, **TINY, **kw), INFO)


def test_encode_decode_round_trip():
    method, batch = _method(), two_molecules()
    batch["formal_charges"][0, 1] = 1
    out = method.decode(method.encode(batch))
    for key in ("positions", "atom_types", "formal_charges", "bonds", "node_mask"):
        assert torch.allclose(out[key].float(), batch[key].float(), atol=1e-6), key
    batch["formal_charges"][1, 0] = 2
    with pytest.raises(ContractError, match="charge_values"):
        method.encode(batch)


def _fixed_time_loss(method, batch, t, repeats=8):
    """Mean loss at one noise level over `repeats` seeded corruptions (the training loss mixes all levels)."""
    clean, total = method.encode(batch), 0.0
    with torch.no_grad():
        for seed in range(repeats):
            torch.manual_seed(100 + seed)
            noisy, tt = method.objective.corrupt(clean, torch.full((2,), t))
            total += float(method.loss(method.network(noisy, tt), clean)[0]) / repeats
    return total


@pytest.mark.parametrize("objective,t", [("flow", 0.8), ("diffusion", 0.2)])
def test_tiny_model_overfits_two_molecules(objective, t):
    # 200 Adam steps at lr 3e-3 on methane + water: the loss at a low noise level (flow t = 0.8, diffusion
    # t = 0.2) falls at least 5x (measured 22x flow, 12x diffusion); the training loss itself keeps the error of
    # guessing the molecule from pure noise
    method, batch = _method(objective), two_molecules()
    before = _fixed_time_loss(method, batch, t)
    stepper = SimpleStepper(method.optimizers(TrainConfig(lr=3e-3, weight_decay=0.0)))
    torch.manual_seed(0)
    for i in range(200):
        method.train_step(batch, i, stepper)
    after = _fixed_time_loss(method, batch, t)
    assert after < before / 5, (before, after)


@pytest.mark.parametrize("objective", ["flow", "diffusion"])
def test_sampling_calls_the_network_steps_times_and_samples_are_well_formed(objective):
    method = _method(objective).eval()
    calls = []
    method.net.register_forward_hook(lambda *_: calls.append(1))
    out = method.sample(6, generator=torch.Generator().manual_seed(0), options=SamplingOptions(steps=7, batch_size=4))
    assert len(calls) == 7 * 2  # two batches of 4 + 2 molecules, 7 network calls each
    real = out["node_mask"].bool()
    assert set(real.sum(1).tolist()) <= {3, 5}  # sizes from the training histogram
    assert out["positions"].shape == (6, 7, 3) and out["bonds"].shape == (6, 7, 7)
    assert torch.equal(out["bonds"], out["bonds"].transpose(1, 2)) and (out["bonds"].diagonal(dim1=1, dim2=2) == 0).all()
    assert (out["bonds"][~(real.unsqueeze(1) & real.unsqueeze(2))] == 0).all()
    assert (out["atom_types"][~real] == -1).all() and (out["atom_types"][real] >= 0).all()
    assert set(out["formal_charges"][real].tolist()) <= {-1, 0, 1}
    com = (out["positions"] * out["node_mask"][..., None]).sum(1)
    assert com.abs().max() < 1e-4


@pytest.mark.parametrize("objective", ["flow", "diffusion"])
def test_seeded_sampling_and_chain(objective):
    method = _method(objective, self_condition=True).eval()
    a = method.sample(3, generator=torch.Generator().manual_seed(3), options=SamplingOptions(steps=5))
    b = method.sample(3, generator=torch.Generator().manual_seed(3), options=SamplingOptions(steps=5))
    c = method.sample(3, generator=torch.Generator().manual_seed(4), options=SamplingOptions(steps=5))
    assert all(torch.equal(a[k], b[k]) for k in a) and not torch.equal(a["positions"], c["positions"])
    chain = method.chain(4, generator=torch.Generator().manual_seed(0), options=SamplingOptions(steps=6))
    assert chain["positions"].shape == (4, 7, 3) and chain["bonds"].shape == (4, 7, 7)
    assert chain["t"][0] == 1.0 and chain["t"][-1] == 0.0 and torch.all(torch.diff(chain["t"]) < 0)
    assert method.describe_sampling(SamplingOptions())["sampling_steps"] == 100


def test_diffusion_rejects_more_steps_than_trained_and_conditions():
    method = _method("diffusion", diffusion={"timesteps": 10}).eval()
    with pytest.raises(UserError, match="1..10"):
        method.sample(1, options=SamplingOptions(steps=11))
    assert method.describe_sampling(SamplingOptions())["sampling_steps"] == 10  # the default (100) is capped at T
    with pytest.raises(UserError):
        method.sample(1, condition=1)


def test_diffusion_needs_the_marginals():
    info = {k: v for k, v in INFO.items() if k != "bond_type_marginal"}
    assert "bond_type_marginal" in MiDi.requires(MiDiConfig(objective="diffusion")).info
    assert "bond_type_marginal" not in MiDi.requires(MiDiConfig()).info
    with pytest.raises(KeyError):
        MiDi(MiDiConfig(objective="diffusion"), info)


def test_trimmed_batches_with_a_padded_pair_dimension():
    method, batch = _method(), two_molecules()
    trimmed = {k: v[:, :5] for k, v in batch.items()}  # what data.base.trim_padding does: dim 1 only
    assert torch.equal(method.encode(trimmed).bonds, method.encode(batch).bonds[:, :5, :5])


# ---- property conditions (gensci.methods.molecule_conditions) -------------------------------------------------------
def _conditional(**kw) -> MiDi:
    from test_molecule_conditions import toy_info  # the toy training set's statistics, by the data module's code

    torch.manual_seed(0)
    info = INFO | toy_info(heavy=kw.get("composition_prior", False))
    return MiDi(MiDiConfig(**TINY, conditions=["alpha", "mu"], **kw), info)


@pytest.mark.parametrize("composition", [False, True])
def test_conditional_network_keeps_e3_and_permutation_equivariance(composition):
    from gensci.methods.midi_objectives import Molecules
    from gensci.testing.equivariance import assert_equivariant

    method = _conditional(composition_prior=composition).double()
    heavy = torch.tensor([1, 1]) if composition else None  # methane and water
    for layer in method.net.layers:  # larger coordinate updates than the init's, so the output is not ~the input
        torch.nn.init.normal_(layer.coord.weight, std=0.3)
    batch = two_molecules()
    clean = method.encode(batch)
    t = torch.tensor([0.3, 0.6], dtype=torch.float64)
    context = method.conditions.features(torch.tensor([[60.0, float("nan")], [45.0, 3.0]]), 2, "cpu", torch.float64)

    def fn(h, x, mask, e):  # types/charges travel as one-hots in h, bonds in e, so permutations move them along
        mol = Molecules(x, h[..., :5].argmax(-1), h[..., 5:].argmax(-1), e.argmax(-1), mask)
        pred = method.network(mol, t, context=context, heavy=heavy)
        return torch.cat([pred.types, pred.charges], -1), pred.x, pred.bonds

    h = torch.cat([torch.nn.functional.one_hot(clean.types, 5), torch.nn.functional.one_hot(clean.charges, 3)], -1)
    e = torch.nn.functional.one_hot(clean.bonds, 4).double()
    # the prediction is centred (the method's convention), so translations are not part of the check
    assert_equivariant(fn, h.double(), clean.x.double(), clean.mask.double(), edges=e, translation="none",
                       generator=torch.Generator().manual_seed(0))
    plain = method.network(Molecules(clean.x.double(), clean.types, clean.charges, clean.bonds, clean.mask.double()), t,
                           heavy=heavy)
    assert (fn(h.double(), clean.x.double(), clean.mask.double(), e)[1] - plain.x).abs().max() > 1e-6  # it is used


def test_conditional_training_and_seeded_guided_sampling():
    method = _conditional()
    assert "conditional" in method.capabilities and "guidance" in method.sampling_options
    assert {"alpha", "mu"} <= set(MiDi.requires(method.config).items)
    batch = two_molecules() | {"alpha": torch.tensor([40.0, 30.0]), "mu": torch.tensor([0.0, 1.9])}
    stepper = SimpleStepper(method.optimizers(TrainConfig(lr=1e-3)))
    logs = method.train_step(batch, 0, stepper)
    assert all(torch.isfinite(torch.tensor(v)) for v in logs.values())
    method.eval()
    calls = []
    method.net.register_forward_hook(lambda *_: calls.append(1))
    kw = dict(condition={"alpha": 60.0}, options=SamplingOptions(steps=4, guidance=2.0))
    a = method.sample(3, generator=torch.Generator().manual_seed(3), **kw)
    assert len(calls) == 2 * 4  # guidance 2: the conditional and the unconditional network per step
    b = method.sample(3, generator=torch.Generator().manual_seed(3), **kw)
    assert all(torch.equal(a[k], b[k]) for k in a if k != "conditions")
    assert a["conditions"].shape == (3, 2) and (a["conditions"][:, 0] == 60).all() and a["conditions"][:, 1].isnan().all()
    assert method.describe_sampling(SamplingOptions())["guidance"] == 1.0
    unconditional = method.sample(2, generator=torch.Generator().manual_seed(0), options=SamplingOptions(steps=3))
    assert unconditional["conditions"].isnan().all()
    assert method.chain(3, generator=torch.Generator().manual_seed(0), options=SamplingOptions(steps=3))["t"][-1] == 0


@pytest.mark.parametrize("objective", ["flow", "diffusion"])
def test_guidance_zero_is_the_unconditional_model(objective):
    method = _conditional(objective=objective, diffusion={"timesteps": 10}).eval()
    for p in method.net.node_in.parameters():  # make the context matter in the untrained network
        torch.nn.init.normal_(p, std=0.5)
    g = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    options = lambda s: SamplingOptions(steps=4, guidance=s)  # noqa: E731
    zero = method.sample(3, condition={"alpha": 70.0, "n_atoms": 5}, generator=g(), options=options(0.0))
    plain = method.sample(3, condition={"n_atoms": 5}, generator=g(), options=options(1.0))
    one = method.sample(3, condition={"alpha": 70.0, "n_atoms": 5}, generator=g(), options=options(1.0))
    assert torch.equal(zero["positions"], plain["positions"]) and torch.equal(zero["bonds"], plain["bonds"])
    assert not torch.equal(zero["positions"], one["positions"])
    assert (zero["node_mask"].sum(1) == 5).all()


def test_unconditional_midi_takes_an_atom_count_but_no_property():
    method = _method().eval()
    out = method.sample(2, condition={"n_atoms": 4}, generator=torch.Generator().manual_seed(0),
                        options=SamplingOptions(steps=2))
    assert (out["node_mask"].sum(1) == 4).all() and "conditions" not in out
    with pytest.raises(UserError, match="without property conditions"):
        method.sample(1, condition={"alpha": 1.0})
    with pytest.raises(UserError, match="guidance"):
        method.sample(1, options=SamplingOptions(guidance=2.0))


# ---- composition prior: p(M, M_heavy) from the data, M_heavy on every atom -------------------------------------------
# the toy's joint histogram of (atom count, heavy-atom count); its p(M) is INFO's up to scale (3: 1, 5: 1)
JOINT = {"3,1": 4, "5,1": 1, "5,2": 3}
COMPOSITION_INFO = INFO | {"n_nodes_heavy_hist": JOINT}


def _composition(**kw) -> MiDi:
    torch.manual_seed(0)
    return MiDi(MiDiConfig(**TINY, composition_prior=True, **kw), COMPOSITION_INFO)


def _node_inputs(method) -> list:
    """The network's node inputs h [B, N, F] of every call, recorded."""
    seen = []
    method.net.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
    return seen


def test_composition_prior_draws_the_joint_histogram():
    method = _composition()
    sizes, heavy = method.draw_sizes(40_000, torch.Generator().manual_seed(0))
    total = sum(JOINT.values())
    for key, count in JOINT.items():  # binomial bounds at 5 sigma
        m, h = map(int, key.split(","))
        p = count / total
        observed = ((sizes == m) & (heavy == h)).float().mean()
        assert abs(observed - p) < 5 * (p * (1 - p) / 40_000) ** 0.5, (key, observed, p)
    assert ((sizes == 3) | (sizes == 5)).all()  # no pair outside the histogram
    a, b = method.draw_sizes(50, torch.Generator().manual_seed(1)), method.draw_sizes(50, torch.Generator().manual_seed(1))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_training_feeds_each_molecules_true_heavy_count():
    method, batch = _composition(), two_molecules()
    batch["atom_types"][1, :3] = torch.tensor([3, 1, 0])  # water -> an O, a C and an H: 2 heavy atoms
    seen = _node_inputs(method)
    method.train_step(batch, 0, SimpleStepper(method.optimizers(TrainConfig(lr=1e-3))))
    h = seen[-1]
    assert method.max_heavy == 2 and h.shape[-1] == 5 + 3 + 1 + 2  # types, charges, time, then the composition
    mask = batch["node_mask"].bool()
    expected = torch.tensor([[1 / 2, 1 / 5], [2 / 2, 2 / 3]])  # (M_heavy / max M_heavy, M_heavy / M)
    for i in range(2):
        assert torch.allclose(h[i, mask[i], -2:], expected[i].expand(int(mask[i].sum()), 2))
        assert (h[i, ~mask[i]] == 0).all()


def test_composition_sampling_keeps_the_atom_count_and_gives_the_network_the_heavy_count():
    method = _composition().eval()
    seen = _node_inputs(method)
    options = SamplingOptions(steps=3)
    out = method.sample(40, condition={"n_atoms": 5}, generator=torch.Generator().manual_seed(0), options=options)
    assert (out["node_mask"].sum(1) == 5).all()
    counts = (seen[0][:, 0, -2] * method.max_heavy).round()  # the heavy counts the network was given, from p(M_h | 5)
    assert set(counts.tolist()) == {1.0, 2.0}
    assert all(torch.equal(h[:, :, -2:], seen[0][:, :, -2:]) for h in seen)  # the same at every step
    assert torch.allclose(seen[0][:, :5, -1], (counts / 5)[:, None].expand(40, 5).float())
    seen.clear()
    fixed = method.sample(2, condition={"n_atoms": 5, "n_heavy": 2}, generator=torch.Generator().manual_seed(0),
                          options=options)
    assert (fixed["node_mask"].sum(1) == 5).all() and torch.allclose(seen[0][:, :5, -2:], torch.tensor([1.0, 0.4]))
    a = method.sample(3, generator=torch.Generator().manual_seed(3), options=options)
    b = method.sample(3, generator=torch.Generator().manual_seed(3), options=options)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert set(a["node_mask"].sum(1).tolist()) <= {3, 5}
    assert method.chain(3, generator=torch.Generator().manual_seed(0), options=options)["t"][-1] == 0
    with pytest.raises(UserError, match="no training molecule has 4 atoms"):
        method.sample(1, condition={"n_atoms": 4}, options=options)
    with pytest.raises(UserError, match="heavy-atom count cannot exceed"):
        method.sample(1, condition={"n_atoms": 1, "n_heavy": 2}, options=options)


def test_composition_prior_needs_explicit_hydrogens():
    from gensci.errors import ConfigError

    heavy_only = COMPOSITION_INFO | {"atom_types": ["C", "N", "O", "F"], "remove_h": True}
    with pytest.raises(ConfigError, match="explicit hydrogens"):
        MiDi(MiDiConfig(**TINY, composition_prior=True), heavy_only)
    with pytest.raises(ConfigError, match="n_nodes_heavy_hist"):
        MiDi(MiDiConfig(**TINY, composition_prior=True), INFO)
    with pytest.raises(UserError, match="composition_prior is off"):
        _method().sample(1, condition={"n_atoms": 5, "n_heavy": 1})
