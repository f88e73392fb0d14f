"""One torch thread for these tests: the MLPs are tiny, and on a busy CPU a second intra-op
thread only adds synchronisation (the engine's ``train.num_threads`` exists for the same
reason). The previous setting is restored afterwards."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
