import os

import pytest
import torch
from typer.testing import CliRunner

from gensci.testing.toy import register_toy

register_toy()
# Tiny models everywhere: one thread avoids OpenMP synchronisation stalls on a 2-core (possibly busy) machine.
torch.set_num_threads(1)
os.environ.setdefault("GENSCI_PLUGINS", "gensci.testing.toy:register_toy")


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.set_num_threads(1)  # a test may have changed it
    torch.manual_seed(0)
    yield


# qm9-midi-sized presets (qm9-midi, qm9-midi-cond) shrunk to a CPU run of two steps on 64 molecules
TINY_MIDI = ["data.limit_train=64", "data.limit_eval=8", "method.hidden_nf=16", "method.message_nf=8",
             "method.edge_nf=8", "method.n_layers=2", "method.compile=false", "train.batch_size=16",
             "train.warmup_steps=2", "train.eval_every=100", "train.checkpoint_every=100", "train.progress=false",
             "eval.periodic_n_samples=2", "eval.sampling_steps=2"]


@pytest.fixture(scope="session")
def train_tiny_midi(tmp_path_factory):
    """A function (preset, extra --set items) -> the run directory of a two-step `gensci train` of that preset."""
    from gensci.cli import app

    def train(preset: str, extra: list[str] = ()):
        out = tmp_path_factory.mktemp(preset) / "run"
        sets = [a for item in TINY_MIDI + list(extra) for a in ("--set", item)]
        result = CliRunner().invoke(app, ["train", preset, "--out", str(out), "--max-steps", "2", "--quiet", *sets])
        assert result.exit_code == 0, result.output
        return out

    return train
