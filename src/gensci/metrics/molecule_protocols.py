"""Both stability protocols side by side, on whatever a set of molecules carries.

- "edm" (gensci.metrics.molecules): bonds inferred from distances, EDM's valences; needs 3D positions.
  Keys: atom_stability, molecule_stability, validity, uniqueness, novelty, novelty_largest_fragment,
  validity_x_uniqueness, connected.
- "graph" (gensci.metrics.bond_protocol): the molecules' own bonds and formal charges, MiDi's valences; needs
  bonds. Keys: the same names ending in `_graph`. Stability needs explicit hydrogens: without them only
  validity, uniqueness, novelty and connectedness are computed (as MiDi on QM9 without H).
- "distributions" (gensci.metrics.distributions): elements and sizes always; bond lengths and angles when
  the molecules have positions, with their own bonds when they have them and the reference has
  distributions made with its own bonds too, else EDM's inferred bonds on both sides.
- chemistry (gensci.metrics.chemistry), unless chemistry=False: RDKit on the largest fragment of the valid
  molecules (own bonds, else EDM's inferred ones): heavy-atom counts, ring sizes, aromatic / triple-bond /
  charged fractions, functional groups; heavy_atoms_tv and fcd_qm9 against the reference's chemistry part;
  strict-valence stability and stable_and_connected where the predicted-bond stability applies.
The result says which ran (`protocols`) and why the others did not (`protocols_skipped`); the chemistry is no
protocol of its own (its keys, `chemistry_n` first, are there whenever it ran).
"""

from __future__ import annotations

from dataclasses import dataclass

from gensci.chem.molecule import Molecule, as_molecule
from gensci.metrics.chemistry import ChemistryReference, evaluate_chemistry
from gensci.metrics.distributions import MoleculeStats, distribution_distances, molecule_stats
from gensci.metrics.bond_protocol import evaluate_graphs
from gensci.metrics.molecules import SmilesReference, analyse, evaluate_molecules
from gensci.progress import Progress


@dataclass
class MoleculeReference:
    """What generated molecules are compared with; every part optional. smiles: EDM's pipeline (novelty);
    graph_smiles: SMILES of the reference's own bonds (novelty_graph); stats_inferred / stats_own:
    distributions with EDM's inferred bonds / the reference's own bonds; chemistry: heavy-atom counts and ChemNet
    statistics (heavy_atoms_tv, fcd_qm9)."""

    name: str = ""
    smiles: SmilesReference | None = None
    graph_smiles: frozenset[str] | None = None
    stats_inferred: MoleculeStats | None = None
    stats_own: MoleculeStats | None = None
    chemistry: ChemistryReference | None = None


@dataclass(frozen=True)
class Carried:
    """What the molecules carry, which decides the protocols: 3D positions, own bonds, explicit hydrogens."""

    positions: bool
    bonds: bool
    explicit_h: bool

    @classmethod
    def of(cls, molecules: list[Molecule]) -> "Carried":
        return cls(all(m.positions is not None for m in molecules), all(m.bonds is not None for m in molecules),
                   any("H" in m.atom_types for m in molecules))

    def protocols(self) -> tuple[list[str], dict[str, str]]:
        """(protocols that apply, {protocol: why not} for the others)."""
        ran, skipped = [], {}
        if self.positions:
            ran.append("edm")
        else:
            skipped["edm"] = "the molecules have no 3D positions (EDM's protocol infers bonds from distances)"
        if self.bonds:
            ran.append("graph")
            if not self.explicit_h:
                skipped["graph stability"] = "no explicit hydrogens (MiDi reports stability only with H)"
        else:
            skipped["graph"] = "the molecules carry no bonds of their own"
        return ran + ["distributions"], skipped


def evaluate_protocols(molecules, reference: MoleculeReference | None = None, carried: Carried | None = None,
                       edm_smiles=None, chemistry: bool = True) -> dict:
    """Every protocol that applies (module docstring) on a list of molecules, with novelty, distributions and
    chemistry against `reference`. carried: what the molecules hold (default: read from them; a workflow passes
    what the method's sample_spec declares). edm_smiles: EDM's SMILES pairs per molecule if known.
    chemistry=False leaves gensci.metrics.chemistry out."""
    mols = [as_molecule(m, k) for k, m in enumerate(molecules)]
    if not mols:
        raise ValueError("no molecules to evaluate")
    carried = carried or Carried.of(mols)
    reference = reference or MoleculeReference()
    ran, skipped = carried.protocols()
    out: dict = {}
    analysis = None
    own = carried.bonds and reference.stats_own is not None
    ref_stats = reference.stats_own if own else reference.stats_inferred
    # one line every 10 s off a terminal while a pass runs (QM9's 100,000 molecules take minutes)
    with Progress(f"measuring {len(mols)} molecules:", len(ran) - (ref_stats is None) + chemistry,
                  unit="protocols", stages=True) as progress:
        if "edm" in ran:
            analysis = analyse(mols)
            out |= evaluate_molecules(mols, reference.smiles, edm_smiles, analysis)
            progress.advance()
        if "graph" in ran:
            out |= evaluate_graphs(mols, reference.graph_smiles, stability=carried.explicit_h)
            progress.advance()
        if ref_stats is not None:
            bonds = None if own or analysis is None else analysis.bonds
            out |= distribution_distances(molecule_stats(mols, bonds), ref_stats, geometry=carried.positions)
            progress.advance()
        if chemistry:  # on the bonds the protocols scored: own, else EDM's inferred ones
            bonds = None if carried.bonds or analysis is None else analysis.bonds
            out |= evaluate_chemistry(mols, reference.chemistry, bonds, stability=carried.bonds and carried.explicit_h)
            progress.advance()
    if ref_stats is not None:
        if carried.positions:
            out["distributions_bonds"] = "own" if own else "inferred from distances (EDM)"
    else:
        ran.remove("distributions")
        skipped["distributions"] = "no reference distributions"
    return out | {"protocols": ran, "protocols_skipped": skipped, "reference": reference.name or None}
