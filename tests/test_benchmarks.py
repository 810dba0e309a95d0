"""benchmarks/ stays navigable: one folder per topic with one report that leads with its current results, the
scripts' shared helpers do what the reports rely on, and every benchmark path the code cites exists."""

from __future__ import annotations

import importlib.util
import math
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
CITED = re.compile(r"benchmarks/[\w./-]+?\.(?:py|md|json)\b")


def _load(path: Path):
    """A benchmark script as a module (they are scripts, not a package; common.py sits on their sys.path)."""
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def common():
    return _load(BENCH / "common.py")


def _wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    # Wilson (1927) score interval, written out: the benchmarks take it from scipy's binomtest
    p = k / n
    centre, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)


@pytest.mark.parametrize("k, n", [(0, 20), (3, 20), (945, 1000), (20, 20)])
def test_wilson_interval_matches_the_closed_form(common, k, n):
    low, high = _wilson(k, n)
    assert common.wilson_interval(k / n, n) == f"{low:.3f}-{high:.3f}"


def test_wilson_interval_over_no_trials_is_not_made_up(common):
    assert common.wilson_interval(0.0, 0) == "-"


def test_add_to_history_puts_the_newest_section_first_and_leaves_the_current_table(common, tmp_path):
    report = tmp_path / "README.md"
    current = "# Topic\n\n## Current results\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n## History\n\n"
    report.write_text(current + common.HISTORY_MARKER + "\n\n### 2026-01-01: old\n\nold text\n")
    common.add_to_history(report, "### 2026-02-01: newer\n\nnewer text")
    common.add_to_history(report, "### 2026-03-01: newest\n\nnewest text")
    text = report.read_text()
    assert text.startswith(current + common.HISTORY_MARKER)
    assert text.index("newest") < text.index("newer") < text.index("old text")


def test_add_to_history_creates_a_missing_report(common, tmp_path):
    report = tmp_path / "scratch.md"
    common.add_to_history(report, "### today: a result")
    assert common.HISTORY_MARKER in report.read_text() and "a result" in report.read_text()


def test_append_rows_extends_the_marked_table_only(common, tmp_path):
    report = tmp_path / "README.md"
    marker = "<!-- rows below -->"
    report.write_text(f"intro\n\n{marker}\n\n| x | y |\n|---|---|\n| 1 | 2 |\n\nafter the table\n\n| other |\n|---|\n")
    common.append_rows(report, marker, ["x", "y"], [["3", "4"], ["5", "6"]])
    lines = report.read_text().splitlines()
    table = lines[lines.index(marker) + 2:lines.index("after the table") - 1]
    assert table == ["| x | y |", "|---|---|", "| 1 | 2 |", "| 3 | 4 |", "| 5 | 6 |"]
    assert lines[-2:] == ["| other |", "|---|"]


def test_append_rows_starts_a_table_when_the_marker_is_missing(common, tmp_path):
    report = tmp_path / "README.md"
    report.write_text("# Topic\n")
    common.append_rows(report, "<!-- rows -->", ["x"], [["1"]])
    assert report.read_text() == "# Topic\n\n<!-- rows -->\n\n| x |\n|---|\n| 1 |\n"


def test_benchmarks_are_folders_by_topic():
    loose = sorted(p.name for p in BENCH.iterdir() if p.is_file() and p.name not in ("README.md", "common.py"))
    assert not loose, f"benchmark files outside a topic folder (benchmarks/<topic>/): {loose}"


def test_every_topic_report_leads_with_its_current_results():
    # runs/: training states; out/: scratch; weights/: the shipped weights' manifest report, kept by their own work
    topics = [p for p in BENCH.iterdir() if p.is_dir() and p.name not in ("runs", "out", "weights", "__pycache__")]
    assert len(topics) >= 9
    for topic in topics:
        report = topic / "README.md"
        assert report.exists(), f"{topic.name}/ has no README.md (its one current report)"
        text = report.read_text()
        headings = [line for line in text.splitlines() if line.startswith("## ")]
        assert headings[:1] == ["## Current results"], f"{topic.name}/README.md must open with its current results"
        assert "## History" in headings and text.count("<!-- benchmark scripts insert") == 1, topic.name
        assert text.index("## Current results") < text.index("## History")


def test_benchmark_paths_cited_in_code_exist():
    sources = [p for folder in ("src", "tests", "examples") for p in (ROOT / folder).rglob("*")
               if p.suffix in (".py", ".yaml", ".yml", ".md") and "egg-info" not in str(p) and p != Path(__file__)]
    missing = {f"{p.relative_to(ROOT)}: {m}" for p in sources for m in CITED.findall(p.read_text(errors="ignore"))
               if not (ROOT / m).exists()}
    assert not missing, f"benchmark paths that do not exist (moved? see benchmarks/README.md): {sorted(missing)}"


def test_quality_rows_one_per_protocol_with_intervals():
    quality = _load(BENCH / "molecules" / "quality.py")
    method = SimpleNamespace(name="midi", objective="flow")
    run = SimpleNamespace(config=SimpleNamespace(name="qm9-midi", method=method),
                          history=lambda: [{"kind": "train", "step": 100, "time": 600.0}])
    m = {"protocols": ["edm", "graph", "distributions"], "n_molecules": 20, "checkpoint": "last", "sampler": "euler",
         "sampling_steps": 5, "molecule_stability": 0.0, "atom_stability": 0.5, "validity": 0.15, "n_valid": 3,
         "uniqueness": 1.0, "n_unique": 3, "novelty": None, "connected": 0.0, "validity_x_uniqueness": 0.15,
         "molecule_stability_graph": 0.15, "atom_stability_graph": 0.877, "validity_graph": 0.4, "n_valid_graph": 8,
         "uniqueness_graph": 1.0, "n_unique_graph": 8, "novelty_graph": 0.375, "connected_graph": 0.4,
         "validity_x_uniqueness_graph": 0.4, "seconds_per_molecule": 0.01, "cpu_s_per_molecule": 0.1, "load_1min": 1.0}
    rows = quality.rows_of(run, m, "python benchmarks/molecules/quality.py RUN")
    assert len(rows) == 2 and all(len(r) == len(quality.HEADER) for r in rows)
    col = {name: i for i, name in enumerate(quality.HEADER)}
    edm, graph = rows
    assert edm[col["mol. stable (95 %)"]] == "0.000 (0.000-0.161)"  # 0 of 20: Wilson's upper end, not 0
    assert graph[col["mol. stable (95 %)"]] == "0.150 (0.052-0.360)"
    assert graph[col["unique (95 %, of valid)"]].endswith("(0.676-1.000)")  # over the 8 valid, not the 20
    assert edm[col["novel (95 %, of unique)"]] == "-"  # not measured is not 0
    assert edm[col["training"]] == "100 steps, 10 min"


def test_speed_harness_counts_calls_and_keeps_list_values_whole():
    speed = _load(BENCH / "molecules" / "speed.py")
    edm, midi = speed.linear_calls(3, 4), speed.linear_calls(2, 3)  # EDM: S + 1 network calls; MiDi: S
    assert (edm(1000), edm(100), midi(100)) == (1001, 101, 100)
    assert speed.split_top("n_layers=9,normalize_factors=[1,4,10],dx=256") == [
        "n_layers=9", "normalize_factors=[1,4,10]", "dx=256"]


@pytest.mark.parametrize("spec", ["x=qm9-midi:typo_key=3", "x=qm9-midi:batches=weird", "x=qm9-midi:message_nf"])
def test_speed_harness_refuses_a_bad_model_spec_before_loading_data(spec):
    from gensci.errors import UserError

    speed = _load(BENCH / "molecules" / "speed.py")
    cache: dict = {}
    with pytest.raises(UserError):
        speed.build(spec, cache)
    assert not cache  # refused before any data set was loaded
