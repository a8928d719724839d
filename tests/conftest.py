"""Test-wide settings: a private checkpoint folder and the shared data folder when present."""

import os
from pathlib import Path

import pytest
import torch

from apcore import train

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"

if SHARED_DATA.is_dir() and "APCORE_DATA_DIR" not in os.environ:
    os.environ["APCORE_DATA_DIR"] = str(SHARED_DATA)

# pytest-xdist (``-n 2`` in pytest.ini): two worker processes share the cores, so each, and every
# process it starts (servers, their training workers, the command line), computes with one
# intra-op thread: two OpenMP threads on a busy core run far slower (see ``one_thread``).
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    """The browser tests run in one xdist worker, in order, on one pair of servers (``--dist
    loadgroup``); the other tests are shared out around them."""
    for item in items:
        if item.nodeid.startswith("tests/e2e/"):
            item.add_marker(pytest.mark.xdist_group("browser"))


@pytest.fixture(scope="session", autouse=True)
def checkpoint_dir(tmp_path_factory):
    """Every test session trains into its own folder: never the user's checkpoints/."""
    path = tmp_path_factory.mktemp("checkpoints")
    os.environ["APCORE_CHECKPOINT_DIR"] = str(path)
    return path


def has_fashion() -> bool:
    from apcore.data import DataError, find_dataset_dir

    try:
        find_dataset_dir("fashion-mnist")
        return True
    except DataError:
        return False


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op thread for a module (``pytestmark = pytest.mark.usefixtures("one_thread")``):
    on a busy 2-core machine two OpenMP threads run ~10x slower, not faster."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def fits(monkeypatch):
    """Counts calls of the trainer (the real one still runs)."""
    calls = []
    real = train.fit

    def counting(model, config, *args, **kwargs):
        calls.append(config)
        return real(model, config, *args, **kwargs)

    monkeypatch.setattr(train, "fit", counting)
    return calls
