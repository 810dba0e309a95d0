"""The config fields every diffusion method shares: timesteps, noise schedule, sampler and its options.

A diffusion method's config extends DiffusionConfig (pythae-style inheritance) and sets its own defaults;
names are validated against the registries when the config is loaded, so `--set method.sampler=nonsense`
fails at once with one line listing the choices.
"""

from __future__ import annotations

from typing import Callable

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from gensci.errors import ConfigError
from gensci.methods.base import StepsConfig
from gensci.methods.diffusion.samplers import SAMPLERS, check_sampler, check_sampler_options
from gensci.methods.diffusion.schedules import SCHEDULES, check_schedule


def _as_field_error(check: Callable, value):
    """Run a registry check; its ConfigError becomes a pydantic error whose text is the check's message alone."""
    try:
        return check(value)
    except ConfigError as err:
        raise PydanticCustomError("unknown_name", "{message}", {"message": str(err)}) from None


class DiffusionConfig(StepsConfig):
    timesteps: int = Field(1000, ge=1, description="T: the trained time grid t = 0, 1/T, ..., 1")
    noise_schedule: str = Field("cosine", description=f"one of {', '.join(SCHEDULES)}")
    noise_precision: float = Field(1e-5, gt=0, lt=0.5, description="polynomial schedules: alpha^2 in [s, 1 - s]")
    sampler: str = Field("ancestral", description=f"default sampler, one of {', '.join(SAMPLERS)} "
                                                  "(SamplingOptions.sampler / --sampler override it per call)")
    sampler_options: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="options per sampler, e.g. {ddim: {eta: 0.5}, langevin: {snr: 0.1}}")

    @field_validator("noise_schedule")
    @classmethod
    def _known_schedule(cls, name: str) -> str:
        return _as_field_error(check_schedule, name)

    @field_validator("sampler")
    @classmethod
    def _known_sampler(cls, name: str) -> str:
        return _as_field_error(check_sampler, name)

    @field_validator("sampler_options")
    @classmethod
    def _known_options(cls, options: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for name, values in options.items():
            _as_field_error(lambda v: check_sampler_options(name, v), values)
        return options
