"""The command line end to end, on tiny data (radio traces) and the toy plug-in."""

import json

import pytest
import yaml
from typer.testing import CliRunner

from gensci.cli import app
from gensci.registry import DATASETS, preset_names
from gensci.testing.toy import toy_config

runner = CliRunner()

TINY_RADIO = [
    "--set", "data.n_train=256", "--set", "data.n_valid=64", "--set", "data.n_test=64",
    "--set", "train.batch_size=32", "--set", "train.eval_every=10", "--set", "train.checkpoint_every=10",
    "--set", "train.progress=false",
]


def test_presets_and_datasets_list_everything():
    result = runner.invoke(app, ["presets"])
    assert result.exit_code == 0
    for name in preset_names():
        assert name in result.stdout
    result = runner.invoke(app, ["datasets"])
    assert result.exit_code == 0
    for name in ["qm9", "radio", "galaxies"]:
        assert name in result.stdout and name in DATASETS.names()


def test_every_command_has_help():
    for command in ["train", "sample", "evaluate", "report", "compare", "demo", "presets", "datasets"]:
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0, command


def test_bad_override_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["train", "radio-dae", "--out", str(tmp_path / "r"), "--max-steps", "1", "--set", "method.chanels=3"])
    assert result.exit_code == 2
    assert "method.chanels" in result.output


def test_train_evaluate_sample_report_radio(tmp_path):
    run = tmp_path / "radio"
    result = runner.invoke(app, ["train", "radio-dae", "--out", str(run), "--max-steps", "20", "--seed", "3", *TINY_RADIO])
    assert result.exit_code == 0, result.output
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["seed"] == 3 and cfg["data"]["n_train"] == 256 and cfg["train"]["max_steps"] == 20
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert any(r["kind"] == "eval" and "peak_accuracy" in r for r in rows)

    result = runner.invoke(app, ["evaluate", str(run), "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)  # exactly one JSON object on stdout
    assert 0 <= metrics["peak_accuracy"] <= 1 and "baseline_peak_accuracy" in metrics

    result = runner.invoke(app, ["sample", str(run)])
    assert result.exit_code == 0, result.output
    assert (run / "samples" / "denoised.npz").exists()

    result = runner.invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.output
    html = (run / "report.html").read_text()
    assert "peak_accuracy" in html and "data:image/png;base64" in html

    result = runner.invoke(app, ["train", str(run), "--resume", "--max-steps", "30", "--set", "train.progress=false"])
    assert result.exit_code == 0, result.output
    assert max(json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()) == 30


def test_train_from_a_yaml_file_with_a_plugin(tmp_path):
    cfg = tmp_path / "toy.yaml"
    cfg.write_text(yaml.safe_dump(toy_config()))
    result = runner.invoke(app, ["train", str(cfg), "--out", str(tmp_path / "toy"), "--max-steps", "5"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "toy" / "checkpoints" / "last.pt").exists()


def test_evaluate_needs_a_target():
    result = runner.invoke(app, ["evaluate"])
    assert result.exit_code == 2


def test_user_errors_are_one_line_and_bugs_keep_their_traceback(tmp_path):

    diverge = tmp_path / "diverge.yaml"
    diverge.write_text(yaml.safe_dump(toy_config() | {"method": {"name": "toy", "nan_at_step": 3}}))
    result = runner.invoke(app, ["train", str(diverge), "--out", str(tmp_path / "d")])
    assert result.exit_code == 2 and "training diverged at step 4" in result.output
    assert "Traceback" not in result.output
    bug = tmp_path / "bug.yaml"
    bug.write_text(yaml.safe_dump(toy_config() | {"method": {"name": "toy", "bug_at_step": 2}}))
    result = runner.invoke(app, ["train", str(bug), "--out", str(tmp_path / "b")])
    assert isinstance(result.exception, KeyError)  # not turned into a one-line message


def test_a_method_that_does_not_fit_the_data_is_one_line(tmp_path):
    cfg = tmp_path / "mismatch.yaml"
    cfg.write_text(yaml.safe_dump(toy_config() | {"method": {"name": "vae"}}))
    result = runner.invoke(app, ["train", str(cfg), "--out", str(tmp_path / "m")])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert "method vae needs batch key 'x' [C, S, S] float, which data set toy does not provide" in result.output
    assert not (tmp_path / "m" / "checkpoints").exists()


def test_a_damaged_checkpoint_is_one_line_naming_the_file(tmp_path):
    cfg = tmp_path / "toy.yaml"
    cfg.write_text(yaml.safe_dump(toy_config()))
    assert runner.invoke(app, ["train", str(cfg), "--out", str(tmp_path / "t"), "--max-steps", "5"]).exit_code == 0
    last = tmp_path / "t" / "checkpoints" / "last.pt"
    last.write_bytes(last.read_bytes()[:100])
    result = runner.invoke(app, ["train", str(tmp_path / "t"), "--resume", "--max-steps", "8"])
    assert result.exit_code == 2 and str(last) in result.output and "no readable checkpoint" in result.output


# ---- property-conditional molecules: gensci sample --condition / --atoms / --guidance ------------------------------
@pytest.fixture(scope="module")
def conditional_run(train_tiny_midi):
    return train_tiny_midi("qm9-midi-cond", ["method.conditions=[alpha, mu]"])


@pytest.fixture(scope="module")
def unconditional_run(train_tiny_midi):
    return train_tiny_midi("qm9-midi")


def test_sample_conditional_molecules_records_the_conditions(conditional_run, tmp_path):
    from gensci.data.molecule_io import read_molecules

    out = tmp_path / "mols.sdf"
    args = ["sample", str(conditional_run), "--condition", "alpha=73.5", "--condition", "mu=2.0", "--n", "3",
            "--steps", "2", "--guidance", "2", "--atoms", "9", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text.count(">  <alpha>\n73.5\n") == 3 and text.count(">  <mu>\n2.0\n") == 3
    assert [m.n_atoms for m in read_molecules(out)] == [9, 9, 9]
    result = runner.invoke(app, ["sample", str(conditional_run), "--condition", "alpha=73.5", "--n", "2", "--steps", "2",
                                 "--out", str(tmp_path / "alpha.sdf")])
    assert result.exit_code == 0 and "<mu>" not in (tmp_path / "alpha.sdf").read_text()  # mu marginalised


@pytest.mark.parametrize("args,message", [
    (["--condition", "beta=1"], "unknown property 'beta'; the data's properties are: alpha, gap"),
    (["--condition", "gap=5"], "this model was not trained on 'gap'; its conditions are: alpha, mu"),
    (["--condition", "alpha"], "--condition expects NAME=VALUE"),
    (["--condition", "alpha=1", "--condition", "alpha=2"], "--condition alpha is given twice"),
    (["--atoms", "40"], "the atom count must be in 1..29"),
])
def test_sample_condition_bad_input_is_one_line_and_exit_2(conditional_run, tmp_path, args, message):
    result = runner.invoke(app, ["sample", str(conditional_run), *args, "--n", "1", "--steps", "1",
                                 "--out", str(tmp_path / "x.sdf")], env={"COLUMNS": "300"})
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.output, result.output
    assert not (tmp_path / "x.sdf").exists()


def test_sample_condition_outside_the_range_warns_and_samples(conditional_run, tmp_path):
    out = tmp_path / "x.sdf"
    result = runner.invoke(app, ["sample", str(conditional_run), "--condition", "alpha=500", "--n", "1", "--steps", "1",
                                 "--out", str(out)], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    warned = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert len(warned) == 1 and "alpha = 500 lies outside the training range [" in warned[0] and "Bohr^3" in warned[0]
    assert ">  <alpha>\n500.0\n" in out.read_text()


def test_sample_condition_on_an_unconditional_model_is_exit_2(unconditional_run, tmp_path):
    result = runner.invoke(app, ["sample", str(unconditional_run), "--condition", "alpha=70", "--n", "1", "--steps", "1",
                                 "--out", str(tmp_path / "x.sdf")], env={"COLUMNS": "300"})
    assert result.exit_code == 2 and "trained without property conditions" in result.output, result.output
    result = runner.invoke(app, ["sample", str(unconditional_run), "--atoms", "6", "--n", "2", "--steps", "1",
                                 "--out", str(tmp_path / "y.sdf")])
    assert result.exit_code == 0, result.output  # a fixed atom count needs no condition
    result = runner.invoke(app, ["sample", str(unconditional_run), "--guidance", "2", "--n", "1", "--steps", "1",
                                 "--out", str(tmp_path / "z.sdf")], env={"COLUMNS": "300"})
    assert result.exit_code == 2 and "guidance" in result.output, result.output
