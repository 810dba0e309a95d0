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
