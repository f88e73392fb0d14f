"""``labelnoise`` under fault injection, for tests/engine/test_kill_resume.py (run by
``accelerate launch``; not a test itself).

``LABELNOISE_TEST_KILL=RANK:STEP:RUN``: the process of rank RANK kills itself with SIGKILL
right after its ``accelerator.save_state`` of checkpoint STEP of the run directory named RUN
returned, i.e. mid-save: its files are written, the other process may still be writing, the
folder is not renamed yet.
``LABELNOISE_TEST_SLOW_SAVE=SECONDS``: rank 1 starts every ``save_state`` that much later, so a
rank 0 that renamed the folder without waiting for rank 1 would make it fail ("Parent
directory ... does not exist").
"""

from __future__ import annotations

import os
import signal
import sys
import time


def _inject() -> None:
    import accelerate

    kill = os.environ.get("LABELNOISE_TEST_KILL", "")
    slow = float(os.environ.get("LABELNOISE_TEST_SLOW_SAVE", "0"))
    rank, step, run = kill.split(":") if kill else ("-1", "-1", "")
    target = f"{os.sep}{run}{os.sep}checkpoints{os.sep}.tmp-step-{int(step):08d}"
    original = accelerate.Accelerator.save_state

    def save_state(self, output_dir=None, **kwargs):
        if self.process_index == 1 and slow:
            time.sleep(slow)
        out = original(self, output_dir, **kwargs)
        if self.process_index == int(rank) and str(output_dir).endswith(target):
            os.kill(os.getpid(), signal.SIGKILL)
        return out

    accelerate.Accelerator.save_state = save_state


if __name__ == "__main__":
    _inject()
    from labelnoise.cli import main

    sys.exit(main(sys.argv[1:]))
