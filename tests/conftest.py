import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

# Two cores: keep torch's default thread count, deterministic algorithms off.
os.environ.setdefault("NASBOOK_NB201", str(SHARED / "data" / "nasbench201"))


@pytest.fixture
def tiny_overrides():
    """The tiny DARTS preset cut to a few steps, for tests that run a search."""
    return {"epochs": 2, "max_steps_per_epoch": 3, "progress": False, "log_every": 1}


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def one_thread():
    """One torch thread for the test: the nets of most tests are tiny (4-16 channels, 8x8
    images), a second thread cannot speed them up, and on a busy 2-core machine two threads
    waiting on each other made some files 5x slower. Use it with
    ``pytestmark = pytest.mark.usefixtures("one_thread")``; restored afterwards."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
