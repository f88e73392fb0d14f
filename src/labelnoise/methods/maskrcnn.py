"""``maskrcnn``: train a torchvision Mask R-CNN (He et al., ICCV 2017) on its own losses.

In train mode Mask R-CNN computes its losses itself from the images and the (noisy)
annotations -- RPN objectness and box regression, ROI classification, box regression and
the per-instance mask loss -- as a dict. The step's loss is their unweighted sum (the
torchvision reference recipe)::

    losses = adapter.train_losses(model, batch)   # {"loss_classifier": ..., "loss_mask": ...}
    loss = sum(losses.values())

There are no per-unit losses, so the core loss and selector are not used (``loss: ce``,
``selector: none``), nothing is recorded as training dynamics, and label-issue detection is
off (``detection: none``); evaluation (mask AP) is the adapter's. The task
(``instance_segmentation``, :mod:`labelnoise.tasks.segmentation.instance_adapter`) supplies
``train_losses``. The mean of each loss term over each epoch is written to
``run_dir/maskrcnn_losses.json`` (a list per term, one value per epoch).
"""

from __future__ import annotations

import json
from typing import Any

import torch

from labelnoise._io import atomic_write
from labelnoise.methods.base import Method, StepOutput
from labelnoise.tasks.segmentation.instance_adapter import InstanceSegmentationAdapter

__all__ = ["MaskRCNN"]


class MaskRCNN(Method):
    """The sum of Mask R-CNN's loss dict as the step's loss (module docstring)."""

    name = "maskrcnn"
    tasks = frozenset({"instance_segmentation"})

    def __init__(self, options: Any, run: Any) -> None:
        super().__init__(options, run)
        self.sums: dict[str, float] = {}
        self.count = 0
        self.history: dict[str, list[float]] = {}

    @classmethod
    def check_config(cls, cfg: Any) -> None:
        for key, value, default in (
            ("loss.name", cfg.loss.name, "ce"),
            ("selector.name", cfg.selector.name, "none"),
            ("detection.method", cfg.detection.method, "none"),
        ):
            if value != default:
                raise ValueError(
                    f"{key} must be {default!r} with method 'maskrcnn' (Mask R-CNN trains on "
                    f"its own losses, without per-unit losses); got {value!r}"
                )

    def step(self, batch: Any) -> StepOutput:
        adapter = self.run.adapter
        assert isinstance(adapter, InstanceSegmentationAdapter)  # tasks: instance_segmentation
        losses = adapter.train_losses(self.nets[0].model, batch)
        loss = torch.stack([v.float() for v in losses.values()]).sum()
        self.check_finite(loss.detach().view(1))
        for k, v in losses.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v.detach())
        self.count += 1
        return StepOutput(loss)

    def on_epoch_end(self, epoch: int) -> None:
        for k, v in self.sums.items():
            self.history.setdefault(k, []).append(v / max(self.count, 1))
        self.sums, self.count = {}, 0

    def after_training(self) -> None:
        if self.run.accelerator.is_main_process:
            with atomic_write(self.run.run_dir / "maskrcnn_losses.json") as f:
                json.dump(self.history, f)

    def state_dict(self) -> dict[str, Any]:
        return {"sums": dict(self.sums), "count": self.count, "history": self.history}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sums, self.count = dict(state["sums"]), int(state["count"])
        self.history = {k: list(v) for k, v in state["history"].items()}
