"""The method registry (name -> :class:`~labelnoise.methods.base.Method` subclass), the
config-time check of a recipe's ``method:`` section, and :func:`build_method`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from labelnoise._typed import build
from labelnoise.methods.adele import Adele
from labelnoise.methods.annotator_confusion import AnnotatorConfusion
from labelnoise.methods.aum import Aum
from labelnoise.methods.base import Method
from labelnoise.methods.colada import Colada
from labelnoise.methods.confrag import ConFrag
from labelnoise.methods.coteaching import CoTeaching
from labelnoise.methods.crosssplit import CrossSplit
from labelnoise.methods.crowd_layer import CrowdLayer
from labelnoise.methods.dividemix import DivideMix
from labelnoise.methods.ema_distill import EmaDistill
from labelnoise.methods.erase import Erase
from labelnoise.methods.graphcleaner import GraphCleaner
from labelnoise.methods.graphcleaner_drop import GraphCleanerDrop
from labelnoise.methods.label_propagation import LabelPropagation
from labelnoise.methods.late_stopping import LateStopping
from labelnoise.methods.madl import MaDL
from labelnoise.methods.maskrcnn import MaskRCNN
from labelnoise.methods.mixture_refit import MixtureRefit
from labelnoise.methods.moit import Moit
from labelnoise.methods.ner_prune import NerPrune
from labelnoise.methods.ner_relabel import NerRelabel
from labelnoise.methods.per_tag_small_loss import PerTagSmallLoss
from labelnoise.methods.pnt_edge import PntEdge
from labelnoise.methods.ppl import PPL
from labelnoise.methods.rent import Rent
from labelnoise.methods.splitnet import SplitNet
from labelnoise.methods.standard import Standard
from labelnoise.methods.tabasco import Tabasco
from labelnoise.methods.tabasco_codivide import TabascoCoDivide
from labelnoise.methods.trimmed_refit import TrimmedRefit
from labelnoise.methods.uplme import Uplme

if TYPE_CHECKING:
    from labelnoise.config import RunConfig
    from labelnoise.engine.run import Run

__all__ = ["METHODS", "build_method", "check_method", "method_options", "runs_on"]

METHODS: dict[str, type[Method]] = {
    "standard": Standard,
    "coteaching": CoTeaching,
    "dividemix": DivideMix,
    "crosssplit": CrossSplit,
    "splitnet": SplitNet,
    "adele": Adele,
    "maskrcnn": MaskRCNN,
    "ner_prune": NerPrune,
    "ner_relabel": NerRelabel,
    "per_tag_small_loss": PerTagSmallLoss,
    "pnt_edge": PntEdge,
    "ema_distill": EmaDistill,
    "mixture_refit": MixtureRefit,
    "trimmed_refit": TrimmedRefit,
    "confrag": ConFrag,
    "ppl": PPL,
    "label_propagation": LabelPropagation,
    "graphcleaner_drop": GraphCleanerDrop,
    "rent": Rent,
    "late_stopping": LateStopping,
    "aum": Aum,
    "tabasco": Tabasco,
    "tabasco_codivide": TabascoCoDivide,
    "moit": Moit,
    "crowd_layer": CrowdLayer,
    "madl": MaDL,
    "erase": Erase,
    "graphcleaner": GraphCleaner,
    "annotator_confusion": AnnotatorConfusion,
    "uplme": Uplme,
    "colada": Colada,
}


def get_method(name: str) -> type[Method]:
    """The registered method class; an unknown name raises ``ValueError`` listing them."""
    if name not in METHODS:
        raise ValueError(f"method.name must be one of {sorted(METHODS)}; got {name!r}")
    return METHODS[name]


def method_options(name: str, options: Mapping[str, Any]) -> Any:
    """The method's ``Options`` dataclass from a recipe's options; errors name ``method.<key>``."""
    return build(get_method(name).Options, dict(options), "method")


def runs_on(method: str, task: str) -> bool:
    """Does ``method`` train ``task``: the method declares the task (``Method.tasks``) and
    the task accepts the method (``TaskAdapter.methods``)?"""
    from labelnoise.tasks.registry import get_task

    cls, only = get_method(method), get_task(task).methods
    return (cls.tasks is None or task in cls.tasks) and (only is None or method in only)


def check_method(cfg: RunConfig) -> None:
    """Config-time checks of ``cfg.method``: the name, the options, the task, the method's own."""
    from labelnoise.tasks.registry import get_task

    cls = get_method(cfg.method.name)
    method_options(cfg.method.name, cfg.method.options)
    if cls.tasks is not None and cfg.task.name not in cls.tasks:
        raise ValueError(
            f"method {cls.name!r} does not run on task {cfg.task.name!r}; it runs on "
            f"{', '.join(sorted(cls.tasks))} (method.name / task.name)"
        )
    only = get_task(cfg.task.name).methods
    if only is not None and cls.name not in only:
        raise ValueError(
            f"task {cfg.task.name!r} trains only with method {', '.join(sorted(only))}; got "
            f"method {cls.name!r} (method.name / task.name)"
        )
    if cfg.detection.method == "method" and not cls.flags_issues():
        flagging = sorted(n for n, c in METHODS.items() if c.flags_issues())
        raise ValueError(
            "detection.method 'method' needs a training method that flags examples itself "
            f"({', '.join(flagging)}); got method {cls.name!r} (detection.method / method.name)"
        )
    cls.check_config(cfg)


def build_method(cfg: RunConfig, run: Run) -> Method:
    """The method of a started run (options built and checked again; process count checked)."""
    cls = get_method(cfg.method.name)
    if cls.single_process and run.accelerator.num_processes > 1:
        raise ValueError(
            f"method {cls.name!r} runs on one process; got {run.accelerator.num_processes} "
            "(run it without accelerate launch, or with --num_processes 1)"
        )
    return cls(method_options(cfg.method.name, cfg.method.options), run)
