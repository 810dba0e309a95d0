"""Equivariance and padding checks for networks on padded point clouds, shipped to users (as e3nn ships
`assert_equivariant`).

A function under test maps (h [B, N, F], x [B, N, 3], node_mask [B, N]) -> (h_out [B, N, F'], x_out [B, N, 3])
and should satisfy, for any orthogonal Q (rotation or reflection), translation t and permutation P of the atoms:
    f(h, x Q^T + t, mask)  = (h_out, x_out Q^T + t)     ("equivariant" x_out; EGNN positions)
    f(h, x Q^T + t, mask)  = (h_out, x_out Q^T)         ("invariant" translation; e.g. predicted noise)
    f(P h, P x, P mask)    = (P h_out, P x_out)
Networks with edge features (bonds) pass `edges` [B, N, N, E]: fn is then called as fn(h, x, node_mask, edges)
and returns a third output e_out [B, N, N, E'], checked as invariant and permuted on both atom dimensions
(f(P h, P x, P mask, P e P^T) = (P h_out, P x_out, P e_out P^T)).
Only real atoms (and pairs of real atoms) are compared. Tolerances default to the dtype: float64 is checked
tightly, float32 loosely, relative to the outputs' scale.
"""

from __future__ import annotations

from typing import Callable, Literal

import torch
from torch import Tensor

from gensci.ops.rotations import random_orthogonal

TOLERANCES = {torch.float64: 1e-9, torch.float32: 2e-4, torch.bfloat16: 5e-2}

Fn = Callable[..., tuple[Tensor, ...]]


def _call(fn: Fn, h: Tensor, x: Tensor, node_mask: Tensor, edges: Tensor | None) -> tuple:
    """(h_out, x_out, e_out or None)."""
    if edges is None:
        h_out, x_out = fn(h, x, node_mask)
        return h_out, x_out, None
    return tuple(fn(h, x, node_mask, edges))


def _pair_mask(m: Tensor) -> Tensor:
    """[B, N, 1] -> [B, N, N, 1]: pairs of real atoms."""
    return m.unsqueeze(2) * m.unsqueeze(1)


def assert_equivariant(
    fn: Fn,
    h: Tensor,
    x: Tensor,
    node_mask: Tensor,
    *,
    trials: int = 2,
    rotations: bool = True,
    reflections: bool = True,
    translation: Literal["equivariant", "invariant", "none"] = "equivariant",
    permutations: bool = True,
    rtol: float | None = None,
    generator: torch.Generator | None = None,
    edges: Tensor | None = None,
) -> dict[str, float]:
    """Check E(3) and permutation equivariance of `fn` on one batch; returns the largest relative error per
    transformation, raises AssertionError naming the transformation that fails."""
    rtol = TOLERANCES.get(x.dtype, 1e-4) if rtol is None else rtol
    m = node_mask.unsqueeze(-1).to(x.dtype)
    mm = _pair_mask(m)
    h_out, x_out, e_out = _call(fn, h, x, node_mask, edges)
    errors: dict[str, float] = {}
    kinds = [k for k, on in (("rotation", rotations), ("reflection", reflections)) if on]
    for trial in range(trials):
        for kind in kinds:
            q = random_orthogonal(3, reflection=kind == "reflection", generator=generator, dtype=x.dtype).to(x.device)
            t = torch.randn(1, 1, 3, generator=generator, dtype=torch.float64).to(x) * 3
            t = 0.0 if translation == "none" else t
            h2, x2, e2 = _call(fn, h, (x @ q.T + t) * m, node_mask, edges)
            shift = t if translation == "equivariant" else 0.0
            name = f"{kind}{' + translation' if translation != 'none' else ''}"
            _record(errors, f"{name}: h_out invariant", h2, h_out, m, rtol)
            _record(errors, f"{name}: x_out equivariant", x2, (x_out @ q.T + shift) * m, m, rtol)
            if e_out is not None:
                _record(errors, f"{name}: e_out invariant", e2, e_out, mm, rtol)
        if permutations:
            perm = torch.randperm(x.shape[1], generator=generator).to(x.device)
            e_perm = edges[:, perm][:, :, perm] if edges is not None else None
            h3, x3, e3 = _call(fn, h[:, perm], x[:, perm], node_mask[:, perm], e_perm)
            _record(errors, "permutation: h_out", h3, h_out[:, perm], m[:, perm], rtol)
            _record(errors, "permutation: x_out", x3, x_out[:, perm], m[:, perm], rtol)
            if e_out is not None:
                _record(errors, "permutation: e_out", e3, e_out[:, perm][:, :, perm], mm[:, perm][:, :, perm], rtol)
    return errors


def assert_padding_invariant(fn: Fn, h: Tensor, x: Tensor, node_mask: Tensor, extra: int = 3,
                             rtol: float | None = None, generator: torch.Generator | None = None,
                             edges: Tensor | None = None) -> float:
    """Appending `extra` padding atoms with random features and positions (and random edge features on every
    pair that involves padding) changes no real atom's or real pair's output, and every padding atom's (pair's)
    output is exactly zero. Returns the largest relative change."""
    rtol = TOLERANCES.get(x.dtype, 1e-4) if rtol is None else rtol
    b, n = node_mask.shape
    m = node_mask.unsqueeze(-1).to(x.dtype)
    h_out, x_out, e_out = _call(fn, h, x, node_mask, edges)
    junk_h = torch.randn(b, extra, h.shape[-1], generator=generator, dtype=torch.float64).to(h)
    junk_x = torch.randn(b, extra, 3, generator=generator, dtype=torch.float64).to(x) * 10
    mask2 = torch.cat([node_mask, node_mask.new_zeros(b, extra)], 1)
    pad = (1 - m).bool().squeeze(-1)
    h_in, x_in = h.masked_fill(pad.unsqueeze(-1), 7.0), x.masked_fill(pad.unsqueeze(-1), -5.0)  # junk at padding too
    e2_in = None
    if edges is not None:
        real_pair = _pair_mask(mask2.unsqueeze(-1).bool())
        junk_e = torch.randn(b, n + extra, n + extra, edges.shape[-1], generator=generator, dtype=torch.float64)
        e2_in = torch.where(real_pair, torch.nn.functional.pad(edges, (0, 0, 0, extra, 0, extra)), junk_e.to(edges))
    h2, x2, e2 = _call(fn, torch.cat([h_in, junk_h], 1), torch.cat([x_in, junk_x], 1), mask2, e2_in)
    errors: dict[str, float] = {}
    _record(errors, "padding: h_out of real atoms", h2[:, :n], h_out, m, rtol)
    _record(errors, "padding: x_out of real atoms", x2[:, :n], x_out, m, rtol)
    pad2 = ~mask2.bool()
    outputs = [("h_out", h2, pad2), ("x_out", x2, pad2)]
    if e_out is not None:
        _record(errors, "padding: e_out of real pairs", e2[:, :n, :n], e_out, _pair_mask(m), rtol)
        outputs.append(("e_out", e2, pad2.unsqueeze(2) | pad2.unsqueeze(1)))
    for name, out, where in outputs:
        leaked = out[where].abs().max().item() if where.any() else 0.0
        if leaked != 0.0:
            raise AssertionError(f"padding: {name} of padding atoms is {leaked:.3g}, expected exactly 0")
    return max(errors.values())


def _record(errors: dict, name: str, got: Tensor, want: Tensor, m: Tensor, rtol: float) -> None:
    scale = max(1.0, (want * m).abs().max().item())
    err = ((got - want) * m).abs().max().item() / scale
    errors[name] = max(errors.get(name, 0.0), err)
    if not err <= rtol:
        raise AssertionError(f"{name}: relative error {err:.3g} exceeds {rtol:.3g} ({got.dtype})")
