"""Records: built-in tables, standardisation with train statistics, users' CSV files and their errors."""

import numpy as np
import pytest
import torch

from gensci.config import validate
from gensci.data.records import RecordsConfig, RecordsData, builtin_table, read_records_csv
from gensci.errors import ConfigError, InputFileError
from gensci.workflows.base import load_data


def load(**data):
    return load_data(validate({"data": {"name": "records", **data}, "method": {"name": "toy"}}))


def test_breast_cancer_standardised_with_train_statistics():
    splits = load(missing="mar", missing_rate=0.3)
    train = splits.train.tensors
    obs = train["observed"].numpy()
    x = train["x"].numpy()
    assert (x[~obs] == 0).all()  # gaps hold the train mean
    vals = np.where(obs, x, np.nan)
    assert np.allclose(np.nanmean(vals, 0), 0, atol=1e-5) and np.allclose(np.nanstd(vals, 0), 1, atol=1e-4)
    assert torch.equal(train["x"][train["observed"]], train["target"][train["observed"]])
    raw, y, _, _ = builtin_table("breast-cancer")
    all_items = [getattr(splits, s).tensors for s in ("train", "valid", "test")]
    physical = torch.cat([splits.spec.ranges["target"].to_physical(t["target"].double(), t) for t in all_items])
    assert physical.shape == raw.shape and np.allclose(physical.mean(0).numpy(), raw.mean(0), rtol=1e-5)
    labels = torch.cat([t["label"] for t in all_items])
    assert int(labels.sum()) == 212  # malignant is the positive class (212 of 569 in scikit-learn's table)
    hidden = torch.cat([t["hidden"] for t in all_items])
    assert abs(float(hidden.float().mean()) - 0.3) < 0.02


def test_diabetes_target_is_above_median_progression():
    splits = load(source="diabetes")
    labels = torch.cat([getattr(splits, s).tensors["label"] for s in ("train", "valid", "test")])
    assert len(labels) == 442 and int(labels.sum()) == 221
    assert splits.info["n_features"] == 10


def test_seeded_and_seed_dependent():
    a, b, c = load(seed=1), load(seed=1), load(seed=2)
    assert torch.equal(a.test.tensors["hidden"], b.test.tensors["hidden"])
    assert not torch.equal(a.test.tensors["hidden"], c.test.tensors["hidden"])


def write(tmp_path, text, name="t.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def good_csv(n=30):
    rng = np.random.default_rng(0)
    lines = ["age,bp,outcome"]
    for i in range(n):
        bp = "" if i % 7 == 0 else f"{rng.normal(120, 10):.1f}"
        lines.append(f"{rng.integers(20, 80)},{bp},{'sick' if i % 3 == 0 else 'well'}")
    return "\n".join(lines) + "\n"


def test_user_csv_with_real_gaps(tmp_path):
    path = write(tmp_path, good_csv())
    x, y, features, classes = read_records_csv(path, "outcome")
    assert features == ["age", "bp"] and classes == ["sick", "well"] and x.shape == (30, 2)
    assert np.isnan(x[:, 1]).sum() == 5 and set(y) == {0, 1}
    splits = load(path=str(path), target="outcome", missing_rate=0.2)
    for split in ("train", "valid", "test"):
        t = getattr(splits, split).tensors
        assert not (t["hidden"] & t["observed"]).any()
    assert splits.info["n_unknown"] == 5


@pytest.mark.parametrize("text,match", [
    ("a,b,y\n1,2,0\n1,2\n", r"t\.csv:3: 2 fields, expected 3"),
    ("a,b,y\n1,2,0\n1,abc,1\n", r"t\.csv:3: column 'b' holds 'abc'; expected a number"),
    ("a,b,y\n1,2,0\n1,2,\n", r"t\.csv:3: the target 'y' is missing"),
    ("a,b,z\n1,2,0\n", r"t\.csv:1: no column 'y' in the header"),
    ("a,b,y\n" + "".join(f"{i},,{i % 2}\n" for i in range(12)), r"t\.csv: column 'b' has no value"),
    ("a,b,y\n" + "".join(f"{i},1,{i % 3}\n" for i in range(12)), r"t\.csv: target 'y' has 3 distinct values"),
    ("a,b,y\n1,2,0\n", r"t\.csv: 1 records; expected at least"),
])
def test_malformed_csv_is_one_line_naming_file_and_line(tmp_path, text, match):
    with pytest.raises(InputFileError, match=match) as err:
        read_records_csv(write(tmp_path, text), "y")
    assert "\n" not in str(err.value)


def test_missing_file_and_missing_target_option(tmp_path):
    with pytest.raises(InputFileError, match="no such file"):
        read_records_csv(tmp_path / "none.csv", "y")
    with pytest.raises(ConfigError, match="data.target"):
        validate({"data": {"name": "records", "path": "x.csv"}, "method": {"name": "toy"}})


def test_spec_declares_the_value_range():
    spec = RecordsData.spec(RecordsConfig())
    assert spec.domain == "records" and {"x", "target"} <= set(spec.ranges)
    assert spec.ranges["x"].scale == "scale" and spec.ranges["x"].offset == "offset"
