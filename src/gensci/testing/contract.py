"""One contract for every method (scikit-learn's common-tests idea), shipped to users.

`check_method_contract(method_cls, info, batch)` asserts what the trainer and the CLI rely on:
- the method builds from its default config and the data's plain `info`;
- `train_step` returns a dict of finite python floats including "loss", and changes the weights;
- with "sample" in `capabilities`: the samples hold what `sample_spec` declares (keys, shapes per
  sample, dtypes), the same generator seed gives the same samples, and a weights-only state_dict round
  trip (safetensors-like: tensors only) gives identical samples.
"""

from __future__ import annotations

import io
import math
from typing import Any

import torch

from gensci.config import TrainConfig
from gensci.spec import DataSpec, check_items
from gensci.testing.stepper import SimpleStepper


def check_method_contract(method_cls, info: dict[str, Any], batch: dict[str, torch.Tensor], config=None, n_samples: int = 3,
                          sample_kwargs: dict | None = None) -> None:
    torch.manual_seed(0)
    config = config or method_cls.Config()
    method = method_cls(config, info)
    before = [p.detach().clone() for p in method.parameters()]
    stepper = SimpleStepper(method.optimizers(TrainConfig(lr=1e-3)))
    logs = method.train_step(batch, 0, stepper)
    assert isinstance(logs, dict) and "loss" in logs, f"train_step must return a dict with 'loss', got {logs!r}"
    for key, value in logs.items():
        assert isinstance(value, float) and math.isfinite(value), f"train_step log {key!r} = {value!r} is not a finite float"
    changed = any(not torch.equal(a, p.detach()) for a, p in zip(before, method.parameters()))
    assert changed, "train_step did not change any weight"
    if "sample" not in method_cls.capabilities:
        return
    method.eval()
    kwargs = sample_kwargs or {}
    s1 = method.sample(n_samples, generator=torch.Generator().manual_seed(1), **kwargs)
    declared = method_cls.sample_spec(config, info)
    assert declared, f"{method_cls.__name__}.sample_spec declares nothing; say what a sample holds"
    check_items(DataSpec("samples", declared), s1, where=f"{method_cls.__name__}.sample")
    assert all(len(v) == n_samples for v in s1.values()), "every sample key needs one entry per sample"
    s2 = method.sample(n_samples, generator=torch.Generator().manual_seed(1), **kwargs)
    _assert_same(s1, s2, "same seed, different samples")
    buf = io.BytesIO()
    torch.save(method.state_dict(), buf)
    buf.seek(0)
    clone = method_cls(config, info)
    clone.load_state_dict(torch.load(buf, weights_only=True))
    clone.eval()
    s3 = clone.sample(n_samples, generator=torch.Generator().manual_seed(1), **kwargs)
    _assert_same(s1, s3, "state_dict round trip changed the samples")


def _assert_same(a, b, message: str) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys(), message
        for k in a:
            _assert_same(a[k], b[k], f"{message} (key {k!r})")
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), message
