"""One torch thread for the audio tests: tiny convolutions on a busy 2-core machine run
much faster without the thread pool."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
