"""ValueMap: output maps into declared value ranges, their inverses and the rescalings losses use."""

import pytest
import torch

from gensci.ops.ranges import ValueMap

RANGES = {
    "bounded": {"low": 0.0, "high": 1.0, "values": None},
    "binary": {"low": -1.0, "high": 1.0, "values": [-1.0, 1.0]},
    "lower": {"low": 2.0, "high": None, "values": None},
    "upper": {"low": None, "high": -3.0, "values": None},
    "unbounded": {"low": None, "high": None, "values": None},
}


@pytest.mark.parametrize("kind", sorted(RANGES))
def test_values_stay_in_range_and_invert(kind):
    vm = ValueMap.from_range(RANGES[kind])
    assert vm.kind == kind
    raw = torch.linspace(-4, 4, 101)
    v = vm.values(raw)
    lo, hi = RANGES[kind]["low"], RANGES[kind]["high"]
    assert (lo is None or v.min() >= lo) and (hi is None or v.max() <= hi)
    torch.testing.assert_close(vm.raw(v, margin=1e-6), raw, atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(vm.from_signed(vm.signed(v)), v)


def test_specific_maps():
    raw = torch.linspace(-3, 3, 13)
    torch.testing.assert_close(ValueMap.from_range(RANGES["binary"]).values(raw), torch.tanh(raw))
    torch.testing.assert_close(ValueMap.from_range({"low": 2.0, "high": 6.0}).values(raw), 2 + 4 * torch.sigmoid(raw))
    assert torch.equal(ValueMap.from_range(None).values(raw), raw)
    assert ValueMap.from_range({"values": [0, 1, 2]}).kind == "bounded"  # more than two values: [min, max]


@pytest.mark.parametrize("kind", ["bounded", "binary"])
def test_bernoulli_logits_match_the_mean(kind):
    vm = ValueMap.from_range(RANGES[kind])
    raw = torch.randn(50)
    torch.testing.assert_close(torch.sigmoid(vm.unit_logits(raw)), vm.unit(vm.values(raw)))


def test_signed_scale_follows_the_range():
    assert torch.equal(ValueMap.from_range({"low": 0.0, "high": 1.0}).signed(torch.tensor([0.0, 0.5, 1.0])),
                       torch.tensor([-1.0, 0.0, 1.0]))
    spins = torch.tensor([-1.0, 1.0])
    assert torch.equal(ValueMap.from_range(RANGES["binary"]).signed(spins), spins)
    field = torch.tensor([-30.0, 7.0])
    assert torch.equal(ValueMap.from_range(None).signed(field), field)  # no scale is known: as it is
    with pytest.raises(ValueError, match="bounded"):
        ValueMap.from_range(None).unit(field)


def test_a_missing_or_bad_range_is_an_error():
    with pytest.raises(ValueError, match="value_ranges"):
        ValueMap.from_info({"channels": 3}, "x")
    with pytest.raises(ValueError, match="low < high"):
        ValueMap.from_range({"low": 1.0, "high": 1.0})
    assert ValueMap.from_info({"value_ranges": {"x": RANGES["binary"]}}, "x").kind == "binary"
