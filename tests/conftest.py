import os

import pytest
import torch

from gensci.testing.toy import register_toy

register_toy()
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
    # Tiny models: one thread avoids 2-thread sync overhead on a 2-core (possibly busy) machine.
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
