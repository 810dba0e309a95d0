"""Bond orders and formal charges of a 3D molecule whose SMILES is known (QM9: xyz + GDB SMILES).

Why this way. The graph must come from the 3D structure (it is the structure the models see) and
the bond orders and charges from the SMILES (a geometry does not fix resonance structures and
charges uniquely; the SMILES does). So:
1. connectivity from the geometry: RDKit `rdDetermineBonds.DetermineConnectivity` (covalent radii,
   factor 1.3). In strained cages (bicyclo[1.1.1]pentanes, bicyclobutanes, ~5 % of QM9) it also bonds
   non-bonded bridgehead pairs; when its bond count differs from the SMILES's, we keep instead the
   SMILES's number of atom pairs closest in units of the sum of covalent radii (d_ij / (r_i + r_j)).
2. bond orders and formal charges: `AllChem.AssignBondOrdersFromTemplate(template, mol)` with the
   SMILES plus explicit hydrogens as template: a substructure match between two graphs with the same
   atom and bond counts is an isomorphism, so it succeeds only when the 3D graph is the SMILES's graph;
   it copies bond orders and formal charges (zwitterions such as [NH3+]CC([O-])=O keep their charges).
3. `Chem.Kekulize(clearAromaticFlags=True)`: bonds 1/2/3 only. MiDi trains on Kekulé bonds read from
   gdb9.sdf (`SDMolSupplier(..., sanitize=False)` in midi/datasets/qm9_dataset.py, cvignac/MiDi@775b731),
   and a model then predicts 4 bond classes (none, single, double, triple) instead of 5.
4. check: the canonical SMILES (no stereo) of the result equals that of the given SMILES.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Failure reasons (the order is part of the cache format: a code is 2 + the index here).
FAILURES = (
    "the SMILES does not parse",
    "atom counts of the SMILES (with hydrogens) and the 3D structure differ",
    "the 3D connectivity does not match the SMILES's graph",
    "the molecule with the assigned bonds does not give back the SMILES",
)
ROUTES = ("connectivity", "closest-pairs")  # codes 0 and 1: how the 3D graph was found (step 1)


@dataclass(frozen=True)
class Perception:
    """bonds [N, N] int8 codes 0-3 (symmetric, zero diagonal) and formal_charges [N] int8 in the input's
    atom order, and `route` (ROUTES); or `failure` (one of FAILURES) with the arrays None."""

    bonds: np.ndarray | None = None
    formal_charges: np.ndarray | None = None
    route: str | None = None
    failure: str | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def code(self) -> int:
        """0/1: success by route; 2 + k: FAILURES[k]."""
        return ROUTES.index(self.route) if self.ok else 2 + FAILURES.index(self.failure)


def perceive_bonds(atomic_numbers, positions, smiles: str) -> Perception:
    """Bonds and formal charges of a 3D molecule given its SMILES (see the module docstring).

    atomic_numbers: [N] int (hydrogens explicit); positions: [N, 3] Angstrom; smiles: the molecule's SMILES.
    """
    from rdkit import Chem, rdBase
    from rdkit.Chem import AllChem, rdDetermineBonds

    from gensci.chem.rdmol import build_mol, canonical_smiles, graph_from_mol, normalise_smiles

    z = np.asarray(atomic_numbers, dtype=np.int64)
    pos = np.asarray(positions, dtype=np.float64)
    with rdBase.BlockLogs():
        parsed = Chem.MolFromSmiles(smiles)
    if parsed is None:
        return Perception(failure=FAILURES[0])
    template = Chem.AddHs(parsed)
    if template.GetNumAtoms() != len(z):
        return Perception(failure=FAILURES[1])
    mol = build_mol(z.tolist(), np.zeros((len(z), len(z)), dtype=np.int64), positions=pos)
    rdDetermineBonds.DetermineConnectivity(mol)
    route = ROUTES[0]
    if mol.GetNumBonds() != template.GetNumBonds():
        route = ROUTES[1]
        mol = build_mol(z.tolist(), closest_pairs(z, pos, template.GetNumBonds()), positions=pos)
    try:
        with rdBase.BlockLogs():  # "More than one matching pattern found" for symmetric molecules
            assigned = AllChem.AssignBondOrdersFromTemplate(template, mol)
            Chem.Kekulize(assigned, clearAromaticFlags=True)
    except ValueError:  # "No matching found", or a sanitisation error of the result
        return Perception(failure=FAILURES[2])
    if canonical_smiles(assigned) != normalise_smiles(smiles):
        return Perception(failure=FAILURES[3])
    _, bonds, charges = graph_from_mol(assigned)
    return Perception(bonds, charges, route)


def closest_pairs(atomic_numbers, positions, n_bonds: int) -> np.ndarray:
    """[N, N] int64 adjacency (0/1) of the n_bonds atom pairs with the smallest d_ij / (r_i + r_j),
    r = RDKit's covalent radii (the radii DetermineConnectivity uses)."""
    from rdkit import Chem

    table = Chem.GetPeriodicTable()
    radii = np.array([table.GetRcovalent(int(a)) for a in atomic_numbers])
    pos = np.asarray(positions, dtype=np.float64)
    ratio = np.linalg.norm(pos[:, None] - pos[None], axis=-1) / (radii[:, None] + radii[None])
    i, j = np.triu_indices(len(radii), 1)
    keep = np.argsort(ratio[i, j], kind="stable")[:n_bonds]
    adjacency = np.zeros((len(radii),) * 2, dtype=np.int64)
    adjacency[i[keep], j[keep]] = adjacency[j[keep], i[keep]] = 1
    return adjacency
