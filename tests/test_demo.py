"""`gensci demo`, the README's main job: the shipped QM9 model sampled, one chain shown, the batch measured."""

from pathlib import Path

from typer.testing import CliRunner

from gensci.cli import app


def test_demo_samples_measures_and_reports_from_shipped_weights(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["demo", "--n", "8", "--steps", "10", "--out", "demo"])
    assert result.exit_code == 0, result.output
    assert "molecule_stability_graph" in result.output  # both protocols measured
    assert "molecule_stability " in result.output
    written = {Path(p).suffix for p in result.output.split("samples:")[1].split("report:")[0].replace(",", " ").split()}
    assert {".sdf", ".gif", ".png"} <= written
    assert (tmp_path / "demo" / "report.html").exists()
    sdf = sorted((tmp_path / "demo" / "samples").glob("*.sdf"))
    assert sdf and sum(line.strip() == "$$$$" for line in sdf[-1].read_text().splitlines()) == 8
