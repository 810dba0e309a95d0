"""What a molecule method's samples hold and how they are kept: the parts the molecule workflow and the conditional
protocol (gensci.workflows.conditional) share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gensci.files import atomic_write
from gensci.methods.base import Method
from gensci.metrics.molecule_protocols import Carried


def carried_by(method: Method, info: dict[str, Any]) -> Carried:
    """What the method's samples hold, from its sample_spec keys: 3D positions, bonds; explicit H from the
    data's elements."""
    spec = type(method).sample_spec(method.config, info)
    return Carried(positions="positions" in spec, bonds="bonds" in spec, explicit_h="H" in info["atom_types"])


def condition_fields(method: Method, samples: dict) -> list[dict[str, float]] | None:
    """One SDF data field per property a sample was conditioned on (its requested value; marginalised ones left out);
    None for samples without conditions."""
    values = samples.get("conditions")
    if values is None:
        return None
    names = method.conditions.names
    return [{name: float(v) for name, v in zip(names, row.tolist()) if v == v} for row in values.cpu()]


PADDED_KEYS = ("positions", "atom_types", "node_mask", "formal_charges", "bonds")


def save_padded(path: Path, samples: dict) -> Path:
    """The padded samples (positions, atom types, mask, charges, bonds: what molecules_from_padded reads) as an npz,
    losslessly: the report draws the evaluated molecules' distributions from it."""
    arrays = {k: v.detach().cpu().numpy() for k, v in samples.items() if k in PADDED_KEYS}
    return atomic_write(path, lambda tmp: np.savez_compressed(tmp, **arrays))
