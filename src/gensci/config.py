"""Typed experiment configs: YAML files, presets and `--set key=value` overrides.

An experiment config has four sections:
  data:   the data set; `name` picks the class from registry.DATASETS, whose `Config` validates the rest
  method: the generative method; `name` picks registry.METHODS, likewise
  train:  the trainer (TrainConfig)
  eval:   what `evaluate` measures by default (EvalConfig); sampling is the method's (its sampling_steps, sampler),
          which eval.sampling_steps / eval.sampler override only when set
Every section forbids unknown keys, so a typo fails at load time naming the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from gensci.errors import ConfigError, UnknownNameError

__all__ = ["ConfigError", "DataConfig", "EvalConfig", "ExperimentConfig", "MethodConfig", "Section", "TrainConfig",
           "apply_override", "load_config", "validate", "with_overrides"]


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())


class DataConfig(Section):
    name: str
    seed: int = 0


class MethodConfig(Section):
    name: str


class TrainConfig(Section):
    batch_size: int = Field(64, ge=1, description="per process")
    max_steps: int | None = Field(None, ge=0)
    max_minutes: float | None = Field(None, gt=0)
    lr: float = Field(1e-4, gt=0)
    weight_decay: float = Field(1e-12, ge=0)
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = Field(0, ge=0)
    lr_schedule: Literal["constant", "cosine"] = "constant"
    grad_clip: float | Literal["adaptive", "none"] = "none"
    ema_decay: float = Field(0.999, ge=0, lt=1, description="0 disables EMA")
    ema_warmup: bool = Field(True, description="decay min(ema_decay, (1+n)/(10+n)) so short runs are usable")
    log_every: int = Field(10, ge=1)
    eval_every: int | None = Field(None, ge=1)
    checkpoint_every: int = Field(200, ge=1)
    keep_every: int | None = Field(None, ge=1, description="keep a periodic checkpoint every N steps")
    device: str = "auto"
    precision: Literal["fp32", "bf16"] = "fp32"
    threads: int | None = Field(None, ge=1)
    compile: bool = Field(False, description="torch.compile the method's networks for training (fixed-shape data "
                          "such as grids; compilation takes minutes and counts in max_minutes)")
    progress: bool = True
    init_from: str | None = Field(None, description="start a new run from the weights of another run's checkpoint "
                                  "(a .pt path; its EMA weights where it has them): same-shaped tensors are copied, "
                                  "inputs added at the end of a layer get zero weights; optimiser, step and schedule "
                                  "start fresh; ignored on --resume")


class EvalConfig(Section):
    """What `evaluate`, the report and periodic evaluation measure. How they sample is the method's own default
    (method.sampling_steps, method.sampler: the same `gensci sample` uses); the fields below override it only
    when set, and --steps / --sampler override everything."""

    n_samples: int = Field(1000, ge=1)
    sampling_steps: int | None = Field(None, ge=1, description="override of method.sampling_steps for evaluate, "
                                       "the report and periodic evaluation (None: the method's)")
    sampler: str | None = Field(None, description="override of method.sampler for evaluate, the report and "
                                "periodic evaluation (None: the method's)")
    periodic_sampling_steps: int | None = Field(None, ge=1, description="periodic evaluation only: at most this "
                                                "many steps, for quick evaluations while training (None: as evaluate)")
    batch_size: int = Field(250, ge=1)
    periodic_n_samples: int = Field(100, ge=1, description="samples drawn at each periodic evaluation")


# eval.KEY overrides the method's field of this name (ExperimentConfig checks that the method has it)
EVAL_OVERRIDES = {"sampling_steps": "sampling_steps", "periodic_sampling_steps": "sampling_steps", "sampler": "sampler"}


class ExperimentConfig(Section):
    name: str = "run"
    description: str = ""
    seed: int = 0
    data: SerializeAsAny[DataConfig]
    method: SerializeAsAny[MethodConfig]
    train: TrainConfig = TrainConfig()
    eval: EvalConfig = EvalConfig()

    @field_validator("data", mode="before")
    @classmethod
    def _data_by_name(cls, value: Any) -> Any:
        from gensci.registry import DATASETS

        return _by_name(value, DATASETS, "data")

    @field_validator("method", mode="before")
    @classmethod
    def _method_by_name(cls, value: Any) -> Any:
        from gensci.registry import METHODS

        return _by_name(value, METHODS, "method")

    @model_validator(mode="after")
    def _eval_overrides_fit_the_method(self) -> "ExperimentConfig":
        """An eval override needs the method field it overrides, and a value that field accepts (a sampler name
        from the method's choices): a typo fails at load time, not after an hour of training."""
        method_cls = type(self.method)
        for key, field in EVAL_OVERRIDES.items():
            value = getattr(self.eval, key)
            if value is None:
                continue
            if field not in method_cls.model_fields:
                raise PydanticCustomError("no_such_option", "eval.{key}: method {name} takes no {field} (unset it)",
                                          {"key": key, "name": self.method.name, "field": field})
            try:
                method_cls.model_validate({**self.method.model_dump(), field: value})
            except ValidationError as err:
                raise PydanticCustomError("bad_override", "eval.{key}: {message}",
                                          {"key": key, "message": err.errors()[0]["msg"]}) from None
        return self

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def _by_name(value: Any, registry, section: str) -> Any:
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if not isinstance(value, dict) or "name" not in value:
        raise ValueError(f"{section} needs a 'name' (choices: {', '.join(registry.names())})")
    try:
        cls = registry.get(value["name"])
    except UnknownNameError as err:
        raise ValueError(str(err)) from None
    return cls.Config.model_validate(value)


def load_config(source: str | Path, overrides: list[str] = (), seed: int | None = None) -> ExperimentConfig:
    """Load a preset name or a YAML file, apply `key=value` overrides, validate."""
    from gensci.registry import preset_names, preset_text

    path = Path(source)
    if path.is_dir() and (path / "config.yaml").exists():
        path = path / "config.yaml"
    if path.suffix in (".yaml", ".yml") and path.exists():
        text, origin = path.read_text(), str(path)
    elif str(source) in preset_names():
        text, origin = preset_text(str(source)), f"preset {source}"
    else:
        raise ConfigError(f"{source!r} is neither a preset ({', '.join(preset_names())}) nor a YAML file")
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{origin}: not valid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: expected a mapping at the top level")
    raw.setdefault("name", path.stem if origin == str(path) else str(source))
    return with_overrides(raw, overrides, seed, origin)


def with_overrides(raw: dict, overrides: list[str] = (), seed: int | None = None,
                   origin: str = "config") -> ExperimentConfig:
    """A raw config dict with `key=value` overrides and the seed applied, validated (raw is changed in place)."""
    for item in overrides:
        apply_override(raw, item)
    if seed is not None:
        raw["seed"] = seed
    return validate(raw, origin)


def validate(raw: dict, origin: str = "config") -> ExperimentConfig:
    try:
        return ExperimentConfig.model_validate(raw)
    except ValidationError as err:
        lines = []
        for e in err.errors():
            key = ".".join(str(p) for p in e["loc"] if not str(p).startswith("function-"))
            got = e.get("input")
            got = "" if isinstance(got, dict) or repr(got) in e["msg"] else f" (got {got!r})"
            lines.append(f"  {key + ': ' if key else ''}{e['msg']}{got}")  # whole-config checks name their keys
        if len(lines) == 1:  # one problem: one line
            raise ConfigError(f"{origin}: {lines[0].strip()}") from None
        raise ConfigError(f"{origin}: invalid config\n" + "\n".join(lines)) from None


def apply_override(raw: dict, item: str) -> None:
    """Set `a.b.c=value` in a raw config dict; the value is parsed as YAML (1e-4, true, [1, 2])."""
    key, sep, text = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"--set {item!r}: expected key=value, e.g. train.lr=3e-4")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        value = text
    parts = key.split(".")
    node = raw
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {key}: {part!r} is not a section")
    node[parts[-1]] = value
