"""Resumable checkpoints written atomically: every process writes ``accelerator.save_state``
into a temporary folder; after a barrier (every process's files, its RNG state included, are
written) the main process alone renames it to ``checkpoints/step-NNNNNNNN``. A process killed
at any point (``kill -9``) therefore never leaves a half-written checkpoint under a final
name; leftovers (``.tmp-*``, and ``.old-*`` from a killed re-save of the same step) are
cleaned on the next start. The loop's own state (step, epoch, history, dynamics, scheduler,
loss and selector state) and the wall time spent so far go into ``loop_state.pt`` (process
``i > 0``: ``loop_state_<i>.pt``; partial sums and records are per process) beside
Accelerate's files and are read back with ``torch.load(weights_only=True)``. Accelerate reads
its own RNG files with pickle: resume only from run directories you wrote. A resumed process
whose RNG state was not restored (a missing or corrupt ``random_states_<i>.pkl``; Accelerate
only logs that at INFO) gets a :class:`RuntimeWarning` naming the file.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["Checkpointer"]

_NAME = re.compile(r"^step-(\d{8})$")


def _step_of(path: Path) -> int | None:
    """The step of a complete checkpoint folder ``step-NNNNNNNN``, else None."""
    m = _NAME.match(path.name)
    return int(m.group(1)) if m else None


def _state_name(process_index: int) -> str:
    """The loop state file of a process: its loss sum and the dynamics of the epoch so far
    are its own (``loop_state.pt`` for the main process)."""
    return "loop_state.pt" if process_index == 0 else f"loop_state_{process_index}.pt"


def _rng_file(path: Path, process_index: int) -> Path:
    return path / f"random_states_{process_index}.pkl"


class Checkpointer:
    """Saves and finds checkpoints under ``run_dir/checkpoints``; keeps the ``keep`` newest.

    ``started`` (``time.time()`` when the run started): the wall time saved with each
    checkpoint is :attr:`elapsed_before` (restored by :meth:`load`) plus the time since then.
    """

    def __init__(
        self, accelerator: Any, run_dir: Path, *, keep: int = 1, started: float | None = None
    ) -> None:
        self.accelerator = accelerator
        self.root = Path(run_dir) / "checkpoints"
        self.keep = max(1, keep)
        self.started = time.time() if started is None else started
        self.elapsed_before = 0.0  # seconds spent by the runs this one resumes

    def all(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        found = [(_step_of(p), p) for p in self.root.iterdir() if p.is_dir()]
        return [p for _, p in sorted((s, p) for s, p in found if s is not None)]

    def latest(self) -> Path | None:
        found = self.all()
        return found[-1] if found else None

    def clean_partial(self) -> None:
        """Remove the ``.tmp-*`` folders a killed run left behind, and put back a checkpoint
        whose re-save was killed between its two renames (main process)."""
        if self.accelerator.is_main_process and self.root.is_dir():
            for p in self.root.glob(".tmp-*"):
                shutil.rmtree(p, ignore_errors=True)
            for p in self.root.glob(".old-step-*"):
                final = self.root / p.name[len(".old-") :]
                if _step_of(final) is not None and not final.exists():
                    os.rename(p, final)
                else:
                    shutil.rmtree(p, ignore_errors=True)
        self.accelerator.wait_for_everyone()

    def save(self, step: int, loop_state: dict[str, Any]) -> Path:
        """Write checkpoint ``step`` (every process calls this); return its folder."""
        acc = self.accelerator
        final = self.root / f"step-{step:08d}"
        tmp = self.root / f".tmp-step-{step:08d}"
        if acc.is_main_process:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
        acc.wait_for_everyone()  # the folder exists before any process writes into it
        acc.save_state(str(tmp))
        elapsed = self.elapsed_before + time.time() - self.started
        index = getattr(acc, "process_index", 0)
        torch.save({**loop_state, "elapsed_s": elapsed}, tmp / _state_name(index))
        acc.wait_for_everyone()  # every process's files are written before the rename
        if acc.is_main_process:
            # each process writes its loop state after its save_state returned
            names = [_state_name(i) for i in range(acc.num_processes)]
            missing = [name for name in names if not (tmp / name).is_file()]
            if missing:
                raise RuntimeError(f"checkpoint {tmp} is incomplete: {missing} were not written")
            old = self.root / f".old-{final.name}"
            if final.exists():  # the same step saved again (end of epoch after a periodic save)
                shutil.rmtree(old, ignore_errors=True)
                os.rename(final, old)  # a kill from here to the next rename: clean_partial
            os.rename(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
            for stale in self.all()[: -self.keep]:
                shutil.rmtree(stale, ignore_errors=True)
        acc.wait_for_everyone()
        return final

    def load(self, path: Path) -> dict[str, Any]:
        """Restore models, optimizers and RNG states; return the loop state (and set
        :attr:`elapsed_before` from it)."""
        self.accelerator.load_state(str(path))
        self._check_rng(path)
        own = path / _state_name(getattr(self.accelerator, "process_index", 0))
        if not own.is_file():  # a checkpoint of a run with fewer processes
            own = path / _state_name(0)
        state = torch.load(own, map_location="cpu", weights_only=True)
        self.elapsed_before = float(state.pop("elapsed_s", 0.0))
        return state

    def _check_rng(self, path: Path) -> None:
        """Warn when this process's RNG state was not restored from ``path``: Accelerate
        swallows the error (logged at INFO only) and the resumed run then differs from an
        uninterrupted one."""
        index = getattr(self.accelerator, "process_index", 0)
        rng = _rng_file(path, index)
        reconstruct = importlib.import_module("numpy._core.multiarray")._reconstruct
        allowed = [reconstruct, np.ndarray, np.dtype, type(np.dtype("u4"))]
        try:
            with torch.serialization.safe_globals(allowed):
                saved = torch.load(rng, map_location="cpu", weights_only=True)
            restored = torch.equal(saved["torch_manual_seed"], torch.get_rng_state())
            why = "" if restored else "it differs from the state after loading"
        except FileNotFoundError:
            why = "the file is missing"
        except Exception as e:  # unreadable, truncated, or not an RNG state
            why = f"it cannot be read ({type(e).__name__}: {str(e).splitlines()[0][:200]})"
        if why:
            warnings.warn(
                f"checkpoint {path}: the RNG state of process {index} was not restored from "
                f"{rng.name}: {why}. The resumed run continues but will not reproduce an "
                "uninterrupted run; delete this checkpoint folder to resume from an older one.",
                RuntimeWarning,
                stacklevel=2,
            )
