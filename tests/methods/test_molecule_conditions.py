"""Property conditions of the molecule methods (gensci.methods.molecule_conditions) on a toy training set whose
statistics come from the data module's own functions (gensci.data.qm9 property_stats / property_table)."""

import warnings
from dataclasses import dataclass

import pytest
import torch

from gensci.data.qm9 import PROPERTY_BINS, PROPERTY_UNITS, n_nodes_heavy_histogram, property_stats, property_table
from gensci.errors import ConfigError, UserError
from gensci.methods.midi import MiDiConfig
from gensci.methods.molecule_conditions import (K_NEAREST, ConditionRangeWarning, MoleculeConditions, guided)

MAX_N = 7


def toy_train(m: int = 700, seed: int = 0) -> dict[str, torch.Tensor]:
    """m toy molecules of 3..7 atoms; alpha grows with the atom count (10 n + U(0, 3)), the other properties random."""
    g = torch.Generator().manual_seed(seed)
    n = torch.randint(3, MAX_N + 1, (m,), generator=g)
    out = {"node_mask": (torch.arange(MAX_N) < n[:, None]).float()}
    for name in PROPERTY_UNITS:
        out[name] = torch.randn(m, generator=g) * 2 + 5
    out["alpha"] = 10.0 * n + 3 * torch.rand(m, generator=g)
    heavy = (torch.rand(m, generator=g) * n).long() + 1  # 1..n heavy atoms (atomic number 6) first, then hydrogens
    atoms = torch.arange(MAX_N)
    out["charges"] = torch.where(atoms < heavy[:, None], 6.0, torch.where(atoms < n[:, None], 1.0, 0.0)).unsqueeze(-1)
    return out


def toy_info(train=None, heavy: bool = False) -> dict:
    """The toy's info; heavy: with the heavy-atom counts (the table's n_heavy and the joint n_nodes_heavy_hist)."""
    train = toy_train() if train is None else train
    stats = property_stats(train)
    joint = {"n_nodes_heavy_hist": n_nodes_heavy_histogram(train["node_mask"], train["charges"])} if heavy else {}
    return {"property_stats": stats, "property_table": property_table(train, stats, heavy), "max_n_atoms": MAX_N} | joint


def conditions(names=("alpha", "mu"), info=None, composition=False, **kw) -> MoleculeConditions:
    config = MiDiConfig(conditions=list(names), **kw)
    return MoleculeConditions(config, toy_info() if info is None else info, MAX_N, composition)


def test_statistics_are_edms_mean_and_mad_and_the_table_bins_every_molecule():
    train = toy_train()
    info = toy_info(train)
    a = train["alpha"].double()
    assert info["property_stats"]["alpha"]["mean"] == pytest.approx(float(a.mean()))
    assert info["property_stats"]["alpha"]["mad"] == pytest.approx(float((a - a.mean()).abs().mean()))
    table = info["property_table"]
    assert table["bins"] == PROPERTY_BINS and len(table["alpha"]) == len(a)
    assert min(table["alpha"]) == 0 and max(table["alpha"]) == PROPERTY_BINS - 1  # the maximum in the last bin
    assert table["n_atoms"] == train["node_mask"].sum(1).long().tolist()


def test_features_normalise_and_mark_the_absent():
    c = conditions()
    mean, mad = c.mean, c.mad
    values = torch.tensor([[float(mean[0] + 2 * mad[0]), float("nan")], [float("nan"), float("nan")]])
    f = c.features(values, 2, "cpu", torch.float32)
    assert f.shape == (2, 4)
    assert torch.allclose(f[0], torch.tensor([2.0, 1.0, 0.0, 0.0]))
    assert torch.equal(f[1], torch.zeros(4)) and torch.equal(c.features(None, 2, "cpu", torch.float32), f[1:].expand(2, 4))
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    nodes = c.nodes(f[:1], mask)
    assert nodes.shape == (1, 3, 4) and torch.equal(nodes[0, 2], torch.zeros(4)) and torch.equal(nodes[0, 0], f[0])


def test_dropout_masks_have_the_configured_rates():
    # each property dropped w.p. p, all together w.p. q: P(a property absent) = q + (1 - q) p,
    # P(all absent) = q + (1 - q) p^K, P(all given) = (1 - q)(1 - p)^K; binomial bounds at 5 sigma
    p, q, b = 0.3, 0.1, 40_000
    c = conditions(("alpha", "gap", "mu"), condition_dropout=p, condition_dropout_all=q)
    batch = {name: torch.randn(b) for name in ("alpha", "gap", "mu")}
    torch.manual_seed(0)
    values = c.training_values(batch)
    absent = torch.isnan(values)
    for observed, expected in [(absent.float().mean(0), q + (1 - q) * p), (absent.all(1).float().mean(), q + (1 - q) * p**3),
                               ((~absent).all(1).float().mean(), (1 - q) * (1 - p) ** 3)]:
        sd = (expected * (1 - expected) / b) ** 0.5
        assert (observed - expected).abs().max() < 5 * sd, (observed, expected)
    # the given values are the batch's own
    given = ~absent
    assert torch.equal(values[given], torch.stack([batch[k] for k in ("alpha", "gap", "mu")], -1).double()[given])
    assert conditions(()).training_values(batch) is None


def test_joint_draws_reproduce_the_training_histograms():
    train = toy_train(2000)
    c = conditions(("alpha", "mu"), info=toy_info(train))
    drawn = c.draw(40_000, torch.Generator().manual_seed(0))
    # atom counts: the training split's p(M) (total variation below 0.02; sampling noise ~0.005)
    p_train = torch.bincount(train["node_mask"].sum(1).long(), minlength=MAX_N + 1).double() / 2000
    p_drawn = torch.bincount(drawn["n_atoms"], minlength=MAX_N + 1).double() / 40_000
    assert 0.5 * (p_train - p_drawn).abs().sum() < 0.02
    # each property: its histogram on 20 bins of the training range, and the joint with M (alpha's mean per M)
    for name in ("alpha", "mu"):
        v, lo, hi = train[name].double(), float(train[name].min()), float(train[name].max())
        h_train = torch.histc(v, 20, lo, hi) / len(v)
        h_drawn = torch.histc(drawn[name], 20, lo, hi) / len(drawn[name])
        assert 0.5 * (h_train - h_drawn).abs().sum() < 0.03, name
        assert drawn[name].min() >= lo and drawn[name].max() <= hi
    n = train["node_mask"].sum(1).long()
    for size in range(3, MAX_N + 1):
        assert drawn["alpha"][drawn["n_atoms"] == size].mean() == pytest.approx(float(train["alpha"][n == size].mean()),
                                                                                abs=0.3)
    seeded = c.draw(5, torch.Generator().manual_seed(1))
    assert all(torch.equal(seeded[k], c.draw(5, torch.Generator().manual_seed(1))[k]) for k in seeded)
    assert set(c.draw(3, names=["mu"])) == {"mu", "n_atoms"}
    with pytest.raises(UserError, match="gap"):
        c.draw(3, names=["gap"])


def test_atom_counts_follow_the_property():
    train = toy_train()
    c = conditions(("alpha", "mu"), info=toy_info(train))
    prior = torch.full((MAX_N + 1,), 1.0 / (MAX_N + 1))
    g = torch.Generator().manual_seed(0)
    large = c.atom_counts(torch.tensor([[float(train["alpha"].max()), float("nan")]]).expand(200, 2), g, prior)
    small = c.atom_counts(torch.tensor([[float(train["alpha"].min()), float("nan")]]).expand(200, 2), g, prior)
    # alpha = 10 n + U(0, 3): the K_NEAREST molecules nearest the largest alpha all have 7 atoms, the smallest 3
    assert K_NEAREST < (train["node_mask"].sum(1) == MAX_N).sum() and (large == MAX_N).all() and (small == 3).all()
    # mu is unrelated to the size: its nearest molecules have the training mix of sizes
    mixed = c.atom_counts(torch.tensor([[float("nan"), 5.0]]).expand(400, 2), g, prior)
    assert len(set(mixed.tolist())) >= 4
    # nothing given: the prior p(M)
    assert set(c.atom_counts(torch.full((50, 2), float("nan")), g, prior).tolist()) <= set(range(MAX_N + 1))


def test_resolve_checks_requests_and_warns_outside_the_range():
    c = conditions()
    prior = torch.ones(MAX_N + 1)
    with pytest.raises(UserError, match="unknown property 'beta'"):
        c.resolve({"beta": 1.0}, 2, None, prior)
    with pytest.raises(UserError, match="not trained on 'gap'.*alpha, mu"):
        c.resolve({"gap": 1.0}, 2, None, prior)
    with pytest.raises(UserError, match="without property conditions"):
        MoleculeConditions(MiDiConfig(), toy_info(), MAX_N).resolve({"alpha": 1.0}, 2, None, prior)
    with pytest.raises(UserError, match="1..7"):
        c.resolve({"n_atoms": 9}, 2, None, prior)
    with pytest.raises(UserError, match="3 values for 2 samples"):
        c.resolve({"alpha": [70.0, 71.0, 72.0]}, 2, None, prior)
    with pytest.raises(UserError, match="finite"):
        c.resolve({"alpha": float("nan")}, 2, None, prior)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = c.resolve({"alpha": 50.0, "n_atoms": 4}, 3, None, prior)  # inside the range: no warning
    assert out.shape == (3, 3) and torch.isnan(out[:, 1]).all() and (out[:, 0] == 50).all() and (out[:, 2] == 4).all()
    with pytest.warns(ConditionRangeWarning, match=r"alpha = 500 lies outside the training range \[3"):
        c.resolve({"alpha": 500.0}, 2, None, prior)
    # an unconditional model still takes a fixed atom count
    fixed = MoleculeConditions(MiDiConfig(), {}, MAX_N).resolve({"n_atoms": 5}, 2, None, prior)
    assert fixed.shape == (2, 1) and (fixed == 5).all()
    with pytest.raises(ConfigError, match="property_table"):
        MoleculeConditions(MiDiConfig(conditions=["alpha"]), {"property_stats": toy_info()["property_stats"]}, MAX_N)
    with pytest.raises(ConfigError, match="unknown property 'beta'"):
        conditions(("beta",))


@dataclass
class Out:
    a: torch.Tensor
    b: torch.Tensor


def test_guidance_mixes_every_output_linearly():
    calls = []

    def run(context):
        calls.append(context)
        s = 0.0 if context is None else float(context.sum())
        return Out(torch.tensor([s]), torch.tensor([2 * s]))

    ctx = torch.ones(1, 2)
    assert guided(run, ctx, 1.0).a == 2 and len(calls) == 1
    assert guided(run, ctx, 0.0).a == 0 and calls[-1] is None and len(calls) == 2  # one call: unconditional
    mixed = guided(run, ctx, 3.0)  # 0 + 3 (2 - 0)
    assert mixed.a == 6 and mixed.b == 12 and len(calls) == 4
    assert guided(run, None, 3.0).a == 0  # nothing asked for: unconditional, whatever the scale


def test_qm9_declares_the_property_table_only_when_asked_for():
    from gensci.data.qm9 import QM9Data, QM9DataConfig
    from gensci.data.qm9_bonds import QM9BondsData, QM9BondsDataConfig

    for data, config in ((QM9Data, QM9DataConfig), (QM9BondsData, QM9BondsDataConfig)):
        assert "property_stats" in data.spec(config()).info and "property_table" not in data.spec(config()).info
        assert "property_table" in data.spec(config(property_table=True)).info
        assert "n_nodes_heavy_hist" in data.spec(config()).info  # with hydrogens: the composition prior's p(M, M_heavy)
    assert "n_nodes_heavy_hist" not in QM9Data.spec(QM9DataConfig(remove_h=True)).info


# ---- composition prior (midi): heavy-atom counts drawn with the atom counts -----------------------------------------
def _joint(info: dict) -> torch.Tensor:
    """p(M, M_heavy) [MAX_N + 1, H + 1] of the toy's n_nodes_heavy_hist, as midi builds it."""
    from gensci.methods.midi import composition_distribution

    return composition_distribution(info | {"atom_types": ["H", "C"]}, MAX_N)[1]


def _within_5_sigma(drawn: torch.Tensor, probs: torch.Tensor) -> None:
    """drawn pairs [n, 2] against the joint probs [N + 1, H + 1], cell by cell (binomial bounds at 5 sigma)."""
    n = len(drawn)
    observed = torch.zeros_like(probs)
    observed.index_put_((drawn[:, 0], drawn[:, 1]), torch.ones(n, dtype=probs.dtype), accumulate=True)
    sd = (probs * (1 - probs) / n).sqrt()
    assert ((observed / n - probs).abs() <= 5 * sd + 1e-12).all(), (observed / n, probs)


def test_composition_pairs_come_from_the_joint_histogram_and_from_the_neighbours():
    train = toy_train(2000)
    info = toy_info(train, heavy=True)
    table = info["property_table"]
    assert table["n_heavy"] == (train["charges"][..., 0] > 1).sum(1).tolist()
    assert sum(info["n_nodes_heavy_hist"].values()) == 2000 and all(int(k.split(",")[1]) >= 1 for k in info["n_nodes_heavy_hist"])
    c = conditions(("alpha", "mu"), info=info, composition=True)
    joint, g = _joint(info), torch.Generator().manual_seed(0)
    # nothing given: the training split's p(M, M_heavy)
    _within_5_sigma(c.atom_counts(torch.full((20_000, 2), float("nan")), g, joint), joint)
    # mu given: the pairs of the K_NEAREST training molecules nearest in mu, together
    mu = 5.0
    nearest = torch.topk((c._table_values()[:, 1] - (mu - c.mean[1]) / c.mad[1]).abs(), K_NEAREST, largest=False).indices
    expected = torch.zeros_like(joint)
    for i in nearest.tolist():
        expected[table["n_atoms"][i], table["n_heavy"][i]] += 1 / K_NEAREST
    _within_5_sigma(c.atom_counts(torch.tensor([[float("nan"), mu]]).expand(20_000, 2), g, joint), expected)
    # resolve: [n, K + 2], the heavy-atom count last; seeded
    out = c.resolve({"mu": mu}, 6, torch.Generator().manual_seed(2), joint)
    again = c.resolve({"mu": mu}, 6, torch.Generator().manual_seed(2), joint)
    assert out.shape == (6, 4) and torch.allclose(out, again, equal_nan=True, rtol=0, atol=0)
    values, atoms = c.split(out, "cpu")
    assert values.shape == (6, 2) and torch.equal(atoms, out[:, 2].long())
    assert torch.equal(c.heavy_counts(out, "cpu"), out[:, 3].long()) and (out[:, 3] <= out[:, 2]).all()
    # draw: each molecule's own (M, M_heavy)
    drawn = c.draw(500, torch.Generator().manual_seed(0))
    pairs = set(zip(table["n_atoms"], table["n_heavy"]))
    assert set(zip(drawn["n_atoms"].tolist(), drawn["n_heavy"].tolist())) <= pairs


def test_a_fixed_atom_or_heavy_count_draws_the_other_from_the_joint():
    info = toy_info(toy_train(2000), heavy=True)
    c, joint = conditions(("alpha",), info=info, composition=True), _joint(info)
    g = torch.Generator().manual_seed(0)
    given_m = c.resolve({"n_atoms": 6}, 20_000, g, joint)
    assert (given_m[:, 1] == 6).all()
    _within_5_sigma(given_m[:, 1:].long(), torch.zeros_like(joint).index_copy_(0, torch.tensor([6]), joint[6:7] / joint[6].sum()))
    given_h = c.resolve({"n_heavy": 2, "alpha": 50.0}, 20_000, g, joint)
    assert (given_h[:, 2] == 2).all() and (given_h[:, 0] == 50).all()
    column = torch.zeros_like(joint)
    column[:, 2] = joint[:, 2] / joint[:, 2].sum()
    _within_5_sigma(given_h[:, 1:].long(), column)
    both = c.resolve({"n_atoms": [5, 6], "n_heavy": [2, 6]}, 2, g, joint)
    assert both[:, 1:].tolist() == [[5, 2], [6, 6]]
    with pytest.raises(UserError, match="cannot exceed"):
        c.resolve({"n_atoms": 3, "n_heavy": 4}, 1, g, joint)
    with pytest.raises(UserError, match="heavy-atom count must be in"):
        c.resolve({"n_heavy": MAX_N + 1}, 1, g, joint)
    with pytest.raises(UserError, match="no training molecule has 2 atoms"):
        c.resolve({"n_atoms": 2}, 1, g, joint)
    without = MoleculeConditions(MiDiConfig(conditions=["alpha"]), info, MAX_N)
    with pytest.raises(UserError, match="composition_prior is off"):
        without.resolve({"n_heavy": 2}, 1, g, joint.sum(1))
    assert set(without.draw(3)) == {"alpha", "n_atoms"}  # off: as before
    with pytest.raises(ConfigError, match="heavy-atom count"):
        conditions(("alpha",), info=toy_info(), composition=True)  # a table without n_heavy
