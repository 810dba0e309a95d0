"""Molecular properties from RDKit, as the MOSES benchmark computes them (Polykovskiy et al., Front. Pharmacol.
11, 565644 (2020); molsets 0.3.1, moses/metrics/utils.py: logP, SA, QED, weight; get_mol in moses/utils.py).

- logp: Wildman-Crippen logP (rdkit.Chem.Crippen.MolLogP);
- qed: quantitative estimate of drug-likeness (Bickerton et al. 2012; rdkit.Chem.QED.qed);
- sa: synthetic accessibility score (Ertl & Schuffenhauer 2009), 1 (easy) .. 10 (hard), from the sascorer
  that RDKit ships in its Contrib directory (RDConfig.RDContribDir/SA_Score; MOSES ships a copy of the same file);
- weight: average molecular weight in g/mol (rdkit.Chem.Descriptors.MolWt).
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

from rdkit import Chem, RDLogger
from rdkit.Chem import Crippen, Descriptors, QED

from gensci.errors import UserError

PROPERTY_NAMES = ("logp", "qed", "sa", "weight")
HIGHER_IS_BETTER = {"logp": True, "qed": True, "sa": False, "weight": True}  # sa: lower = easier to make


def mol_from_smiles(smiles: str):
    """An RDKit molecule, or None for an empty or unparsable string (MOSES' get_mol: parse, then sanitise)."""
    if not smiles:
        return None
    RDLogger.DisableLog("rdApp.*")
    try:
        mol = Chem.MolFromSmiles(smiles)
        if mol is None:
            return None
        Chem.SanitizeMol(mol)
        return mol
    except ValueError:
        return None
    finally:
        RDLogger.EnableLog("rdApp.*")


def canonical_smiles(smiles: str, isomeric: bool = True) -> str | None:
    """RDKit's canonical SMILES, or None when the string is not a valid molecule."""
    mol = mol_from_smiles(smiles)
    return None if mol is None else Chem.MolToSmiles(mol, isomericSmiles=isomeric)


@lru_cache(maxsize=1)
def _sascorer():
    from rdkit.Chem import RDConfig

    path = Path(RDConfig.RDContribDir) / "SA_Score" / "sascorer.py"
    if not path.exists():
        raise UserError(f"the SA score needs RDKit's Contrib sascorer, which this RDKit does not ship ({path}); "
                        "install an RDKit wheel from PyPI (pip install rdkit)")
    spec = importlib.util.spec_from_file_location("gensci_rdkit_sascorer", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sa_score(mol) -> float:
    return float(_sascorer().calculateScore(mol))


PROPERTY_FUNCTIONS = {
    "logp": lambda mol: float(Crippen.MolLogP(mol)),
    "qed": lambda mol: float(QED.qed(mol)),
    "sa": sa_score,
    "weight": lambda mol: float(Descriptors.MolWt(mol)),
}


def properties(mol, names=PROPERTY_NAMES) -> dict[str, float]:
    """{name: value} for an RDKit molecule."""
    return {n: PROPERTY_FUNCTIONS[n](mol) for n in names}
