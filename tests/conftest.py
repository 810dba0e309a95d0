import os

import pytest
import torch

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
