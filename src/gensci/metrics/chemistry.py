"""QM9's chemistry beyond valences: what kind of molecules a model makes, measured as a chemist would with RDKit.

Every figure but the two stabilities is computed on the LARGEST FRAGMENT of each VALID molecule: the molecule is
built with its own bonds and formal charges (else with EDM's bonds inferred from distances, neutral), split into
fragments, and its largest fragment must sanitise in RDKit (MiDi's validity, gensci.metrics.bond_protocol); explicit
hydrogens are then folded in (Chem.RemoveHs). The denominator, the number of such fragments, is `chemistry_n`;
`chemistry_bonds` says which bonds were used. Fractions are shares of those molecules:
- heavy_atoms_counts: {heavy-atom count: molecules}; heavy_atoms_tv: total variation between its distribution and the
  reference's (0 = the same, 1 = no size in common);
- ring3_fraction ... ring6_fraction, ring7plus_fraction: the share of molecules with AT LEAST ONE ring of that size
  (7 or more for the last) in RDKit's symmetrized smallest set of smallest rings (Chem.GetSymmSSSR); a molecule with
  a 3- and a 5-ring counts in both, so they need not add up to 1;
- aromatic_fraction (an aromatic atom after RDKit's aromaticity perception: kekulé input counts too),
  triple_bond_fraction (a triple bond), charged_fraction (an atom with a formal charge, e.g. a zwitterion);
- group_<name>_fraction: molecules with at least one match of FUNCTIONAL_GROUPS[name] (SMARTS, source beside each);
- fcd_qm9: Fréchet ChemNet Distance (Preuer et al., J. Chem. Inf. Model. 58, 1736 (2018)) between the fragments'
  canonical SMILES and the reference's ChemNet statistics (QM9's test split; gensci.metrics.smiles for fcd-torch),
  None with fewer than two valid molecules. It grows as the sample shrinks: compare it at the same n.
Two figures are over ALL molecules (`n_molecules`), for molecules with their own bonds and explicit hydrogens only
(as the predicted-bond protocol's stability):
- molecule_stability_strict (atom_stability_strict pooled over atoms): every atom's bond orders add up exactly to
  its element's normal valence for its formal charge (gensci.chem.valences.STRICT_VALENCES: no hydrogen implied;
  MiDi's table, which molecule_stability_graph uses, also accepts neutral C with 3 bonds and N with 2);
- stable_and_connected: stable under MiDi's table (molecule_stability_graph) AND in one piece (connected_graph).
Everything is numpy + RDKit; fcd-torch is imported only for fcd_qm9.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from gensci.chem.molecule import Molecule, as_molecule
from gensci.chem.rdmol import molecule_to_rdkit
from gensci.chem.valences import STRICT_TABLE
from gensci.metrics.bond_protocol import stable_atoms

RING_SIZES = (3, 4, 5, 6)  # and 7 or more: ring7plus_fraction
# name -> (SMARTS, source). RDKit: the fr_* fragment descriptors of rdkit.Chem.Fragments, defined in
# rdkit/Data/FragmentDescriptors.csv (RDKit 2026.09.1). Daylight: "SMARTS Examples",
# daylight.com/dayhtml_tutorials/languages/smarts/smarts_examples.html, and the amine of "Writing SMARTS: Some
# Examples", daylight.com/meetings/summerschool98/course/basics/ref/smarts_examples.faq.html.
FUNCTIONAL_GROUPS = {
    "alcohol": ("[C!$(C=O)]-[OH]", "RDKit fr_Al_OH (aliphatic hydroxyl, not COOH)"),
    "ether": ("[OD2]([#6])[#6]", "RDKit fr_ether (ether oxygen; esters' and epoxides' too)"),
    "carbonyl": ("[CX3]=[OX1]", "Daylight, carbonyl group, low specificity"),
    "aldehyde": ("[CX3H1](=O)[#6]", "RDKit fr_aldehyde (Daylight's aldehyde)"),
    "ketone": ("[#6][CX3](=O)[#6]", "RDKit fr_ketone"),
    "amine": ("[N&X3;H2,H1;!$(NC=*)]", "Daylight, primary or secondary amine, not amide"),
    "amide": ("C(=O)-N", "RDKit fr_amide (any amide)"),
    "nitrile": ("[NX1]#[CX2]", "RDKit fr_nitrile"),
    "carboxylic_acid": ("[CX3](=O)[OX1H0-,OX2H1]", "RDKit fr_COO2 (acid or carboxylate)"),
    "ester": ("[#6][CX3](=O)[OX2H0][#6]", "RDKit fr_ester"),
    "epoxide": ("O1CC1", "RDKit fr_epoxide"),
}
FRACTIONS = (*(f"ring{k}_fraction" for k in RING_SIZES), "ring7plus_fraction", "aromatic_fraction",
             "triple_bond_fraction", "charged_fraction", *(f"group_{g}_fraction" for g in FUNCTIONAL_GROUPS))


@dataclass
class ChemistryReference:
    """What the chemistry of molecules is compared with: heavy-atom counts {count: molecules} of the reference's
    valid largest fragments, and optionally ChemNet's activation mean [512] and covariance [512, 512] of its
    SMILES (fcd_qm9)."""

    name: str
    heavy_atom_counts: dict[int, int]
    fcd_mu: np.ndarray | None = None
    fcd_sigma: np.ndarray | None = None

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Compact arrays for an npz: counts as int64, ChemNet's mean and the upper triangle of its (symmetric)
        covariance as float32 (half the bytes of the full matrix)."""
        sizes = sorted(self.heavy_atom_counts)
        out = {"heavy_atoms": np.array(sizes, np.int64),
               "heavy_atom_molecules": np.array([self.heavy_atom_counts[s] for s in sizes], np.int64)}
        if self.fcd_mu is not None:
            out |= {"fcd_mu": np.asarray(self.fcd_mu, np.float32),
                    "fcd_sigma_triu": np.asarray(self.fcd_sigma)[np.triu_indices(len(self.fcd_mu))].astype(np.float32)}
        return out

    @classmethod
    def from_arrays(cls, name: str, a) -> "ChemistryReference":
        counts = dict(zip(a["heavy_atoms"].tolist(), a["heavy_atom_molecules"].tolist()))
        mu = sigma = None
        if "fcd_mu" in a:
            mu = np.asarray(a["fcd_mu"], np.float64)
            sigma = np.zeros((len(mu), len(mu)))
            sigma[np.triu_indices(len(mu))] = a["fcd_sigma_triu"]
            sigma = sigma + np.triu(sigma, 1).T
        return cls(name, counts, mu, sigma)


@dataclass
class FragmentChemistry:
    """The chemistry of one valid molecule's largest fragment (hydrogens folded in)."""

    smiles: str
    heavy_atoms: int
    ring_sizes: frozenset[int]
    aromatic: bool
    triple_bond: bool
    charged: bool
    groups: frozenset[str]


def largest_fragment(molecule: Molecule, bonds=None) -> tuple[object | None, int]:
    """(the sanitised largest fragment as an RDKit Mol without explicit H, or None when it does not sanitise;
    the number of fragments) of a molecule built with `bonds` [N, N] codes, else its own bonds and charges, else
    EDM's bonds inferred from distances (no charges)."""
    from rdkit import Chem, rdBase

    mol = molecule_to_rdkit(molecule, bonds)
    fragments = Chem.GetMolFrags(mol, asMols=True, sanitizeFrags=False)
    if not fragments:
        return None, 0
    largest = Chem.Mol(max(fragments, key=lambda m: m.GetNumAtoms()))  # the first of the largest, as fragment_smiles
    try:
        with rdBase.BlockLogs():
            Chem.SanitizeMol(largest)
            largest = Chem.RemoveHs(largest)
    except ValueError:  # MolSanitizeException and its subclasses derive from ValueError
        return None, len(fragments)
    return largest, len(fragments)


@lru_cache(maxsize=1)
def _patterns() -> dict:
    from rdkit import Chem

    return {name: Chem.MolFromSmarts(smarts) for name, (smarts, _) in FUNCTIONAL_GROUPS.items()}


def describe(mol) -> FragmentChemistry:
    """The chemistry of a sanitised RDKit molecule (largest_fragment's)."""
    from rdkit import Chem

    return FragmentChemistry(
        smiles=Chem.MolToSmiles(mol, isomericSmiles=False), heavy_atoms=mol.GetNumHeavyAtoms(),
        ring_sizes=frozenset(len(r) for r in Chem.GetSymmSSSR(mol)),
        aromatic=any(a.GetIsAromatic() for a in mol.GetAtoms()),
        triple_bond=any(b.GetBondType() == Chem.BondType.TRIPLE for b in mol.GetBonds()),
        charged=any(a.GetFormalCharge() != 0 for a in mol.GetAtoms()),
        groups=frozenset(name for name, p in _patterns().items() if mol.HasSubstructMatch(p)))


def fragment_chemistry(molecules, bonds=None) -> tuple[list[FragmentChemistry | None], np.ndarray]:
    """(FragmentChemistry of each molecule's largest fragment, None where it does not sanitise; [M] number of
    fragments). bonds: [n, n] codes per molecule (default: own, else inferred from distances)."""
    mols = [as_molecule(m, k) for k, m in enumerate(molecules)]
    bonds = [None] * len(mols) if bonds is None else bonds
    out, n_fragments = [], []
    for m, b in zip(mols, bonds):
        frag, n = largest_fragment(m, b)
        out.append(None if frag is None else describe(frag))
        n_fragments.append(n)
    return out, np.array(n_fragments, dtype=np.int64)


def heavy_atoms_tv(counts: dict, reference: dict) -> float:
    """Total variation between two heavy-atom-count distributions ({count: molecules}): 0 the same, 1 disjoint."""
    p_total, q_total = sum(counts.values()), sum(reference.values())
    if not p_total or not q_total:
        return float("nan")
    sizes = {int(k) for k in counts} | {int(k) for k in reference}
    p = {int(k): v / p_total for k, v in counts.items()}
    q = {int(k): v / q_total for k, v in reference.items()}
    return 0.5 * sum(abs(p.get(s, 0.0) - q.get(s, 0.0)) for s in sizes)


def chemistry_figures(described: list[FragmentChemistry | None]) -> dict:
    """chemistry_n, heavy_atoms_counts and the fractions (module docstring) of described fragments (None: not
    valid, left out of every figure)."""
    valid = [d for d in described if d is not None]
    n = len(valid)
    share = (lambda hits: hits / n) if n else (lambda hits: None)
    counts: dict[int, int] = {}
    for d in valid:
        counts[d.heavy_atoms] = counts.get(d.heavy_atoms, 0) + 1
    out: dict = {"chemistry_n": n, "heavy_atoms_counts": {str(k): counts[k] for k in sorted(counts)}}
    for k in RING_SIZES:
        out[f"ring{k}_fraction"] = share(sum(k in d.ring_sizes for d in valid))
    out["ring7plus_fraction"] = share(sum(any(s >= 7 for s in d.ring_sizes) for d in valid))
    for name in ("aromatic", "triple_bond", "charged"):
        out[f"{name}_fraction"] = share(sum(getattr(d, name) for d in valid))
    for name in FUNCTIONAL_GROUPS:
        out[f"group_{name}_fraction"] = share(sum(name in d.groups for d in valid))
    return out


def strict_stability(molecules: list[Molecule], n_fragments: np.ndarray, aromatic_order: float = 1.5) -> dict:
    """molecule_stability_strict, atom_stability_strict, stable_and_connected and their counts (module docstring) of
    Molecules with their own bonds; n_fragments [M] from fragment_chemistry."""
    strict_atom, strict, mask = stable_atoms(molecules, aromatic_order, STRICT_TABLE)
    _, midi, _ = stable_atoms(molecules, aromatic_order)
    both = midi & (np.asarray(n_fragments) == 1)
    return {"molecule_stability_strict": float(strict.mean()), "atom_stability_strict": float(strict_atom.sum() / mask.sum()),
            "stable_and_connected": float(both.mean()), "n_stable_molecules_strict": int(strict.sum()),
            "n_stable_and_connected": int(both.sum())}


def evaluate_chemistry(molecules, reference: ChemistryReference | None = None, bonds=None,
                       stability: bool = False, fcd: bool = True, device: str = "cpu") -> dict:
    """Every figure of the module docstring of a list of molecules (Molecules, or what as_molecule takes).

    reference: heavy_atoms_tv against its heavy-atom counts, fcd_qm9 against its ChemNet statistics (with `fcd`);
    without it only the molecules' own figures. bonds: [n, n] codes per molecule when already inferred (EDM's
    protocol), else each molecule's own, else inferred. stability: also molecule_stability_strict and
    stable_and_connected (the molecules must carry their own bonds, with explicit hydrogens).
    """
    mols = [as_molecule(m, k) for k, m in enumerate(molecules)]
    if not mols:
        raise ValueError("no molecules to evaluate")
    described, n_fragments = fragment_chemistry(mols, bonds)
    own = bonds is None and all(m.bonds is not None for m in mols)
    out = {"chemistry_bonds": "own" if own else "inferred from distances (EDM)"} | chemistry_figures(described)
    if stability:
        if not own:
            raise ValueError("strict stability needs molecules with their own bonds")
        out |= strict_stability(mols, n_fragments)
    if reference is not None:
        out["heavy_atoms_tv"] = heavy_atoms_tv(out["heavy_atoms_counts"], reference.heavy_atom_counts) if (
            out["chemistry_n"]) else None
        if fcd and reference.fcd_mu is not None:
            smiles = [d.smiles for d in described if d is not None]
            out["fcd_qm9"] = fcd_against(smiles, reference, device) if len(smiles) >= 2 else None
    return out


def fcd_against(smiles: list[str], reference: ChemistryReference, device: str = "cpu") -> float:
    """Fréchet ChemNet Distance of SMILES to the reference's ChemNet statistics (fcd-torch's ChemNet)."""
    from gensci.metrics.smiles import fcd_statistics, frechet_distance

    mu, sigma = fcd_statistics(smiles, device)
    return frechet_distance(reference.fcd_mu, reference.fcd_sigma, mu, sigma)
