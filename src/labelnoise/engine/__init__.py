"""The one training loop (:func:`train`, in :mod:`labelnoise.engine.loop`) and what it is built
from: starting and finishing a run (:mod:`~labelnoise.engine.run`), loaders, evaluation,
checkpoints, training dynamics, label-issue detection and outputs."""

from labelnoise.engine.loop import train

__all__ = ["train"]
