"""The Workflow base: a domain without sampling or evaluation says so in one line (a UserError), not a traceback."""

import pytest
from typer.testing import CliRunner

import gensci.workflows.base as base
from gensci.cli import app
from gensci.errors import UserError
from gensci.testing.toy import toy_config
from gensci.workflows.base import EvalOptions, SampleOptions, Workflow


class Bare(Workflow):
    domain = "bare"


def test_base_sample_and_evaluate_are_user_errors(tmp_path):
    run = type("FakeRun", (), {"path": tmp_path})()
    with pytest.raises(UserError, match="`gensci sample` is not available for bare runs"):
        Bare().sample(run, SampleOptions())
    with pytest.raises(UserError, match="`gensci evaluate` is not available for bare runs"):
        Bare().evaluate(run, EvalOptions())


def test_the_command_line_shows_one_line(tmp_path, monkeypatch):
    from gensci import api
    from gensci.config import validate

    run, _ = api.train(validate(toy_config(max_steps=2)), tmp_path / "r")
    monkeypatch.setattr(base, "workflow_for", lambda config: Bare())
    for command in (["sample", str(run.path)], ["evaluate", str(run.path)]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 2, result.output
        assert len(result.stderr.strip().splitlines()) == 1 and "not available for bare runs" in result.stderr
