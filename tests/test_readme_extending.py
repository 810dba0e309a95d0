"""The worked example of the docs' "Extending gensci" page (docs/extending.md), run exactly as written: its
files in a temporary package, registered through GENSCI_PLUGINS, trained and evaluated by the command line."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

PAGE = Path(__file__).parents[1] / "docs" / "extending.md"


def example_files() -> dict[str, str]:
    blocks = re.findall(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```", PAGE.read_text(), re.S)
    return {name: body for name, body in blocks}


def test_the_worked_example_trains_and_evaluates(tmp_path):
    files = example_files()
    assert {"myspectra/data.py", "myspectra/metrics.py", "myspectra/workflow.py", "myspectra/plugin.py",
            "spectra.yaml"} == set(files)
    for name, body in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body)
    (tmp_path / "myspectra" / "__init__.py").write_text("")
    env = {**os.environ, "GENSCI_PLUGINS": "myspectra.plugin:register", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    gensci = [sys.executable, "-m", "gensci"]
    train = subprocess.run([*gensci, "train", "spectra.yaml", "--out", "runs/spectra", "--quiet", "--max-steps", "150"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert train.returncode == 0, train.stderr
    result = subprocess.run([*gensci, "evaluate", "runs/spectra", "--json"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert set(metrics) - {"verdicts"} == {"centre_error", "noisy_centre_error"}  # `verdicts`: gensci's own judgement
    assert metrics["centre_error"] < metrics["noisy_centre_error"]  # denoising helps find the line
