import pytest

from gensci.workflows.base import check_run_fits
from gensci.config import ConfigError, apply_override, load_config, validate
from gensci.registry import preset_names
from gensci.testing.toy import toy_config


def test_override_is_typed_and_validated():
    raw = toy_config()
    apply_override(raw, "train.lr=3e-4")
    apply_override(raw, "method.hidden=7")
    cfg = validate(raw)
    assert cfg.train.lr == pytest.approx(3e-4) and isinstance(cfg.train.lr, float)
    assert cfg.method.hidden == 7


def test_unknown_key_names_the_key():
    raw = toy_config()
    apply_override(raw, "method.hiden=7")
    with pytest.raises(ConfigError, match=r"method\.hiden"):
        validate(raw)


def test_wrong_type_names_the_key():
    raw = toy_config()
    apply_override(raw, "train.batch_size=lots")
    with pytest.raises(ConfigError, match=r"train\.batch_size"):
        validate(raw)


def test_unknown_method_lists_choices():
    raw = toy_config()
    raw["method"]["name"] = "nope"
    with pytest.raises(ConfigError, match="choices"):
        validate(raw)


def test_malformed_override():
    with pytest.raises(ConfigError, match="key=value"):
        apply_override({}, "train.lr")


def test_yaml_roundtrip(tmp_path):
    cfg = validate(toy_config())
    f = tmp_path / "c.yaml"
    f.write_text(cfg.to_yaml())
    assert load_config(f) == cfg


def test_missing_source():
    with pytest.raises(ConfigError, match="neither a preset"):
        load_config("no-such-preset")


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_validates(name):
    cfg = load_config(name)
    assert cfg.description, f"preset {name} needs a one-line description"
    check_run_fits(cfg)  # the preset's method fits its data set (gensci.spec)
    # presets stop by steps, so one preset and seed give one model on any machine; minutes only cap
    assert cfg.train.max_steps, f"preset {name} must stop by train.max_steps"
