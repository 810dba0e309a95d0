"""The agreements between data sets, methods and workflows, stated as plain data and checked when a run is built.

- A data set states what it provides (`DataSpec`): its domain (which workflow evaluates it), the
  tensors of one item (`TensorSpec`: shape without the batch dimension, dtype), the keys of its
  `info`, and for value fields their range and the map back to physical units (`ValueRange`).
- A method states what it needs (`Requirements`: batch keys with shape and dtype, info keys, the
  domains it understands) and what its samples hold (`dict[str, TensorSpec]`, shapes per sample).
- `check_fit(provided, required)` is called by `gensci train` when it builds the run: a mismatch is
  one `ContractError` line naming the key.

Shapes use ints for fixed sizes and names for sizes fixed by the data ("N" atoms, "C" channels,
"S" image side, "L" trace length); within one spec a name means one size. This module is a leaf:
it imports nothing from gensci but the error types.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

from gensci.errors import ContractError

Dim = int | str
DType = Literal["float", "int", "bool"]


@dataclass(frozen=True)
class TensorSpec:
    """One tensor of an item or a sample: `shape` without the batch dimension, `dtype` a kind."""

    shape: tuple[Dim, ...]
    dtype: DType = "float"
    description: str = ""

    def describe(self) -> str:
        return f"[{', '.join(map(str, self.shape))}] {self.dtype}"


@dataclass(frozen=True)
class ValueRange:
    """The values of a field and their physical meaning: physical = value * scale + offset.

    low/high bound the values (None: unbounded); `values` lists them when they are discrete (Ising
    spins: (-1.0, 1.0)). `scale` and `offset` are numbers, or the name of a per-item key holding them
    (radio traces are min-max scaled per trace). Images in [0, 1] are one case, not an assumption.
    """

    low: float | None = None
    high: float | None = None
    values: tuple[float, ...] | None = None
    unit: str = ""
    scale: float | str = 1.0
    offset: float | str = 0.0

    @property
    def bounded(self) -> bool:
        return self.low is not None and self.high is not None

    def span(self) -> tuple[float, float] | None:
        return (float(self.low), float(self.high)) if self.bounded else None

    def to_physical(self, x, item: Mapping[str, Any] | None = None):
        """Scaled values -> physical units; per-item scale/offset are read from `item` and broadcast
        over the trailing dimensions of x."""
        scale, offset = (self._lookup(v, x, item) for v in (self.scale, self.offset))
        return x * scale + offset

    @staticmethod
    def _lookup(v, x, item):
        if not isinstance(v, str):
            return v
        if item is None or v not in item:
            raise ContractError(f"to_physical needs the per-item {v!r} of these values")
        value = item[v]
        extra = x.ndim - getattr(value, "ndim", 0)
        return value.reshape(tuple(value.shape) + (1,) * extra) if extra > 0 else value


UNIT_INTERVAL = ValueRange(0.0, 1.0)


@dataclass(frozen=True)
class DataSpec:
    """What a data set provides: `domain` picks the workflow; `items` the tensors of one item;
    `info` the keys of its plain metadata; `ranges` the value range of fields where it matters."""

    domain: str
    items: dict[str, TensorSpec]
    info: frozenset[str] = frozenset()
    ranges: dict[str, ValueRange] = field(default_factory=dict)

    def describe(self) -> str:
        return ", ".join(f"{k} {s.describe()}" for k, s in self.items.items())


@dataclass(frozen=True)
class Requirements:
    """What a method needs: batch `items` (shape/dtype), `info` keys, and the `domains` it understands
    (None: any). A `ranges` entry names a field whose value range the method must know."""

    items: dict[str, TensorSpec] = field(default_factory=dict)
    info: frozenset[str] = frozenset()
    domains: frozenset[str] | None = None
    ranges: frozenset[str] = frozenset()


def check_fit(provided: DataSpec, required: Requirements, data_name: str = "the data set",
              method_name: str = "the method") -> None:
    """Raise ContractError (one line naming the key) unless `provided` satisfies `required`."""
    if required.domains is not None and provided.domain not in required.domains:
        raise ContractError(f"method {method_name} works on {' or '.join(sorted(required.domains))} data; "
                            f"data set {data_name} is {provided.domain} data")
    bindings: dict[str, int] = {}
    for key, need in required.items.items():
        have = provided.items.get(key)
        if have is None:
            raise ContractError(f"method {method_name} needs batch key {key!r} {need.describe()}, which data set "
                                f"{data_name} does not provide (it provides: {', '.join(provided.items) or 'nothing'})")
        problem = _mismatch(need, have, bindings)
        if problem:
            raise ContractError(f"method {method_name} needs batch key {key!r} {need.describe()}; data set "
                                f"{data_name} provides {have.describe()} ({problem})")
    missing = sorted(required.info - provided.info)
    if missing:
        raise ContractError(f"method {method_name} needs info key {missing[0]!r}, which data set {data_name} "
                            f"does not provide (its info: {', '.join(sorted(provided.info)) or 'nothing'})")
    for key in sorted(required.ranges):
        if key not in provided.ranges:
            raise ContractError(f"method {method_name} needs the value range of {key!r}, which data set {data_name} "
                                "does not declare")


def _mismatch(need: TensorSpec, have: TensorSpec, bindings: dict[str, int]) -> str:
    if need.dtype != have.dtype:
        return f"dtype {have.dtype}, expected {need.dtype}"
    if len(need.shape) != len(have.shape):
        return f"{len(have.shape)} dimensions, expected {len(need.shape)}"
    for n, h in zip(need.shape, have.shape):
        if isinstance(n, int) and isinstance(h, int) and n != h:
            return f"size {h} where {n} is needed"
        if isinstance(n, str) and isinstance(h, int):
            if bindings.setdefault(n, h) != h:
                return f"{n} = {h} here but {bindings[n]} elsewhere"
    return ""


def check_items(spec: DataSpec, item_batch: Mapping[str, Any], where: str = "batch") -> None:
    """Check a batch of items (tensors with a leading batch dimension) against `spec.items`:
    every declared key present, ranks, fixed sizes, named sizes consistent, dtypes. For tests and
    for users' own data sets."""
    bindings: dict[str, int] = {}
    for key, s in spec.items.items():
        if key not in item_batch:
            raise ContractError(f"{where}: missing key {key!r} {s.describe()}")
        t = item_batch[key]
        shape = tuple(t.shape[1:])
        if len(shape) != len(s.shape):
            raise ContractError(f"{where}: {key!r} has item shape {list(shape)}, declared {s.describe()}")
        for d, size in zip(s.shape, shape):
            if isinstance(d, int) and d != size:
                raise ContractError(f"{where}: {key!r} has item shape {list(shape)}, declared {s.describe()}")
            if isinstance(d, str) and bindings.setdefault(d, size) != size:
                raise ContractError(f"{where}: {key!r} gives {d} = {size}, elsewhere {bindings[d]}")
        kind = _kind(t.dtype)
        if kind != s.dtype:
            raise ContractError(f"{where}: {key!r} has dtype {t.dtype}, declared {s.dtype}")
        r = spec.ranges.get(key)
        if r is not None and t.numel():
            lo, hi = float(t.min()), float(t.max())
            tol = 1e-4 * max(1.0, abs(lo), abs(hi))
            if (r.low is not None and lo < r.low - tol) or (r.high is not None and hi > r.high + tol):
                raise ContractError(f"{where}: {key!r} has values in [{lo:.4g}, {hi:.4g}], declared "
                                    f"[{r.low}, {r.high}]")
            if not math.isfinite(lo) or not math.isfinite(hi):
                raise ContractError(f"{where}: {key!r} has non-finite values")


def _kind(dtype) -> str:
    name = str(dtype)
    if "bool" in name:
        return "bool"
    if "int" in name:
        return "int"
    return "float"
