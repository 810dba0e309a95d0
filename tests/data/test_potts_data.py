"""The simulated protein family: seeded, its wild type and mutant truths as documented; a user's alignment."""

import torch

from gensci.config import validate
from gensci.data.potts import PottsDataConfig, mutant_set, random_potts
from gensci.ops.potts import energy
from gensci.ops.sequences import mutate
from gensci.workflows.base import load_data

TINY = {"length": 8, "n_sequences": 200, "n_heldout": 40, "chains": 40, "burn_in": 20, "thin": 2,
        "n_doubles": 100, "cache": False}


def load(**overrides):
    return load_data(validate({"data": {"name": "potts", **TINY, **overrides}, "method": {"name": "toy"}}))


def test_simulation_is_seeded_and_the_wild_type_is_the_lowest_energy_training_sequence():
    a, b, c = load(), load(), load(seed=1)
    assert torch.equal(a.train.tensors["seq"], b.train.tensors["seq"]) and a.info == b.info
    assert not torch.equal(a.train.tensors["seq"], c.train.tensors["seq"])
    model = random_potts(PottsDataConfig(**TINY))
    train = a.train.tensors["seq"]
    e = energy(model.h, model.J, train)
    assert a.info["wild_type"] == train[e.argmin()].tolist()
    assert len(a.train) == 200 and len(a.valid) + len(a.test) == 40
    assert a.info["neff"] == float(a.train.tensors["weight"].sum())


def test_construction_is_sparse_symmetric_and_epistatic():
    config = PottsDataConfig(**TINY)
    model = random_potts(config)
    L = config.length
    coupled = model.J.abs().flatten(2).sum(-1) > 0
    assert torch.equal(coupled, coupled.T) and not coupled.diagonal().any()
    assert all(coupled[i, i + 1] for i in range(L - 1))  # chain neighbours
    assert int(coupled.triu().sum()) == len(model.contacts) == (L - 1) + round(config.contacts_per_site * L / 2)
    assert (model.h[:, -1] == config.gap_field).all()


def test_mutant_truths_are_exact_energy_changes():
    config = PottsDataConfig(**TINY)
    data = load()
    ms = mutant_set(config, data.info["wild_type"])
    model = random_potts(config)
    wt = ms.wild_type
    e_wt = energy(model.h, model.J, wt[None])[0]
    single = -(energy(model.h, model.J, mutate(wt, *ms.single)) - e_wt)
    torch.testing.assert_close(ms.true["single"], single, atol=1e-4, rtol=0)
    i, b, j, c = ms.double
    double = -(energy(model.h, model.J, mutate(wt, torch.stack([i, j], 1), torch.stack([b, c], 1))) - e_wt)
    torch.testing.assert_close(ms.true["double"], double, atol=1e-4, rtol=0)
    assert (ms.true["epistasis"][~ms.coupled] == 0).all() and ms.true["epistasis"][ms.coupled].abs().max() > 0.1
    assert len(ms.true["single"]) == 8 * 19 and len(ms.true["double"]) == 100


def test_a_users_alignment(tmp_path):
    path = tmp_path / "fam.a2m"
    rows = ["ACDEFGHIKL", "ACDEFGHIKV", "MCDEFGHIKL", "ACXEFGHIKL"] + ["ACDEFGHWKL"] * 36
    path.write_text("".join(f">s{k}\n{r}\n" for k, r in enumerate(rows)))
    data = load(path=str(path), holdout=0.1)
    assert data.info["wild_type"] == data.train.tensors["seq"][0].tolist()  # the focus stays in training
    assert data.info["n_excluded"] == 1 and len(data.train) + len(data.valid) + len(data.test) == 39
    assert len(data.valid) + len(data.test) == 4
    assert mutant_set(PottsDataConfig(path=str(path)), data.info["wild_type"]) is None
