"""The Method protocol: what every generative method provides to the trainer, the workflows and the CLI.

A method is an `nn.Module` that knows its objective and its sampler. The trainer (train/) sees only
this interface, never a concrete method:

- `Config`: the method's config class (a `gensci.config.MethodConfig` with `name: Literal[...]`).
- `requires(config) -> Requirements` (classmethod): the batch keys (shape, dtype), `info` keys and
  data domains it needs; `gensci train` checks them against the data set's `DataSpec` before
  building anything (gensci.spec.check_fit).
- `sample_spec(config, info) -> dict[str, TensorSpec]` (classmethod): what one sample holds.
- `capabilities`: what else it can do, so callers ask instead of probing with hasattr. Names:
  "sample", "conditional" (sample by class or value), "chain" (a denoising trajectory),
  "log_likelihood" (a bound on log p per item), "elbo", "reconstruct", "interpolate",
  "anomaly_score", "denoise", "encode", "decode", "inpaint" (posterior samples given some pixels),
  "super_resolve" (posterior samples given block means), "impute" (fill the gaps of records:
  `impute(x, observed)`), "classify" (class probabilities of data: `classify(x)`).
- `sampling_options`: which of `SamplingOptions`' fields apply ("steps", "sampler", "guidance"); batch_size
  always does. Their defaults live in the method's config, one home each: "steps" -> `sampling_steps`
  (StepsConfig), "sampler" -> `sampler`; eval.sampling_steps / eval.sampler override them only when set.
- `__init__(config, info)`: builds the networks from hyper-parameters and the data set's plain
  metadata `info` (shapes, class count, histograms...). No data, no device.
- `optimizers(train)`: the optimisers by name (default: one AdamW called "main").
- `train_step(batch, step, opt) -> dict[str, float]`: one training step. It calls
  `opt.step(loss, name)` for each optimiser update, so a GAN's critic loop lives here while the
  trainer still owns backward, gradient clipping, precision and DDP.
- `sample(n, condition=None, generator=None, options=None) -> dict[str, Tensor]`: n samples, drawn
  `options.batch_size` at a time through `sample_batch`, which a method implements. Sampling options
  travel with the call: nothing reads or rewrites the method's config to change how it samples.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar, Protocol

import torch
from pydantic import Field
from torch import Tensor, nn

from gensci.config import MethodConfig, TrainConfig
from gensci.progress import Progress
from gensci.errors import UserError
from gensci.spec import Requirements, TensorSpec


class Stepper(Protocol):
    """Handed to `train_step` by the trainer: `step(loss, "main")` = zero grads,
    backward, clip, optimiser step (plus DDP gradient averaging when distributed)."""

    def step(self, loss: Tensor, optimizer: str = "main") -> float: ...


@dataclass(frozen=True)
class SamplingOptions:
    """How to sample, given with each call. None means the method's default.

    steps: reverse steps of a diffusion/flow sampler; sampler: a name from the diffusion toolkit's
    sampler registry; batch_size: samples drawn together (memory, not results: the same generator
    gives the same samples whatever the batch size only where a method says so); guidance: the
    classifier-free guidance scale of a conditional diffusion model (0 unconditional, 1 conditional).
    """

    steps: int | None = None
    sampler: str | None = None
    batch_size: int | None = None
    guidance: float | None = None

    def given(self) -> set[str]:
        return {f.name for f in fields(self) if getattr(self, f.name) is not None}


DEFAULT_SAMPLE_BATCH = 250


class StepsConfig(MethodConfig):
    """The config of a method that samples in steps (sampling option "steps"): the method owns its default step
    count, so `gensci sample`, `evaluate`, the report and periodic evaluation sample alike; --steps and
    eval.sampling_steps override it per call."""

    sampling_steps: int | None = Field(None, ge=1, description="default sampling steps (None: every trained step); "
                                       "--steps and eval.sampling_steps override it")


class Method(nn.Module):
    Config: ClassVar[type[MethodConfig]] = MethodConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"sample"})
    sampling_options: ClassVar[frozenset[str]] = frozenset()
    default_sample_batch: ClassVar[int] = DEFAULT_SAMPLE_BATCH

    def __init__(self, config: MethodConfig, info: dict[str, Any]):
        super().__init__()
        self.config = config
        self.info = info

    # ---- the contract -----------------------------------------------------------------------
    @classmethod
    def requires(cls, config: MethodConfig) -> Requirements:
        return Requirements()

    @classmethod
    def sample_spec(cls, config: MethodConfig, info: dict[str, Any]) -> dict[str, TensorSpec]:
        return {}

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def optimizers(self, train: TrainConfig) -> dict[str, torch.optim.Optimizer]:
        return {"main": adamw(self.parameters(), train)}

    def train_step(self, batch: dict[str, Tensor], step: int, opt: Stepper) -> dict[str, float]:
        raise NotImplementedError

    # ---- sampling ---------------------------------------------------------------------------
    def check_sampling_options(self, options: SamplingOptions) -> None:
        """A sampling option that does not apply to this method is a user error naming it."""
        extra = sorted(options.given() - self.sampling_options - {"batch_size"})
        if extra:
            name = self.config.name
            raise UserError(f"sampling option {extra[0]!r} does not apply to method {name} "
                            f"(it takes: {', '.join(sorted(self.sampling_options | {'batch_size'}))})")
        if options.batch_size is not None and options.batch_size < 1:
            raise UserError(f"sampling batch size must be at least 1, got {options.batch_size}")

    @torch.no_grad()
    def sample(self, n: int, condition: Tensor | int | None = None, generator: torch.Generator | None = None,
               options: SamplingOptions | None = None) -> dict[str, Tensor]:
        """n samples as a dict of tensors [n, ...], drawn in batches of options.batch_size.

        condition: None, one value for all, or one per sample ([n, ...]), sliced per batch."""
        if "sample" not in self.capabilities:
            raise UserError(f"method {self.config.name} does not generate samples")
        options = options or SamplingOptions()
        self.check_sampling_options(options)
        if n < 1:
            raise UserError(f"the number of samples must be at least 1, got {n}")
        size = options.batch_size or self.default_sample_batch
        per_item = isinstance(condition, Tensor) and condition.dim() > 0
        if per_item and len(condition) != n:
            raise UserError(f"got {len(condition)} conditions for {n} samples")
        parts = []
        with Progress("sampling:", n, unit="samples") as progress:  # a line every 10 s off a terminal, even mid-batch
            for start in range(0, n, size):
                b = min(size, n - start)
                cond = condition[start : start + b] if per_item else condition
                parts.append(self.sample_batch(b, cond, generator, options))
                progress.advance(b)
        return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}

    def steps(self, options: SamplingOptions | None) -> int | None:
        """The steps a call samples with: options.steps, else the config's sampling_steps (None: every trained
        step; a method without steps: None)."""
        if options is not None and options.steps is not None:
            return options.steps
        return getattr(self.config, "sampling_steps", None)

    def describe_sampling(self, options: SamplingOptions) -> dict[str, Any]:
        """What `options` mean for this method once its own defaults fill the gaps (e.g. {"sampling_steps": 1000,
        "sampler": "ancestral"}): what a call with them samples with, for reports and file names."""
        return {}

    def sample_batch(self, n: int, condition, generator: torch.Generator | None,
                     options: SamplingOptions) -> dict[str, Tensor]:
        raise NotImplementedError(f"{type(self).__name__} does not sample")


def class_labels(condition: Tensor | int | None, n: int, n_classes: int, generator: torch.Generator | None,
                 device: torch.device) -> Tensor:
    """The labels [n] (int64, on `device`) a class-conditional sampler uses: `condition` as [n] labels
    or one int for all; None draws them uniformly from `generator`. Out-of-range labels are a UserError."""
    if condition is None:
        gen_device = generator.device if generator is not None else device
        labels = torch.randint(n_classes, (n,), generator=generator, device=gen_device)
    else:
        labels = torch.as_tensor(condition, dtype=torch.long)
        labels = labels.expand(n) if labels.dim() == 0 else labels
    labels = labels.to(device)
    if len(labels) != n or labels.min() < 0 or labels.max() >= n_classes:
        raise UserError(f"condition must be {n} labels in [0, {n_classes}); got {labels.tolist()[:10]}")
    return labels


def adamw(params, train: TrainConfig, lr: float | None = None, betas: tuple[float, float] | None = None, **kwargs):
    return torch.optim.AdamW(
        params, lr=lr or train.lr, betas=betas or train.betas, weight_decay=train.weight_decay, **kwargs
    )


def to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: v.to(device, non_blocking=True) if isinstance(v, Tensor) else v for k, v in batch.items()}
