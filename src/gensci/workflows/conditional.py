"""`gensci evaluate RUN --conditional`: EDM's conditional QM9 protocol end to end, with an independent xTB check.

EDM (Hoogeboom et al., ICML 2022, sec. 5.3 / Table 3; ehoogeboom/e3_diffusion_for_molecules eval_conditional_qm9.py):
one property at a time, the others marginalised, n (c, M) pairs (EDM's README runs 100 iterations of batch 100:
n = 10,000 per property) drawn jointly from the generator's training half
(gensci.methods.molecule_conditions.MoleculeConditions.draw, EDM's DistributionProperty), one molecule sampled per
pair, its property predicted by the regressor trained on the other half (gensci.workflows.property_evaluator), and
the MAE between requested and predicted beside the naive, #atoms and QM9 baselines (gensci.metrics.properties).
The same molecules are measured for stability, validity and uniqueness under every protocol that applies
(gensci.metrics.molecule_protocols, as `gensci evaluate` measures unconditional samples).

The xTB check (`xtb_per_target`): for gap and mu, five requested values (the 10/30/50/70/90 % quantiles of the training
half), N samples conditioned on each alone, GFN2-xTB on every molecule (gensci.metrics.xtb.xtb_check): Pearson r of
requested against calibrated computed values with its interval, and the MAE; beside it the unconditional model (no
property given, atom counts from p(M)) scored against the same requests, where r ~ 0.

Outputs, in the run's output folder: conditional.json (the metrics), samples/conditional_*.sdf (requested values as
SDF fields) and .npz, figures/conditional_*.png (gensci.viz.conditional).
"""

from __future__ import annotations

import html
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gensci.chem.molecule import molecules_from_padded
from gensci.data import qm9
from gensci.data.molecule_io import write_sdf
from gensci.errors import UserError
from gensci.methods.molecule_conditions import MoleculeConditions
from gensci.metrics.molecule_protocols import evaluate_protocols
from gensci.metrics.properties import EDM_UNITS, PUBLISHED
from gensci.progress import Progress
from gensci.viz.report import ReportSection, Verdict, verdicts_html
from gensci.workflows.base import EvalOptions, Run, evaluation_name
from gensci.workflows.molecule_samples import carried_by, condition_fields, save_padded

RESULT_FILE = "conditional.json"
XTB_PROPERTIES = ("gap", "mu")  # what GFN2-xTB computes (gensci.chem.xtb.PROPERTY_UNITS)
XTB_QUANTILES = (0.1, 0.3, 0.5, 0.7, 0.9)  # the five requested values of the xTB check
GRID_PROPERTY, GRID_PER_VALUE = "alpha", 4  # the molecule grid: 4 molecules at each of the five alpha quantiles
QUALITY = ("atom_stability", "molecule_stability", "validity", "uniqueness", "validity_x_uniqueness")
QUALITY = QUALITY + tuple(f"{k}_graph" for k in QUALITY)  # EDM's protocol, then the predicted-bond one


@dataclass
class ConditionalOptions:
    properties: list[str] | None = None  # conditioned properties to evaluate (default: every one with an evaluator)
    xtb_per_target: int | None = None  # the xTB check's molecules per requested value (None: no xTB check)
    evaluators: Path | None = None  # folder of property evaluators (default: the shipped ones)
    figures: bool = True


def conditions_of(run: Run, method) -> MoleculeConditions:
    """The method's property conditions, or a UserError when it has none."""
    conditions = getattr(method, "conditions", None)
    if not isinstance(conditions, MoleculeConditions) or not conditions.names:
        raise UserError(f"--conditional evaluates a property-conditional model; {run.config.method.name} "
                        f"({run.config.name}) has no conditions (train one with method.conditions, e.g. qm9-midi-cond)")
    return conditions


def evaluate_conditional(run: Run, options: EvalOptions, conditional: ConditionalOptions) -> dict[str, Any]:
    """The metrics of the module docstring (keys `mae_<p>`, `mae_<p>_interval`, `baseline_naive_<p>`,
    `baseline_atoms_<p>`, `floor_qm9_<p>`, `gap_closure_<p>`, ..., `skipped_<p>`, `xtb_<p>_r`, ...)."""
    from gensci.workflows.property_evaluator import TRAIN_COMMAND, check_properties, evaluators_dir

    method, info = run.method(checkpoint=options.checkpoint), run.info
    conditions = conditions_of(run, method)
    names = list(conditions.names)
    if conditional.properties:
        asked = check_properties(conditional.properties)
        missing = [p for p in asked if p not in names]
        if missing:
            raise UserError(f"--condition-properties {missing[0]}: the model is conditioned on {', '.join(names)}")
        names = asked
    folder = Path(conditional.evaluators) if conditional.evaluators is not None else evaluators_dir()
    xtb_n = conditional.xtb_per_target
    if xtb_n is not None:
        if xtb_n < 3:
            raise UserError(f"--xtb-per-target needs at least 3 molecules per value (a correlation), got {xtb_n}")
        from gensci.chem.xtb import require_tblite

        require_tblite()  # before any sampling
    skipped = {p: f"no evaluator for {p} in {folder} (train one: {TRAIN_COMMAND.format(name=p)})"
               for p in names if not _has_evaluator(folder, p)}
    scored = [p for p in names if p not in skipped]
    if not scored and not xtb_n:
        raise UserError(f"no property evaluator for {', '.join(names)} in {folder}; train and export one: "
                        + TRAIN_COMMAND.format(name=names[0]))
    n = options.n or run.config.eval.n_samples
    sampling = options.sampling(run.config.eval)
    described = method.describe_sampling(sampling)
    stem = evaluation_name(n, described, options.seed, "", run.checkpoint_path(options.checkpoint).stem)
    carried = carried_by(method, info)
    out: dict[str, Any] = {"conditional_protocol": "EDM (Hoogeboom et al. 2022, Table 3): one property at a time, "
                           "others marginalised, (c, M) drawn jointly from the training half",
                           "conditioned_on": list(conditions.names), "evaluators": str(folder), "n_per_property": n,
                           "seed": options.seed, "checkpoint": run.loaded_from} | described
    out |= {f"skipped_{p}": why for p, why in skipped.items()}
    # every part draws from its own seed, seed * 1000 + k: properties k = 0-5 (their place among the conditions),
    # the xTB check 100-159 and 199 (unconditional), the molecule grid 299; same seed, same molecules, part by part
    files, points, start = [], {}, time.perf_counter()

    def draw(count: int, condition, seed: int) -> tuple[dict, list]:
        samples = method.sample(count, condition=condition, generator=_generator(method.device, seed), options=sampling)
        return samples, molecules_from_padded(samples, info["atom_types"])

    parts = len(scored) + (xtb_n is not None) + 1
    with Progress("conditional evaluation:", parts, unit="parts", stages=True) as bar:
        for k, p in enumerate(scored):
            # its place among all conditions: restricting the list leaves each property's molecules the same
            seed = options.seed * 1000 + conditions.names.index(p)
            requested = conditions.draw(n, _generator("cpu", seed), names=[p])
            samples, molecules = draw(n, requested, seed)
            base = run.samples_dir / f"conditional_{p}_{stem}"
            files += [write_sdf(base.with_suffix(".sdf"), molecules, seed=options.seed,
                                fields=condition_fields(method, samples)),
                      save_padded(base.with_suffix(".npz"), samples)]
            out |= _property_scores(p, molecules, requested[p].numpy(), folder, options.seed)
            quality = evaluate_protocols(molecules, carried=carried, chemistry=False)
            out |= {f"{key}_{p}": quality[key] for key in QUALITY if key in quality}
            points[p] = {"requested": requested[p].tolist(), "predicted": out.pop(f"predicted_{p}")}
            bar.advance()
        if xtb_n is not None:
            out |= xtb_section(conditions, names, xtb_n, options.seed, draw)
            bar.advance()
        show_grid = conditional.figures and GRID_PROPERTY in names
        grid = _grid_molecules(folder, conditions, options.seed, draw) if show_grid else None
        bar.advance()
    out |= {"conditional_seconds": time.perf_counter() - start, "conditional_sample_files": [str(f) for f in files]}
    if conditional.figures:
        out["conditional_figures"] = [str(f) for f in conditional_figures(run.figures_dir, out, points, grid)]
    return out | {"verdicts": {v.name: v.as_json() for v in conditional_verdicts(out)}}


def conditional_verdicts(metrics: dict[str, Any]) -> list[Verdict]:
    """Per property: does the MAE's 95 % interval lie below the #atoms baseline (EDM's test that a model carries
    information about the property beyond the atom count)? Per xTB property: does the conditional r's interval lie
    above the unconditional one's?"""
    out = []
    for p in metrics.get("conditioned_on", []):
        if f"mae_{p}" not in metrics:
            continue
        e = metrics[f"edm_units_{p}"]
        hi = (e["mae_interval"] or [e["mae"]] * 2)[1]
        ok = hi < e["baseline_atoms"]
        out.append(Verdict(f"conditional_{p}", f"{p}: {'beats' if ok else 'does not beat'} the #atoms baseline", ok,
                           f"MAE {e['mae']:.4g} {e['unit']} (95 % interval up to {hi:.4g}) against {e['baseline_atoms']:.4g}"
                           f" for a predictor that sees only the atom count; naive {e['baseline_naive']:.4g}, evaluator "
                           f"floor {e['floor_qm9']:.4g}, EDM {e['published_edm_mae']:.4g}; n = {metrics[f'n_{p}']}"))
    for p in XTB_PROPERTIES:
        low, high = metrics.get(f"xtb_{p}_r_interval"), metrics.get(f"xtb_{p}_r_unconditional_interval")
        if low is None or high is None:
            continue
        ok = low[0] > high[1]
        out.append(Verdict(f"xtb_{p}", f"xTB {p}: {'follows' if ok else 'does not follow'} the request", ok,
                           f"Pearson r of requested against GFN2-xTB {metrics[f'xtb_{p}_r']:.3f} [{low[0]:.3f}, "
                           f"{low[1]:.3f}] against {metrics[f'xtb_{p}_r_unconditional']:.3f} [{high[0]:.3f}, "
                           f"{high[1]:.3f}] for the unconditional model; n = {metrics[f'xtb_{p}_n_scored']}"))
    return out


def _property_scores(p: str, molecules, requested: np.ndarray, folder: Path, seed: int) -> dict[str, Any]:
    """One property's flat keys: score_conditional's figures, in gensci's units and in EDM's table units."""
    from gensci.workflows.property_evaluator import molecules_to_batch, score_conditional

    batch = molecules_to_batch(molecules)
    s = score_conditional(batch["positions"], batch["one_hot"], batch["node_mask"], {p: requested}, folder, seed)[p]
    edm_unit, scale = EDM_UNITS[p]
    scaled = lambda v: None if v is None else v * scale  # noqa: E731
    return {f"mae_{p}": s["mae"], f"mae_{p}_interval": s["mae_interval"], f"n_{p}": s["n"],
            f"baseline_naive_{p}": s["baseline_naive"], f"baseline_atoms_{p}": s["baseline_n_atoms"],
            f"floor_qm9_{p}": s["baseline_qm9"], f"gap_closure_{p}": s["gap_closure"],
            f"atoms_on_requests_{p}": s.get("n_atoms_mae_on_requests"), f"unit_{p}": qm9.PROPERTY_UNITS[p],
            f"mae_{p}_edm_units": scaled(s["mae"]), f"edm_unit_{p}": edm_unit,
            f"edm_units_{p}": {"unit": edm_unit, "mae": scaled(s["mae"]),
                               "mae_interval": None if s["mae_interval"] is None else [v * scale for v in s["mae_interval"]],
                               "baseline_naive": scaled(s["baseline_naive"]), "baseline_atoms": scaled(s["baseline_n_atoms"]),
                               "floor_qm9": scaled(s["baseline_qm9"]), "published_edm_mae": PUBLISHED["edm"][p]},
            f"predicted_{p}": s["predicted"]}


def training_quantiles(conditions: MoleculeConditions, name: str, quantiles=XTB_QUANTILES) -> list[float]:
    """Quantiles of a property over the training half (its p(c, M) table's bin centres: 1/1000 of the range)."""
    j = conditions.names.index(name)
    lo, hi = float(conditions.min[j]), float(conditions.max[j])
    values = lo + (conditions.table_bins[:, j].double().cpu().numpy() + 0.5) * (hi - lo) / conditions.bins
    return [float(v) for v in np.quantile(values, quantiles)]


def xtb_section(conditions: MoleculeConditions, names: list[str], per_target: int, seed: int, draw) -> dict[str, Any]:
    """The xTB check of the module docstring for gap and mu among `names`; {} when neither is conditioned."""
    from gensci.metrics.xtb import xtb_check

    props = [p for p in XTB_PROPERTIES if p in names]
    if not props:
        return {"xtb_skipped": f"the xTB check scores {' and '.join(XTB_PROPERTIES)}; the evaluated conditions are "
                               f"{', '.join(names)}"}
    out: dict[str, Any] = {"xtb_per_target": per_target}
    targets = {p: training_quantiles(conditions, p) for p in props}
    requested = {p: np.repeat(targets[p], per_target) for p in props}
    for p in props:
        molecules = []
        for k, value in enumerate(targets[p]):
            molecules += draw(per_target, {p: value}, seed * 1000 + 100 + 10 * conditions.names.index(p) + k)[1]
        out |= _xtb_keys(p, xtb_check(molecules, {p: requested[p]}, progress=False, seed=seed)[p], "")
        out[f"xtb_{p}_targets"] = targets[p]
    # one unconditional set scored against both properties' requests: no property given, atom counts from p(M)
    _, unconditional = draw(per_target * len(XTB_QUANTILES), None, seed * 1000 + 199)
    checked = xtb_check(unconditional, requested, progress=False, seed=seed)
    for p in props:
        out |= _xtb_keys(p, checked[p], "_unconditional")
    return out


def _xtb_keys(p: str, scores: dict, suffix: str) -> dict[str, Any]:
    computed = np.array([np.nan if v is None else v for v in scores["computed"]], dtype=float)
    return {f"xtb_{p}_r{suffix}": scores["pearson_r"], f"xtb_{p}_r{suffix}_interval": scores["pearson_r_interval"],
            f"xtb_{p}_mae{suffix}": scores["mae"], f"xtb_{p}_n_scored{suffix}": scores["n_scored"],
            f"xtb_{p}_n_failed{suffix}": scores["n_failed"], f"xtb_{p}_computed{suffix}": scores["computed"]} | (
        {f"xtb_{p}_mae_floor": scores.get("mae_floor"), f"xtb_{p}_unit": scores["unit"]} if not suffix else {}) | (
        {f"xtb_{p}_mean_per_target{suffix}": [float(np.nanmean(c)) if np.isfinite(c).any() else None
                                              for c in np.array_split(computed, len(XTB_QUANTILES))]})


def _grid_molecules(folder: Path, conditions: MoleculeConditions, seed: int, draw) -> dict:
    """GRID_PER_VALUE molecules at each of the five training quantiles of alpha, with the evaluator's predictions
    when there is one."""
    targets = training_quantiles(conditions, GRID_PROPERTY)
    values = np.repeat(targets, GRID_PER_VALUE)
    _, molecules = draw(len(values), {GRID_PROPERTY: torch.from_numpy(values)}, seed * 1000 + 299)
    predicted = None
    if _has_evaluator(folder, GRID_PROPERTY):
        from gensci.workflows.property_evaluator import predict_molecules

        predicted = predict_molecules(molecules, [GRID_PROPERTY], folder)["properties"][GRID_PROPERTY]
    return {"name": GRID_PROPERTY, "targets": targets, "molecules": molecules, "requested": values.tolist(),
            "predicted": predicted}


def conditional_figures(figures: Path, metrics: dict, points: dict, grid: dict | None) -> list[Path]:
    from gensci.viz.conditional import plot_molecules_by_request, plot_requested_vs_predicted, plot_xtb_check

    paths = []
    if points:
        paths.append(plot_requested_vs_predicted(points, metrics, figures / "conditional_requested_vs_predicted.png"))
    if any(f"xtb_{p}_targets" in metrics for p in XTB_PROPERTIES):
        paths.append(plot_xtb_check(metrics, figures / "conditional_xtb.png"))
    if grid is not None:
        paths.append(plot_molecules_by_request(grid, figures / f"conditional_{grid['name']}_grid.png"))
    return paths


def conditional_sections(run: Run) -> list[ReportSection]:
    """The report's section on a conditional evaluation (RUN/conditional.json), when one was made."""
    path = run.out / RESULT_FILE
    if not path.exists():
        return []
    metrics = json.loads(path.read_text())
    rows = {}
    for p in metrics.get("conditioned_on", []):
        if f"mae_{p}" in metrics:
            e = metrics[f"edm_units_{p}"]
            rows[p] = {"MAE": e["mae"], "95 % interval": e["mae_interval"], "naive": e["baseline_naive"],
                       "#atoms": e["baseline_atoms"], "QM9 floor": e["floor_qm9"],
                       "gap closure": metrics[f"gap_closure_{p}"], "EDM's MAE": e["published_edm_mae"],
                       "unit": e["unit"], "n": metrics[f"n_{p}"],
                       "molecule stability": metrics.get(f"molecule_stability_graph_{p}",
                                                         metrics.get(f"molecule_stability_{p}"))}
        elif f"skipped_{p}" in metrics:
            rows[p] = {"MAE": "skipped: " + metrics[f"skipped_{p}"]}
    xtb = {p: {"Pearson r": metrics[f"xtb_{p}_r"], "r 95 % interval": metrics[f"xtb_{p}_r_interval"],
               "r unconditional": metrics[f"xtb_{p}_r_unconditional"],
               "its interval": metrics[f"xtb_{p}_r_unconditional_interval"], "MAE": metrics[f"xtb_{p}_mae"],
               "MAE unconditional": metrics[f"xtb_{p}_mae_unconditional"],
               "calibration floor": metrics[f"xtb_{p}_mae_floor"], "unit": metrics[f"xtb_{p}_unit"],
               "n": metrics[f"xtb_{p}_n_scored"], "xTB failed": metrics[f"xtb_{p}_n_failed"]}
           for p in XTB_PROPERTIES if f"xtb_{p}_r" in metrics}
    text = (f"{metrics.get('conditional_protocol')}; {metrics.get('n_per_property')} molecules per property. MAE between "
            "the value requested and the value the property evaluator predicts, in EDM's Table 3 units, beside the "
            "naive baseline (shuffled labels), the #atoms baseline and the evaluator's own error on QM9 (the floor); "
            "gap closure = (naive - MAE) / (naive - floor); molecule stability under the model's own bonds where it "
            "predicts them, else EDM's.")
    text = verdicts_html(conditional_verdicts(metrics)) + html.escape(text)
    figures = [Path(f) for f in metrics.get("conditional_figures", []) if Path(f).exists()]
    parts = []
    if xtb:
        parts.append(ReportSection("Independent check by GFN2-xTB", html.escape(
            f"{metrics['xtb_per_target']} molecules conditioned on each of five requested values (the training half's "
            "10/30/50/70/90 % quantiles), GFN2-xTB at the generated geometry, calibrated to QM9's DFT: Pearson r of "
            "requested against computed, and the MAE (the calibration's own error on QM9 is its floor); beside them "
            "the unconditional model's molecules scored against the same requests (r ~ 0)."),
            table=xtb, columns=list(next(iter(xtb.values())))))
    columns = list(dict.fromkeys(c for row in rows.values() for c in row))
    return [ReportSection("Conditional generation (EDM's protocol)", text, figures=figures, table=rows, columns=columns,
                          parts=parts)]


def _has_evaluator(folder: Path, name: str) -> bool:
    return (folder / f"{name}.json").exists() and (folder / f"{name}.safetensors").exists()


def _generator(device, seed: int) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


__all__ = ["ConditionalOptions", "conditional_sections", "evaluate_conditional", "training_quantiles"]
