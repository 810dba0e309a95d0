"""A method that "samples" fixed molecules with their own bonds and formal charges, for testing molecule
workflows without training: the shape of a bond-predicting 3D model (positions + bonds + charges, e.g.
MiDi) or, with `positions: false`, of a 2D graph model (e.g. DiGress).

`register_fixed_molecules()` adds it to the method registry as "fixed-molecules" (tests register it
only while they need it). Samples cycle through `smiles`; 3D positions come from RDKit's ETKDG (seeded).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from gensci.config import MethodConfig
from gensci.methods.base import Method, SamplingOptions
from gensci.spec import Requirements, TensorSpec


class FixedMoleculesConfig(MethodConfig):
    name: Literal["fixed-molecules"] = "fixed-molecules"
    smiles: list[str] = ["[NH3+]CC([O-])=O", "CC(=O)O", "C#N", "OC=O"]
    positions: bool = True  # False: 2D graphs (no positions in the samples)
    explicit_h: bool = True  # False: heavy atoms only (hydrogens implicit)
    chain_frames: int = 4  # at most this many chain frames (drawing a hundred takes seconds)


class FixedMolecules(Method):
    """Returns the molecules of config.smiles in turn (Kekulé bonds 0-3, formal charges as values), padded to
    info["max_n_atoms"]: atom_types [B, N] (index into info["atom_types"], -1 on padding), formal_charges
    [B, N], bonds [B, N, N], node_mask [B, N], and with `positions` positions [B, N, 3] (Angstrom)."""

    Config = FixedMoleculesConfig
    capabilities = frozenset({"sample", "chain"})

    @classmethod
    def requires(cls, config: FixedMoleculesConfig) -> Requirements:
        return Requirements(info=frozenset({"atom_types", "max_n_atoms"}), domains=frozenset({"molecules"}))

    @classmethod
    def sample_spec(cls, config: FixedMoleculesConfig, info: dict[str, Any]) -> dict[str, TensorSpec]:
        n = int(info["max_n_atoms"])
        spec = {"atom_types": TensorSpec((n,), "int"), "formal_charges": TensorSpec((n,), "int"),
                "bonds": TensorSpec((n, n), "int"), "node_mask": TensorSpec((n,))}
        return spec | ({"positions": TensorSpec((n, 3), "float", "Angstrom")} if config.positions else {})

    def __init__(self, config: FixedMoleculesConfig, info: dict[str, Any]):
        super().__init__(config, info)
        self.anchor = nn.Parameter(torch.zeros(()))  # a parameter, so the method has a device
        self.molecules = [_arrays(s, info, config) for s in config.smiles]

    def train_step(self, batch, step, opt):
        return {"loss": opt.step((self.anchor - 1.0) ** 2)}

    def sample_batch(self, n: int, condition, generator, options: SamplingOptions) -> dict[str, Tensor]:
        picks = [self.molecules[k % len(self.molecules)] for k in range(n)]
        return {key: torch.stack([p[key] for p in picks]).to(self.anchor.device) for key in picks[0]}

    def chain(self, n_frames: int = 100, generator=None, options: SamplingOptions | None = None) -> dict[str, Tensor]:
        """The first molecule, its positions spread by 1 + 2t from t = 1 to 0 and its bonds only from t < 0.5;
        min(n_frames, config.chain_frames) frames."""
        final = self.sample_batch(1, None, generator, options or SamplingOptions())
        n_frames = min(n_frames, self.config.chain_frames)
        t = torch.linspace(1.0, 0.0, n_frames)
        out = {k: v.repeat(n_frames, *([1] * (v.dim() - 1))) for k, v in final.items()}
        out["bonds"] = out["bonds"] * (t < 0.5).view(-1, 1, 1).to(out["bonds"])
        if "positions" in out:
            out["positions"] = out["positions"] * (1 + 2 * t).view(-1, 1, 1).to(out["positions"])
        return out | {"t": t}


def _arrays(smiles: str, info: dict[str, Any], config: FixedMoleculesConfig) -> dict[str, Tensor]:
    from rdkit import Chem
    from rdkit.Chem import AllChem

    from gensci.chem.rdmol import graph_from_mol

    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    AllChem.EmbedMolecule(mol, randomSeed=0)
    if not config.explicit_h:
        mol = Chem.RemoveHs(mol)
    Chem.Kekulize(mol, clearAromaticFlags=True)
    symbols, bonds, charges = graph_from_mol(mol)
    n, width = len(symbols), int(info["max_n_atoms"])
    out = {"atom_types": np.full(width, -1), "formal_charges": np.zeros(width, np.int64),
           "bonds": np.zeros((width, width), np.int64), "node_mask": np.zeros(width, np.float32)}
    out["atom_types"][:n] = [list(info["atom_types"]).index(s) for s in symbols]
    out["formal_charges"][:n], out["bonds"][:n, :n], out["node_mask"][:n] = charges, bonds, 1.0
    if config.positions:
        out["positions"] = np.zeros((width, 3), np.float32)
        out["positions"][:n] = mol.GetConformer().GetPositions()
    return {k: torch.from_numpy(np.asarray(v)) for k, v in out.items()}


def register_fixed_molecules() -> None:
    from gensci.registry import METHODS

    METHODS.register("fixed-molecules", "gensci.testing.fixed_molecules:FixedMolecules",
                     "fixed molecules with bonds and charges (tests)")
