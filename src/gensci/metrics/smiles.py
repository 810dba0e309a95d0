"""The MOSES metrics for generated SMILES (Polykovskiy et al., "Molecular Sets (MOSES)", Front. Pharmacol. 11,
565644 (2020), Sec. 3), following the reference code in molsets 0.3.1, moses/metrics/metrics.py and utils.py:

- validity: fraction of the strings RDKit parses and sanitises (empty strings are invalid);
- unique_at_k: distinct canonical SMILES among the first k valid ones / their number (computed on fewer when
  fewer are valid, as MOSES does with a warning; `unique_at_k_n` says on how many);
- novelty: distinct valid canonical SMILES not in the training set / distinct valid;
- int_div (p = 1) and int_div2 (p = 2): 1 - mean_j (mean_i T(i, j)^p)^(1/p) over all ordered pairs of valid
  molecules (self pairs included), T the Tanimoto similarity of Morgan fingerprints (radius 2, 1024 bits);
- filters: fraction of valid molecules without rings of 8+ atoms, charges, atoms outside C N S O F Cl Br H, and
  matches of MOSES' MCF and PAINS SMARTS (the SMARTS are given by the caller: molsets ships them);
- snn: mean over valid generated molecules of the largest Tanimoto similarity to a reference molecule;
- frag / scaf: cosine similarity of BRICS-fragment / Bemis-Murcko-scaffold (>= 2 rings) count vectors;
- fcd: Frechet ChemNet Distance (Preuer et al. 2018) with the `fcd_torch` package, whose ChemNet weights come in
  its wheel (nothing is downloaded);
- logp_w1, qed_w1, sa_w1, weight_w1: Wasserstein-1 distance between the property values of the valid generated
  molecules and of the reference (scipy.stats.wasserstein_distance).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from rdkit import Chem
from rdkit.Chem import AllChem, rdFingerprintGenerator
from rdkit.Chem.Scaffolds import MurckoScaffold
from scipy.stats import wasserstein_distance

from gensci.chem.properties import PROPERTY_NAMES, canonical_smiles, mol_from_smiles, properties
from gensci.progress import Progress

FILTER_ATOMS = frozenset({"C", "N", "S", "O", "F", "Cl", "Br", "H"})  # moses/metrics/utils.py mol_passes_filters


@dataclass
class ReferenceStats:
    """What the metrics need of the reference molecules: ChemNet activation mean [512] and covariance [512, 512],
    Morgan fingerprints [M, 1024] uint8, fragment and scaffold counts, and property values per PROPERTY_NAMES."""

    fcd_mu: np.ndarray | None
    fcd_sigma: np.ndarray | None
    fingerprints: np.ndarray
    fragments: Counter
    scaffolds: Counter
    properties: dict[str, np.ndarray] = field(default_factory=dict)

    def as_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays (for an npz cache; no pickling)."""
        out = {"fingerprints": self.fingerprints}
        if self.fcd_mu is not None:
            out |= {"fcd_mu": self.fcd_mu, "fcd_sigma": self.fcd_sigma}
        for name, counts in (("fragments", self.fragments), ("scaffolds", self.scaffolds)):
            out[f"{name}_keys"] = np.array(list(counts), dtype=str)
            out[f"{name}_counts"] = np.array(list(counts.values()), dtype=np.int64)
        return out | {f"property_{k}": np.asarray(v, dtype=np.float64) for k, v in self.properties.items()}

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> "ReferenceStats":
        counts = {n: Counter(dict(zip(a[f"{n}_keys"].tolist(), a[f"{n}_counts"].tolist()))) for n in ("fragments", "scaffolds")}
        props = {k[len("property_"):]: v for k, v in a.items() if k.startswith("property_")}
        return cls(a.get("fcd_mu"), a.get("fcd_sigma"), a["fingerprints"], counts["fragments"], counts["scaffolds"], props)


def reference_statistics(smiles: list[str], fcd: bool = True, device: str = "cpu") -> ReferenceStats:
    """ReferenceStats of valid reference SMILES (invalid ones are left out). A progress line every 10 s off a
    terminal: a test split of 10,000 molecules takes a minute or more."""
    with Progress(f"reference statistics of {len(smiles)} SMILES:", 6, unit="parts", stages=True) as progress:
        mols = [m for m in map(mol_from_smiles, smiles) if m is not None]
        progress.advance()
        mu = sigma = None
        if fcd:
            mu, sigma = fcd_statistics([Chem.MolToSmiles(m) for m in mols], device)
        progress.advance()
        values = [properties(m) for m in mols]
        progress.advance()
        parts = []
        for make in (fingerprints, fragment_counts, scaffold_counts):
            parts.append(make(mols))
            progress.advance()
    return ReferenceStats(mu, sigma, *parts, {k: np.array([v[k] for v in values]) for k in PROPERTY_NAMES})


def canonical_set(smiles: list[str], chunk: int = 10_000) -> set[str]:
    """RDKit canonical forms of the valid SMILES, as a set (the training set novelty compares with; MOSES' 1.6 M
    take ~10 minutes of one core, shown by a progress display)."""
    out: set[str] = set()
    with Progress("canonical SMILES of the training set:", len(smiles), unit="SMILES") as progress:
        for start in range(0, len(smiles), chunk):
            part = smiles[start : start + chunk]
            out.update(c for c in map(canonical_smiles, part) if c is not None)
            progress.advance(len(part))
    return out


def smiles_metrics(generated: list[str], reference: ReferenceStats, train: set[str] | None = None,
                   ks: tuple[int, ...] = (1000, 10000), filter_smarts: list[str] | None = None, fcd: bool = True,
                   device: str = "cpu") -> dict[str, float | int | None]:
    """The MOSES metrics (module docstring) of `generated` SMILES against `reference`; novelty against `train`
    (canonical SMILES; None: not measured), filters with `filter_smarts` (None: not measured)."""
    n = len(generated)
    mols = [m for m in map(mol_from_smiles, generated) if m is not None]
    canonical = [Chem.MolToSmiles(m) for m in mols]
    out: dict[str, float | int | None] = {"n_generated": n, "n_valid": len(mols), "validity": len(mols) / max(n, 1)}
    if not mols:
        return out
    for k in ks:
        first = canonical[:k]
        out[f"unique_at_{k}"], out[f"unique_at_{k}_n"] = len(set(first)) / len(first), len(first)
    if train is not None:
        distinct = set(canonical)
        out["novelty"], out["n_distinct"] = len(distinct - train) / len(distinct), len(distinct)
    fps = fingerprints(mols)
    out["int_div"] = internal_diversity(fps, 1)
    out["int_div2"] = internal_diversity(fps, 2)
    if filter_smarts is not None:
        patterns = [Chem.MolFromSmarts(s) for s in filter_smarts]
        out["filters"] = float(np.mean([passes_filters(m, patterns) for m in mols]))
    out["snn"] = float(max_tanimoto(reference.fingerprints, fps).mean())
    out["frag"] = cosine_similarity(reference.fragments, fragment_counts(mols))
    out["scaf"] = cosine_similarity(reference.scaffolds, scaffold_counts(mols))
    if fcd and reference.fcd_mu is not None and len(canonical) >= 2:  # a covariance needs two molecules
        out["fcd"] = fcd_distance(canonical, reference, device)
    values = [properties(m) for m in mols]
    for name in PROPERTY_NAMES:
        if name in reference.properties:
            out[f"{name}_w1"] = float(wasserstein_distance(reference.properties[name], [v[name] for v in values]))
    return out


# -- the pieces ------------------------------------------------------------------------------------
def fingerprints(mols) -> np.ndarray:
    """Morgan fingerprints, radius 2, 1024 bits: [M, 1024] uint8 (MOSES: GetMorganFingerprintAsBitVect(mol, 2,
    nBits=1024); RDKit's generator gives the same bits)."""
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    if not mols:
        return np.zeros((0, 1024), dtype=np.uint8)
    return np.stack([gen.GetFingerprintAsNumPy(m).astype(np.uint8) for m in mols])


def tanimoto(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Tanimoto similarities [A, B] of bit fingerprints a [A, D], b [B, D] (two empty fingerprints: 1, as MOSES)."""
    a, b = a.astype(np.float32), b.astype(np.float32)
    both = a @ b.T
    union = a.sum(1)[:, None] + b.sum(1)[None, :] - both
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, both / np.where(union > 0, union, 1), 1.0)


def max_tanimoto(reference: np.ndarray, fps: np.ndarray, chunk: int = 5000) -> np.ndarray:
    """[B]: for each fingerprint in fps [B, D], the largest Tanimoto similarity to a row of reference [M, D]."""
    best = np.zeros(len(fps))
    for start in range(0, len(reference), chunk):
        best = np.maximum(best, tanimoto(reference[start : start + chunk], fps).max(0))
    return best


def internal_diversity(fps: np.ndarray, p: int = 1) -> float:
    """1 - mean_j (mean_i T(i, j)^p)^(1/p) over all ordered pairs of fps [M, D] (moses internal_diversity)."""
    t = tanimoto(fps, fps) ** p
    return float(1 - (t.mean(0) ** (1 / p)).mean())


def fragment_counts(mols) -> Counter:
    """BRICS fragments (canonical SMILES with dummy atoms) counted over molecules (moses compute_fragments)."""
    counts: Counter = Counter()
    for m in mols:
        counts.update(Chem.MolToSmiles(AllChem.FragmentOnBRICSBonds(m)).split("."))
    return counts


def scaffold_counts(mols, min_rings: int = 2) -> Counter:
    """Bemis-Murcko scaffolds with at least `min_rings` rings, counted (moses compute_scaffolds, min_rings=2)."""
    counts: Counter = Counter()
    for m in mols:
        try:
            scaffold = MurckoScaffold.GetScaffoldForMol(m)
        except (ValueError, RuntimeError):
            continue
        smiles = Chem.MolToSmiles(scaffold)
        if smiles and scaffold.GetRingInfo().NumRings() >= min_rings:
            counts[smiles] += 1
    return counts


def cosine_similarity(a: Counter, b: Counter) -> float:
    """Cosine similarity of two count vectors over the union of their keys; NaN when either is empty (MOSES)."""
    if not a or not b:
        return float("nan")
    keys = set(a) | set(b)
    u = np.array([a.get(k, 0) for k in keys], dtype=np.float64)
    v = np.array([b.get(k, 0) for k in keys], dtype=np.float64)
    return float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))


def passes_filters(mol, patterns) -> bool:
    """MOSES' medicinal-chemistry filters (moses/metrics/utils.py mol_passes_filters)."""
    rings = mol.GetRingInfo()
    if any(len(r) >= 8 for r in rings.AtomRings()):
        return False
    if any(a.GetFormalCharge() != 0 for a in mol.GetAtoms()):
        return False
    if any(a.GetSymbol() not in FILTER_ATOMS for a in mol.GetAtoms()):
        return False
    with_h = Chem.AddHs(mol)
    if any(p is not None and with_h.HasSubstructMatch(p) for p in patterns):
        return False
    smiles = Chem.MolToSmiles(mol, isomericSmiles=False)
    return bool(smiles) and Chem.MolFromSmiles(smiles) is not None


@lru_cache(maxsize=2)
def _chemnet(device: str):
    from fcd_torch import FCD  # ChemNet_v0.13_pretrained.pt ships inside the fcd_torch wheel

    return FCD(device=device, n_jobs=1, batch_size=512)


def chemnet_activations(smiles: list[str], device: str = "cpu") -> np.ndarray:
    """ChemNet's penultimate activations [M, 512] (fcd_torch)."""
    return _chemnet(device).get_predictions(smiles)


def fcd_statistics(smiles: list[str], device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """(mean [512], covariance [512, 512]) of ChemNet activations, as fcd_torch's FCD.precalc."""
    act = chemnet_activations(smiles, device)
    return act.mean(0), np.cov(act.T)


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    from fcd_torch.utils import calculate_frechet_distance

    return float(calculate_frechet_distance(mu1, sigma1, mu2, sigma2))


def fcd_distance(smiles: list[str], reference: ReferenceStats, device: str = "cpu") -> float:
    mu, sigma = fcd_statistics(smiles, device)
    return frechet_distance(reference.fcd_mu, reference.fcd_sigma, mu, sigma)
