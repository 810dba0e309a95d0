"""`gensci evaluate RUN --conditional`: EDM's conditional protocol on a tiny conditional MiDi run with a tiny alpha
evaluator (both trained for a few steps here), its keys and their relations, seeded determinism, skipped properties,
the xTB check, the figures, and the errors."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import gensci.workflows.property_evaluator as pe
from gensci.cli import app
from gensci import api
from gensci.workflows.base import EvalOptions, Run
from gensci.workflows.conditional import ConditionalOptions, conditional_sections, training_quantiles

runner = CliRunner()
TINY_EVALUATOR = dict(epochs=1, batch_size=32, hidden_nf=8, n_layers=1, limit_train=64, limit_eval=32, device="cpu")
WIDE = {"COLUMNS": "300"}  # one error line, unwrapped


@pytest.fixture(scope="module")
def setup(tmp_path_factory, train_tiny_midi):
    root = tmp_path_factory.mktemp("conditional")
    run = train_tiny_midi("qm9-midi-cond", ["method.conditions=[alpha, gap, mu]"])
    for name in ("alpha", "gap"):  # mu has none: it is skipped
        pe.train_evaluator(root / f"qm9-property-{name}", pe.EvaluatorConfig(property=name, **TINY_EVALUATOR),
                           progress=False)
        pe.export_evaluator(root / f"qm9-property-{name}", root / "evaluators")
    return run, root / "evaluators"


def _evaluate(run, evaluators, out, *extra):
    args = ["evaluate", str(run), "--conditional", "--n", "12", "--steps", "2", "--evaluators", str(evaluators),
            "--out", str(out), "--json", *extra]
    result = runner.invoke(app, args, env=WIDE)
    return result, (json.loads(result.stdout.strip().splitlines()[-1]) if result.exit_code == 0 else None)


def test_conditional_protocol_keys_figures_and_skips(setup, tmp_path):
    run, evaluators = setup
    result, m = _evaluate(run, evaluators, tmp_path / "a")
    assert result.exit_code == 0, result.output
    lo, hi = m["mae_alpha_interval"]
    assert lo <= m["mae_alpha"] <= hi and m["n_alpha"] == 12 and m["unit_alpha"] == "Bohr^3"
    naive, floor = m["baseline_naive_alpha"], m["floor_qm9_alpha"]
    manifest = json.loads((evaluators / "alpha.json").read_text())["baselines"]
    assert (naive, m["baseline_atoms_alpha"], floor) == (manifest["naive"], manifest["n_atoms"], manifest["qm9"])
    if naive > floor:  # an evaluator worse than shuffled labels leaves the gap closure undefined (None)
        assert m["gap_closure_alpha"] == pytest.approx((naive - m["mae_alpha"]) / (naive - floor))
    else:
        assert m["gap_closure_alpha"] is None
    edm = m["edm_units_alpha"]
    assert edm["unit"] == "Bohr^3" and edm["mae"] == m["mae_alpha"] and edm["published_edm_mae"] == 2.76
    assert m["mae_alpha_edm_units"] == m["mae_alpha"] and m["edm_unit_alpha"] == "Bohr^3"  # alpha: the same unit
    assert m["mae_gap_edm_units"] == pytest.approx(1000 * m["mae_gap"]) and m["edm_unit_gap"] == "meV"
    assert m["unit_gap"] == "eV" and m["edm_units_gap"]["floor_qm9"] == pytest.approx(1000 * m["floor_qm9_gap"])
    # conditioned, but no evaluator: skipped with how to train one, not an error
    assert "mae_mu" not in m and "train_evaluator.py train mu" in m["skipped_mu"] and "skipped_gap" not in m
    for key in ("atom_stability_alpha", "molecule_stability_alpha", "validity_alpha", "molecule_stability_graph_alpha"):
        assert 0 <= m[key] <= 1
    assert m["conditioned_on"] == ["alpha", "gap", "mu"] and "xtb_gap_r" not in m
    saved = json.loads((tmp_path / "a" / "conditional.json").read_text())
    assert saved["mae_alpha"] == m["mae_alpha"]
    sdf = next((tmp_path / "a" / "samples").glob("conditional_alpha_*.sdf")).read_text()
    assert sdf.count(">  <alpha>") == 12 and "<gap>" not in sdf  # the requested value; gap and mu marginalised
    figures = [tmp_path / "a" / "figures" / f for f in ("conditional_requested_vs_predicted.png",
                                                         "conditional_alpha_grid.png")]
    assert sorted(m["conditional_figures"]) == sorted(map(str, figures))
    assert all(f.stat().st_size > 1000 for f in figures)
    section = conditional_sections(Run(run, tmp_path / "a"))[0]  # the report's section reads conditional.json
    assert set(section.table) == {"alpha", "gap", "mu"} and section.table["alpha"]["MAE"] == m["mae_alpha"]
    assert section.table["gap"]["MAE"] == m["mae_gap_edm_units"]  # the report's table is in EDM's units
    assert section.table["mu"]["MAE"].startswith("skipped") and "#atoms baseline" in section.text
    verdict = m["verdicts"]["conditional_alpha"]  # beats #atoms only if the whole interval lies below it
    assert verdict["ok"] == (hi < m["baseline_atoms_alpha"]) and "#atoms" in verdict["verdict"]


def test_seeded_and_restricted(setup, tmp_path):
    run, evaluators = setup

    def evaluate(out, seed):  # through the API, without the figures (a 3D grid of untrained molecules is slow)
        options = EvalOptions(n=12, steps=2, seed=seed)
        return api.evaluate_conditional(Run(run, out), options, ConditionalOptions(["alpha"], None, evaluators, False))

    a, b, c = evaluate(tmp_path / "a", 3), evaluate(tmp_path / "b", 3), evaluate(tmp_path / "c", 4)
    assert a["mae_alpha"] == b["mae_alpha"] and a["mae_alpha"] != c["mae_alpha"]
    assert "skipped_mu" not in a and "mae_gap" not in a and "conditional_figures" not in a  # not asked for
    read = lambda d: next((d / "samples").glob("conditional_alpha_*.sdf")).read_text()  # noqa: E731
    assert read(tmp_path / "a") == read(tmp_path / "b")


def test_training_quantiles_are_ordered_and_inside_the_range(setup):
    run, _ = setup
    conditions = Run(run).method().conditions
    q = training_quantiles(conditions, "gap")
    j = conditions.names.index("gap")
    assert len(q) == 5 and np.all(np.diff(q) >= 0) and conditions.min[j] <= q[0] and q[-1] <= conditions.max[j]


def test_xtb_check_against_the_unconditional_model(setup, tmp_path):
    pytest.importorskip("tblite.interface")
    run, evaluators = setup
    result, m = _evaluate(run, evaluators, tmp_path / "x", "--condition-properties", "mu", "--xtb-per-target", "3")
    assert result.exit_code == 0, result.output  # mu has no evaluator: skipped, and the xTB check still runs
    assert "skipped_mu" in m and "mae_mu" not in m
    assert "xtb_gap_r" not in m  # gap was not among the evaluated properties
    assert len(m["xtb_mu_targets"]) == 5 and m["xtb_mu_unit"] == "Debye"
    for suffix in ("", "_unconditional"):
        assert m[f"xtb_mu_n_scored{suffix}"] + m[f"xtb_mu_n_failed{suffix}"] == 15
        r = m[f"xtb_mu_r{suffix}"]
        assert r is None or np.isnan(r) or -1 <= r <= 1
    if m["xtb_mu_r_interval"] and m["xtb_mu_r_unconditional_interval"]:
        assert "xtb_mu" in m["verdicts"]
    assert (tmp_path / "x" / "figures" / "conditional_xtb.png").stat().st_size > 1000


@pytest.mark.parametrize("extra,message", [
    (["--condition-properties", "mu"], "no property evaluator for mu in"),
    (["--condition-properties", "Cv"], "--condition-properties Cv: the model is conditioned on alpha, gap, mu"),
    (["--condition-properties", "beta"], "unknown property beta"),
    (["--xtb-per-target", "2"], "--xtb-per-target needs at least 3"),
])
def test_bad_requests_are_one_line_and_exit_2(setup, tmp_path, extra, message):
    run, evaluators = setup
    result, _ = _evaluate(run, evaluators, tmp_path / "e", *extra)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.output, result.output
    assert not (tmp_path / "e" / "conditional.json").exists()


def test_conditional_on_an_unconditional_model_and_other_domains(tmp_path, train_tiny_midi):
    run = train_tiny_midi("qm9-midi")
    result = runner.invoke(app, ["evaluate", str(run), "--conditional", "--n", "2"], env=WIDE)
    assert result.exit_code == 2 and "has no conditions" in result.output, result.output
    result = runner.invoke(app, ["evaluate", str(run), "--xtb-per-target", "3"], env=WIDE)
    assert result.exit_code == 2 and "go with --conditional" in result.output, result.output
    radio = tmp_path / "radio"
    tiny = ["data.n_train=64", "data.n_valid=16", "data.n_test=16", "train.batch_size=16", "train.progress=false"]
    result = runner.invoke(app, ["train", "radio-dae", "--out", str(radio), "--max-steps", "1",
                                 *[a for s in tiny for a in ("--set", s)]])
    assert result.exit_code == 0, result.output
    for args, flag in ((["--condition", "alpha=70"], "--condition"), (["--atoms", "9"], "--atoms")):
        result = runner.invoke(app, ["sample", str(radio), *args, "--n", "1", "--out", str(tmp_path / "x.npz")], env=WIDE)
        assert result.exit_code == 2 and f"{flag} applies to molecule models" in result.output, result.output
    result = runner.invoke(app, ["evaluate", str(radio), "--conditional"], env=WIDE)
    assert result.exit_code == 2 and "property-conditional molecule models" in result.output, result.output
