"""Requested vs computed: do conditional samples have the property they were asked for, by GFN2-xTB?

`xtb_check(molecules, requested)` runs GFN2-xTB on each molecule (gensci.chem.xtb), maps its gap and dipole onto
QM9's B3LYP scale with the shipped calibration (DFT ~ slope * xTB + offset, fitted on 500 QM9 molecules), and
scores them against the values each molecule was requested with: Pearson r with a percentile-bootstrap interval,
and the mean absolute error. The calibration's own error on QM9 (its cross-validated MAE) is reported beside it
as `mae_floor`: a generator whose samples had exactly the requested DFT values would still score about that.

The unconditional baseline is the same call on unconditional samples, each paired with a requested value (the
i-th sample with the i-th value): those samples never saw the values, so r ~ 0 and the MAE is what ignoring the
request costs. A conditional model earns credit by the gap between the two rows:

    model = xtb_check(conditional_samples, {"gap": requested})
    baseline = xtb_check(unconditional_samples, {"gap": requested})
"""

from __future__ import annotations

import numpy as np

from gensci.chem.xtb import PROPERTY_UNITS, Calibration, shipped_calibration, shipped_calibration_record, xtb_properties
from gensci.metrics.intervals import bootstrap_interval


def score_requested(computed, requested, n_boot: int = 1000, seed: int = 0) -> dict:
    """Computed [M] (NaN where a molecule could not be scored) vs requested [M]: pearson_r and its 95 % percentile
    bootstrap interval over molecules (None below 3 scored), mae, n_scored, n_failed."""
    computed, requested = np.asarray(computed, dtype=np.float64), np.asarray(requested, dtype=np.float64)
    if computed.shape != requested.shape or computed.ndim != 1:
        raise ValueError(f"expected two [M] arrays, got {computed.shape} and {requested.shape}")
    if not np.isfinite(requested).all():
        raise ValueError("requested values must be finite")
    ok = np.isfinite(computed)
    x, y = computed[ok], requested[ok]
    n = len(x)
    r = _pearson(x, y) if n >= 3 else None
    interval = bootstrap_interval(lambda rows: _pearson(x[rows], y[rows]), n, n_boot, seed=seed) if n >= 3 else None
    return {"pearson_r": r, "pearson_r_interval": None if interval is None else list(interval),
            "mae": float(np.abs(x - y).mean()) if n else None, "n_scored": n, "n_failed": int((~ok).sum())}


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")  # undefined for a constant side (a resample of one repeated molecule)
    return float(np.corrcoef(x, y)[0, 1])


def xtb_check(molecules, requested: dict, calibration: dict[str, Calibration] | None = None, threads: int = 1,
              progress: bool = True, n_boot: int = 1000, seed: int = 0) -> dict:
    """Score molecules against the property values they were requested with (module docstring).

    molecules: M molecules (gensci.chem.molecule.as_molecule's inputs) with 3D positions; requested: {"gap": [M]
    eV, "mu": [M] Debye} (either or both, QM9's B3LYP scale); calibration: {name: Calibration}, default the
    shipped one. Returns {name: {computed_raw [M], computed [M] (calibrated; None where it failed), pearson_r,
    pearson_r_interval, mae, mae_floor, n_scored, n_failed}, "failures": {index: reason}, "calibration": where
    it came from}. Pearson r is the same before and after calibration (an affine map with positive slope)."""
    unknown = set(requested) - set(PROPERTY_UNITS)
    if unknown or not requested:
        raise ValueError(f"requested properties must be among {sorted(PROPERTY_UNITS)}, got {sorted(requested)}")
    molecules = list(molecules)
    for name, values in requested.items():
        if np.shape(values) != (len(molecules),):
            raise ValueError(f"requested {name!r}: expected {len(molecules)} values (one per molecule), "
                             f"got shape {np.shape(values)}")
    source = "given"
    if calibration is None:
        calibration, record = shipped_calibration(), shipped_calibration_record()
        source = f"shipped: {record['data']}"
    computed = xtb_properties(molecules, threads=threads, progress=progress)
    out: dict = {}
    for name, values in requested.items():
        raw = computed[name]
        calibrated = calibration[name].apply(raw)
        out[name] = {"unit": PROPERTY_UNITS[name], "computed_raw": _listed(raw), "computed": _listed(calibrated),
                     **score_requested(calibrated, values, n_boot, seed)}
        if source != "given":
            out[name]["mae_floor"] = record["fits"][name]["mae_calibrated_cv"]
    return out | {"failures": computed["failures"], "calibration": source}


def _listed(values: np.ndarray) -> list:
    """JSON-ready floats with None where xTB failed."""
    return [float(v) if np.isfinite(v) else None for v in values]
