"""The task registry: a visible dict literal, name -> "module:Class" (imported on demand so a
recipe for one task never imports another task's libraries)."""

from __future__ import annotations

import importlib

from labelnoise.tasks.base import TaskAdapter

TASKS: dict[str, str] = {
    "classification": "labelnoise.tasks.classification:ClassificationAdapter",
    "edges": "labelnoise.tasks.edges.adapter:EdgeAdapter",
    "audio": "labelnoise.tasks.audio.adapter:AudioAdapter",
    "clip": "labelnoise.tasks.clip.adapter:ClipAdapter",
    "graph": "labelnoise.tasks.graph.adapter:GraphAdapter",
    "ner": "labelnoise.tasks.ner.adapter:NERAdapter",
    "regression": "labelnoise.tasks.regression.adapter:RegressionAdapter",
    "segmentation": "labelnoise.tasks.segmentation.adapter:SegmentationAdapter",
    "instance_segmentation": (
        "labelnoise.tasks.segmentation.instance_adapter:InstanceSegmentationAdapter"
    ),
}


def get_task(name: str) -> type[TaskAdapter]:
    """The adapter class registered as ``name``."""
    if name not in TASKS:
        raise ValueError(f"task must be one of {sorted(TASKS)}; got {name!r}")
    module_name, cls_name = TASKS[name].split(":")
    return getattr(importlib.import_module(module_name), cls_name)
