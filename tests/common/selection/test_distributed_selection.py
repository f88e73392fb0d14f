"""Selection over 2 CPU processes (accelerate, gloo) equals selection in 1 process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.common.selection.dist_selection_script import run

SCRIPT = Path(__file__).with_name("dist_selection_script.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.distributed
def test_two_processes_select_like_one(tmp_path):
    env = {**os.environ, "ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1"}
    out = tmp_path / "two.json"
    launch = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        "--main_process_port", str(_free_port()), str(SCRIPT), str(out),
    ]  # fmt: skip
    proc = subprocess.run(launch, env=env, timeout=300, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    two = json.loads(out.read_text())
    one = json.loads(json.dumps(run(0, 1, None)))
    assert one.keys() == two.keys()
    for name in one:
        for step, (x, y) in enumerate(zip(one[name], two[name], strict=True)):
            np.testing.assert_allclose(x, y, atol=1e-6, err_msg=f"{name} step {step}")
    assert any(0 < np.mean(r[0]) < 1 for r in one["small_loss"]), "nothing was ever dropped"
    assert any(0 < np.mean(r[0]) < 1 for r in one["gmm"]), "gmm never split"
