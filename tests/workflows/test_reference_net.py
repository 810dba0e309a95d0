"""The reference network: trained seeded, cached (safetensors, atomic), scored against chance; an
unlearnable data set gets its feature metrics withheld."""

import importlib.util
import math

import numpy as np
import pytest
import torch

from gensci.data.base import DataSplits, TensorDictDataset
from gensci.metrics import images as M
from gensci.workflows import reference_net as R


def toy_images(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """[n, 3, 16, 16] in three easy classes: dark noise, bright noise, vertical stripes."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    noise = torch.rand(n, 3, 16, 16, generator=g)
    stripes = 0.5 + 0.4 * torch.sin(torch.arange(16.0) * 1.5 + torch.rand(n, 1, 1, 1, generator=g) * 6.28)
    x = torch.where((y == 0)[:, None, None, None], 0.3 * noise, 0.7 + 0.3 * noise)
    return torch.where((y == 2)[:, None, None, None], stripes + 0.05 * noise, x).clamp(0, 1), y


def splits_of(make, info=None):
    parts = [TensorDictDataset(dict(zip(("x", "label"), make(n, s)))) for n, s in ((150, 0), (30, 1), (90, 2))]
    return DataSplits(*parts, info=info or {"n_classes": 3})


@pytest.fixture(scope="module")
def splits():
    return splits_of(toy_images)


@pytest.fixture(scope="module")
def ref(splits, tmp_path_factory):
    return R.reference_net(splits, "toy", seed=0, steps=30, width=4, cache_dir=tmp_path_factory.mktemp("c"))


def test_it_learns_and_judges(splits, ref):
    assert ref.accuracy > 0.9 and ref.chance == pytest.approx(1 / 3) and ref.n_test == 90
    assert ref.net.feature_dim == 48 and ref.judge().withheld_reason() is None
    f, p = ref.embed(splits.test.tensors["x"][:5])
    assert f.shape == (5, 48) and p.shape == (5, 3) and np.allclose(p.sum(1), 1)


def test_it_is_cached_seeded_and_read_back(splits, ref, tmp_path):
    again = R.reference_net(splits, "toy", seed=0, steps=30, width=4, cache_dir=tmp_path)
    for a, b in zip(ref.net.state_dict().values(), again.net.state_dict().values()):
        assert torch.equal(a, b)  # reproducible from its seed
    (path,) = (tmp_path / "refnets").glob("toy-*.safetensors")
    assert not list(path.parent.glob(".*tmp*"))  # written atomically: no temporary file left
    loaded = R.reference_net(splits, "toy", seed=0, steps=30, width=4, cache_dir=tmp_path)
    assert (loaded.accuracy, loaded.chance, loaded.n_test) == (again.accuracy, again.chance, again.n_test)
    x = splits.test.tensors["x"][:8]
    assert np.allclose(loaded.embed(x)[0], again.embed(x)[0])
    assert torch.equal(loaded.net.shift, again.net.shift)  # the input standardisation travels with the weights
    path.write_bytes(b"")  # an emptied file proves the next call reads it (and fails), not retrains
    with pytest.raises(Exception):
        R.reference_net(splits, "toy", seed=0, steps=30, width=4, cache_dir=tmp_path)
    other = R.reference_net(splits, "toy", seed=1, steps=30, width=4, cache_dir=tmp_path)
    assert not torch.equal(other.net.head.weight, again.net.head.weight)


def test_inputs_are_standardised_so_any_range_learns(splits):
    # the same images as a field around -300 with amplitude 50: the old fixed (x - 0.5) * 2 saturated here
    shifted = {s: TensorDictDataset({"x": getattr(splits, s).tensors["x"] * 50 - 300, "label": getattr(splits, s).tensors["label"]})
               for s in ("train", "valid", "test")}
    ref = R.train_reference_net(shifted["train"].tensors["x"], shifted["train"].tensors["label"],
                                shifted["test"].tensors["x"], shifted["test"].tensors["label"], 3, steps=30, width=4)
    assert ref.accuracy > 0.9 and float(ref.net.shift.mean()) == pytest.approx(-300 + 50 * float(splits.train.tensors["x"].mean()), rel=1e-4)


def test_an_unlearnable_data_set_gets_its_feature_metrics_withheld(tmp_path):
    def noise(n, seed):  # labels independent of the images
        g = torch.Generator().manual_seed(seed)
        return torch.rand(n, 1, 16, 16, generator=g), torch.randint(4, (n,), generator=g)

    splits = splits_of(noise, {"n_classes": 4})
    ref = R.reference_net(splits, "noise", seed=0, steps=30, width=4, cache_dir=tmp_path)
    reason = ref.judge().withheld_reason()
    assert reason and "not clearly above chance" in reason and ref.accuracy < 0.5
    m = M.image_metrics(splits.valid.tensors["x"], splits.test.tensors["x"], ref.judge())
    assert m["feature_metrics_withheld"] == reason and "mode_collapse" not in m


def test_one_class_has_no_accuracy(tmp_path):
    x = torch.rand(20, 1, 16, 16)
    with pytest.warns(UserWarning, match="fewer than two classes"):
        ref = R.train_reference_net(x, torch.zeros(20), x, torch.zeros(20), 1, steps=5, width=4)
    assert math.isnan(ref.accuracy) and "no held-out accuracy" in ref.judge().withheld_reason()


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("firstgalaxydata") is None, reason="pip install --no-deps firstgalaxydata")
def test_it_learns_the_real_first_radio_galaxies(tmp_path):
    from gensci.data.firstgalaxy import FirstGalaxyData, FirstGalaxyDataConfig

    torch.set_num_threads(2)
    splits = FirstGalaxyData.load(FirstGalaxyDataConfig())
    ref = R.reference_net(splits, "first", cache_dir=tmp_path)  # the default recipe (600 steps)
    assert ref.chance == 0.25 and ref.n_test == 200
    assert ref.accuracy > 0.7 and ref.judge().withheld_reason() is None  # it stayed at 0.25 before the recipe
