"""GFN2-xTB single points through tblite: the HOMO-LUMO gap and the dipole of a molecule at its given geometry.

An independent quantum-chemistry check of generated molecules' properties: a semi-empirical tight-binding method
(GFN2-xTB, Bannwarth, Ehlert & Grimme, J. Chem. Theory Comput. 15, 1652 (2019)) that no gensci network was
trained on, so a generator cannot game it the way it can game an evaluator network trained on QM9.

- `single_point(numbers, positions, charge)`: one molecule (atomic numbers, Angstrom), closed shell; raises
  `XTBFailure` with the reason (SCF not converged, an element GFN2-xTB has no parameters for, an odd electron
  count, atoms on top of each other). `xtb_properties(molecules)` runs many, counts each failure with its reason
  and never stops on one; total charge = the sum of a molecule's formal charges (0 when they are not known).
- GFN2-xTB's gaps and dipoles are not B3LYP's: QM9's labels are B3LYP/6-31G(2df,p). `fit_calibration` fits
  DFT ~ slope * xTB + offset by least squares (benchmarks/conditional/xtb_calibration.py on 500 QM9 molecules);
  `shipped_calibration()` reads the fit shipped in gensci/references/qm9_xtb_calibration.json.
  gensci.metrics.xtb.xtb_check scores calibrated values against the values a conditional model was asked for.

tblite (`pip install 'gensci[xtb]'`) is imported inside the functions; without it `require_tblite` raises a
UserError naming that command. tblite's output is silenced (a logger that drops every line, verbosity 0) and its
OpenMP threads are set to `threads` (default 1: one molecule per core; run processes side by side for more).
"""

from __future__ import annotations

import contextlib
import json
import math
from dataclasses import dataclass
from importlib import resources

import numpy as np

from gensci.chem.molecule import as_molecule
from gensci.errors import UserError
from gensci.progress import Progress

METHOD = "GFN2-xTB"
INSTALL_HINT = "pip install 'gensci[xtb]'"
PROPERTY_UNITS = {"gap": "eV", "mu": "Debye"}  # QM9's names and units (gensci.data.qm9.PROPERTY_UNITS)
CALIBRATION_FILE = "qm9_xtb_calibration.json"  # in gensci/references/

# Unit conversions, CODATA 2018 (tblite returns atomic units: Hartree, Bohr, e*Bohr; its Result.get docstring).
BOHR_IN_ANGSTROM = 0.529177210903  # Bohr radius a0
HARTREE_IN_EV = 27.211386245988
# Atomic unit of electric dipole moment e*a0 = 8.4783536255e-30 C m; 1 Debye = 1e-21 / c C m = 3.33564095198e-30 C m.
EBOHR_IN_DEBYE = 8.4783536255e-30 / 3.33564095198e-30  # 2.541746...
MAX_Z = 86  # GFN2-xTB is parametrised for Z = 1..86 (Bannwarth et al. 2019; tblite refuses Z > 86)
MIN_DISTANCE = 0.1  # Angstrom: closer atoms are the same point (tblite: "Too close interatomic distances found")


class XTBFailure(ValueError):
    """One molecule GFN2-xTB could not score; the message says why."""


@dataclass(frozen=True)
class XTBResult:
    """One single point: gap (HOMO-LUMO, eV), mu (|dipole|, Debye), dipole [3] (Debye, in the input's frame),
    energy (total, Hartree), n_electrons (valence electrons, as xTB counts them)."""

    gap: float
    mu: float
    dipole: np.ndarray
    energy: float
    n_electrons: int


def require_tblite():
    """tblite's Python interface, or a UserError saying how to install it."""
    try:
        from tblite import interface
    except ImportError:
        raise UserError(f"the GFN2-xTB check needs the tblite package: {INSTALL_HINT}") from None
    except OSError as err:  # its wheel links the system's OpenMP runtime (libgomp.so.1) rather than bundling one
        raise UserError(f"tblite is installed but its library does not load ({err}); on Debian/Ubuntu "
                        "`apt-get install libgomp1`") from None
    return interface


@contextlib.contextmanager
def omp_threads(threads: int):
    """OpenMP threads of every loaded OpenMP runtime (tblite's included) set to `threads` inside the block.

    OMP_NUM_THREADS is read once when a runtime loads, and torch may have loaded the one tblite links to, so the
    count is set through threadpoolctl (a scikit-learn dependency), which calls omp_set_num_threads."""
    from threadpoolctl import threadpool_limits

    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    with threadpool_limits(limits=threads, user_api="openmp"):
        yield


def single_point(numbers, positions, charge: int = 0, threads: int = 1) -> XTBResult:
    """GFN2-xTB at the given geometry: numbers [N] atomic numbers, positions [N, 3] Angstrom, total charge;
    closed shell. Raises XTBFailure (why) for a molecule it cannot score."""
    interface = require_tblite()
    with omp_threads(threads):
        return _single_point(interface, numbers, positions, charge)


def _single_point(interface, numbers, positions, charge: int) -> XTBResult:
    numbers = np.asarray(numbers, dtype=np.int64)
    positions = np.asarray(positions, dtype=np.float64)
    if numbers.ndim != 1 or not len(numbers) or positions.shape != (len(numbers), 3):
        raise XTBFailure(f"expected N >= 1 atomic numbers and [N, 3] positions, got {numbers.shape} and "
                         f"{positions.shape}")
    if not np.isfinite(positions).all():
        raise XTBFailure("positions are not finite")
    unsupported = sorted({int(z) for z in numbers if not 1 <= z <= MAX_Z})
    if unsupported:
        raise XTBFailure(f"GFN2-xTB has no parameters for atomic number(s) {unsupported} (it covers 1-{MAX_Z})")
    if (int(numbers.sum()) - charge) % 2:  # core electrons pair up: the parity of all electrons is the valence one's
        raise XTBFailure(f"odd electron count at charge {charge:+d} (a radical): the closed-shell check needs an "
                         "even count")
    if len(numbers) > 1:
        d = np.linalg.norm(positions[:, None] - positions[None], axis=-1) + np.eye(len(numbers)) * 1e9
        if d.min() < MIN_DISTANCE:
            i, j = np.unravel_index(np.argmin(d), d.shape)
            raise XTBFailure(f"atoms {i + 1} and {j + 1} are {d.min():.3f} A apart (less than {MIN_DISTANCE} A)")
    from tblite.exceptions import TBLiteRuntimeError, TBLiteValueError

    # An ion's dipole depends on the origin: put it at the centre of nuclear charge (Gaussian's convention), so
    # that where a file placed the molecule does not matter. A neutral molecule's dipole is the same anywhere.
    positions = positions - numbers @ positions / numbers.sum()
    try:
        calc = interface.Calculator(METHOD, numbers, positions / BOHR_IN_ANGSTROM, charge=float(charge), uhf=0,
                                    logger=_drop, color=False)
        calc.set("verbosity", 0)
        res = calc.singlepoint()  # tblite's defaults: accuracy 1, 250 SCF cycles, 300 K Fermi smearing
        energies = np.asarray(res.get("orbital-energies"), dtype=np.float64)
        occupations = np.asarray(res.get("orbital-occupations"), dtype=np.float64)
        dipole = np.asarray(res.get("dipole"), dtype=np.float64) * EBOHR_IN_DEBYE
        energy = float(res.get("energy"))
    except (TBLiteRuntimeError, TBLiteValueError) as err:
        raise XTBFailure(f"tblite: {err}") from None
    n_electrons = round(float(occupations.sum()))
    homo = n_electrons // 2 - 1  # closed shell: orbitals in ascending energy, two electrons each
    if n_electrons % 2 or homo < 0 or homo + 1 >= len(energies):
        raise XTBFailure(f"{n_electrons} valence electrons in {len(energies)} orbitals: no closed-shell HOMO/LUMO")
    gap = float(energies[homo + 1] - energies[homo]) * HARTREE_IN_EV
    mu = float(np.linalg.norm(dipole))
    if not (math.isfinite(gap) and math.isfinite(mu) and math.isfinite(energy)):
        raise XTBFailure("tblite returned a non-finite gap, dipole or energy")
    return XTBResult(gap, mu, dipole, energy, n_electrons)


def _drop(_line: str) -> None:  # tblite's logger: prints every SCF cycle otherwise
    pass


def atomic_numbers(atom_types) -> np.ndarray:
    """Atomic numbers [N] of element symbols; XTBFailure for an unknown symbol."""
    from rdkit import Chem

    table = Chem.GetPeriodicTable()
    out = []
    for symbol in atom_types:
        try:
            out.append(table.GetAtomicNumber(str(symbol)))
        except RuntimeError:
            raise XTBFailure(f"unknown element {symbol!r}") from None
    return np.asarray(out, dtype=np.int64)


def xtb_properties(molecules, threads: int = 1, progress: bool = True) -> dict:
    """GFN2-xTB gap (eV) and |dipole| (Debye) of each molecule (gensci.chem.molecule.as_molecule's inputs: a
    Molecule, or a (positions [N, 3] Angstrom, atom_types) pair) at its own geometry.

    Returns {"gap": [M], "mu": [M] (NaN where it failed), "failures": {index: reason}, "n_scored": int}. Total
    charge: the sum of the molecule's formal charges (neutral when it has none); closed shell."""
    interface = require_tblite()
    molecules = list(molecules)
    gap = np.full(len(molecules), np.nan)
    mu = np.full(len(molecules), np.nan)
    failures: dict[int, str] = {}
    with omp_threads(threads), Progress(f"{METHOD} single points:", total=len(molecules), unit="molecules",
                                        enabled=progress) as bar:
        for k, item in enumerate(molecules):
            try:
                m = as_molecule(item, k)
                if m.positions is None:
                    raise XTBFailure("no 3D positions")
                charge = int(m.charges_or_neutral.sum())
                result = _single_point(interface, atomic_numbers(m.atom_types), m.positions, charge)
                gap[k], mu[k] = result.gap, result.mu
            except ValueError as err:  # XTBFailure, or as_molecule's malformed molecule
                failures[k] = str(err)
            bar.advance()
    return {"gap": gap, "mu": mu, "failures": failures, "n_scored": len(molecules) - len(failures)}


@dataclass(frozen=True)
class Calibration:
    """DFT ~ slope * xTB + offset for one property, fitted by least squares on QM9 molecules; values below
    `minimum` are raised to it (a gap and a dipole magnitude are never negative: the dipole's offset is, so a
    near-symmetric molecule's would be)."""

    slope: float
    offset: float
    minimum: float = 0.0

    def apply(self, xtb) -> np.ndarray:
        return np.maximum(self.slope * np.asarray(xtb, dtype=np.float64) + self.offset, self.minimum)


def fit_calibration(xtb, dft, folds: int = 5, seed: int = 0) -> dict:
    """Least-squares DFT ~ slope * xTB + offset over the finite pairs, and how well it holds.

    Returns slope, offset, residual_sd (of DFT - fit, n - 2 degrees of freedom), pearson_r (xTB vs DFT; an affine
    map with positive slope leaves it unchanged), mae_raw (|xTB - DFT|), mae_calibrated (in sample) and
    mae_calibrated_cv (each molecule predicted by the fit on the other `folds` - 1 folds: what a new molecule of
    the same distribution would see), n (pairs used), n_dropped (non-finite)."""
    x, y = np.asarray(xtb, dtype=np.float64), np.asarray(dft, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"expected two [n] arrays, got {x.shape} and {y.shape}")
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 3 or np.ptp(x) == 0:
        raise ValueError(f"a line needs at least 3 pairs with distinct xTB values, got {len(x)}")
    slope, offset = _line(x, y)
    residual = y - (slope * x + offset)
    fold = np.random.default_rng(seed).permutation(len(x)) % max(2, min(folds, len(x)))
    cv = np.empty_like(y)
    for f in np.unique(fold):
        a, b = _line(x[fold != f], y[fold != f])
        cv[fold == f] = a * x[fold == f] + b
    return {"slope": slope, "offset": offset, "residual_sd": float(np.sqrt((residual ** 2).sum() / (len(x) - 2))),
            "pearson_r": float(np.corrcoef(x, y)[0, 1]), "mae_raw": float(np.abs(x - y).mean()),
            "mae_calibrated": float(np.abs(residual).mean()), "mae_calibrated_cv": float(np.abs(cv - y).mean()),
            "n": int(len(x)), "n_dropped": int((~ok).sum())}


def _line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    slope, offset = np.polyfit(x, y, 1)
    return float(slope), float(offset)


def shipped_calibration() -> dict[str, Calibration]:
    """The calibration shipped with gensci ({"gap": ..., "mu": ...}), fitted on 500 QM9 molecules by
    benchmarks/conditional/xtb_calibration.py."""
    return {name: Calibration(fit["slope"], fit["offset"]) for name, fit in shipped_calibration_record()["fits"].items()}


def shipped_calibration_record() -> dict:
    """The whole shipped calibration record: the fits with their statistics, the command, n, seed, CPU time."""
    path = resources.files("gensci.references").joinpath(CALIBRATION_FILE)
    return json.loads(path.read_text())
