"""A network's unconstrained output mapped into a data set's declared value range, and back.

A data set declares the range of each value field (gensci.spec.ValueRange); methods receive it as
plain data, `info["value_ranges"][key]` = {"low", "high", "values"} (None = unbounded). `ValueMap`
turns that into the output map of a generator or decoder and the rescalings that losses need:

| declared range              | kind      | values(raw)                        | likelihood it suits         |
|-----------------------------|-----------|------------------------------------|-----------------------------|
| values = (a, b) (Ising ±1)  | binary    | (a+b)/2 + (b-a)/2 tanh(raw)        | Bernoulli on (x-a)/(b-a)    |
| low, high (images [0, 1])   | bounded   | low + (high-low) sigmoid(raw)      | Bernoulli on (x-low)/(high-low) |
| low only                    | lower     | low + softplus(raw)                | Gaussian                    |
| high only                   | upper     | high - softplus(raw)               | Gaussian                    |
| neither (random fields)     | unbounded | raw                                | Gaussian                    |

A discrete set of more than two values is treated as the interval [min, max]. For the binary kind,
tanh(r) = 2 sigmoid(2r) - 1, so the Bernoulli logits of the unit-rescaled value are 2 raw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor

Kind = Literal["binary", "bounded", "lower", "upper", "unbounded"]


@dataclass(frozen=True)
class ValueMap:
    """Output map for values in [low, high] (either may be None); see the module docstring."""

    kind: Kind
    low: float | None = None
    high: float | None = None

    @classmethod
    def from_range(cls, value_range: Mapping[str, Any] | None) -> "ValueMap":
        """From `info["value_ranges"][key]` ({"low", "high", "values"}); None or {} means unbounded."""
        value_range = value_range or {}
        values = value_range.get("values")
        if values:
            lo, hi = float(min(values)), float(max(values))
            if lo == hi:
                raise ValueError(f"a discrete value set needs two distinct values, got {list(values)}")
            return cls("binary" if len(set(values)) == 2 else "bounded", lo, hi)
        lo, hi = value_range.get("low"), value_range.get("high")
        lo, hi = (None if v is None else float(v) for v in (lo, hi))
        if lo is not None and hi is not None:
            if not hi > lo:
                raise ValueError(f"value range needs low < high, got [{lo}, {hi}]")
            return cls("bounded", lo, hi)
        if lo is not None:
            return cls("lower", lo)
        if hi is not None:
            return cls("upper", None, hi)
        return cls("unbounded")

    @classmethod
    def from_info(cls, info: Mapping[str, Any], key: str) -> "ValueMap":
        """From a data set's `info["value_ranges"][key]`; a missing entry is an error, not [0, 1]."""
        ranges = info.get("value_ranges") or {}
        if key not in ranges:
            raise ValueError(f"info lacks value_ranges[{key!r}]: build the method from the data set's info "
                             "(gensci.workflows.base.load_data writes the ranges its spec declares)")
        return cls.from_range(ranges[key])

    @property
    def bounded(self) -> bool:
        """Both ends finite: the values can be rescaled to [0, 1] (Bernoulli) and [-1, 1] (penalties)."""
        return self.kind in ("binary", "bounded")

    def values(self, raw: Tensor) -> Tensor:
        """Unconstrained network output -> values in the range (the decoder mean / generator image)."""
        if self.kind == "binary":
            return (self.low + self.high) / 2 + (self.high - self.low) / 2 * torch.tanh(raw)
        if self.kind == "bounded":
            return self.low + (self.high - self.low) * torch.sigmoid(raw)
        if self.kind == "lower":
            return self.low + F.softplus(raw)
        if self.kind == "upper":
            return self.high - F.softplus(raw)
        return raw

    def raw(self, values: Tensor, margin: float = 0.01) -> Tensor:
        """The inverse of `values` (e.g. to start a generator's output bias at the data mean); values
        are first pulled `margin` (a fraction of the span, or absolute for one-sided ranges) inside."""
        v = torch.as_tensor(values, dtype=torch.float32)
        if self.bounded:
            u = ((v - self.low) / (self.high - self.low)).clamp(margin, 1 - margin)
            return torch.logit(u) / (2 if self.kind == "binary" else 1)
        if self.kind in ("lower", "upper"):
            d = (v - self.low if self.kind == "lower" else self.high - v).clamp_min(margin)
            return d + torch.log(-torch.expm1(-d))  # softplus^-1
        return v

    def unit(self, x: Tensor) -> Tensor:
        """Bounded values -> [0, 1] (the target of a Bernoulli likelihood)."""
        self._need_bounds("a [0, 1] rescaling")
        return (x - self.low) / (self.high - self.low)

    def unit_logits(self, raw: Tensor) -> Tensor:
        """Logits whose sigmoid is unit(values(raw))."""
        self._need_bounds("Bernoulli logits")
        return 2 * raw if self.kind == "binary" else raw

    def signed(self, x: Tensor) -> Tensor:
        """Values on the [-1, 1] scale where published GAN penalty constants were tuned: bounded
        ranges are rescaled linearly; otherwise the values are taken as they are (no scale is known)."""
        return 2 * self.unit(x) - 1 if self.bounded else x

    def from_signed(self, s: Tensor) -> Tensor:
        """The inverse of `signed`."""
        return self.low + (s + 1) / 2 * (self.high - self.low) if self.bounded else s

    def _need_bounds(self, what: str) -> None:
        if not self.bounded:
            raise ValueError(f"{what} needs a bounded value range; this one is {self.kind}")
