"""Resumable checkpoints written atomically: ``accelerator.save_state`` into a temporary
folder, then one ``os.rename`` to ``checkpoints/step-NNNNNNNN``. A killed run therefore
never leaves a half-written checkpoint under a final name; leftovers ``.tmp-*`` are removed
on the next start. The loop's own state (step, epoch, history, dynamics, scheduler, loss and
selector state) goes into ``loop_state.pt`` beside Accelerate's files and is read back with
``torch.load(weights_only=True)``. Accelerate reads its own RNG files with pickle: resume only
from run directories you wrote.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import torch

__all__ = ["Checkpointer"]

_NAME = re.compile(r"^step-(\d{8})$")


def _step_of(path: Path) -> int | None:
    """The step of a complete checkpoint folder ``step-NNNNNNNN``, else None."""
    m = _NAME.match(path.name)
    return int(m.group(1)) if m else None


class Checkpointer:
    """Saves and finds checkpoints under ``run_dir/checkpoints``; keeps the ``keep`` newest."""

    def __init__(self, accelerator: Any, run_dir: Path, *, keep: int = 1) -> None:
        self.accelerator = accelerator
        self.root = Path(run_dir) / "checkpoints"
        self.keep = max(1, keep)

    def all(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        found = [(_step_of(p), p) for p in self.root.iterdir() if p.is_dir()]
        return [p for _, p in sorted((s, p) for s, p in found if s is not None)]

    def latest(self) -> Path | None:
        found = self.all()
        return found[-1] if found else None

    def clean_partial(self) -> None:
        """Remove ``.tmp-*`` folders a killed run left behind (main process)."""
        if self.accelerator.is_main_process and self.root.is_dir():
            for p in self.root.glob(".tmp-*"):
                shutil.rmtree(p, ignore_errors=True)
        self.accelerator.wait_for_everyone()

    def save(self, step: int, loop_state: dict[str, Any]) -> Path:
        acc = self.accelerator
        final = self.root / f"step-{step:08d}"
        tmp = self.root / f".tmp-step-{step:08d}"
        if acc.is_main_process:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
        acc.wait_for_everyone()
        acc.save_state(str(tmp))
        if acc.is_main_process:
            torch.save(loop_state, tmp / "loop_state.pt")
            if final.exists():
                shutil.rmtree(final)
            os.rename(tmp, final)
            for old in self.all()[: -self.keep]:
                shutil.rmtree(old, ignore_errors=True)
        acc.wait_for_everyone()
        return final

    def load(self, path: Path) -> dict[str, Any]:
        """Restore models, optimizers and RNG states; return the loop state."""
        self.accelerator.load_state(str(path))
        return torch.load(path / "loop_state.pt", map_location="cpu", weights_only=True)
