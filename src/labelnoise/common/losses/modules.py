"""Thin ``nn.Module`` wrappers: ``forward(logits, target)`` only calls the functional loss."""

from __future__ import annotations

import inspect
from typing import Any

from torch import Tensor, nn

from labelnoise.common.losses.apl import nce_mae, nce_rce
from labelnoise.common.losses.asl import asl
from labelnoise.common.losses.binary import bootstrap_binary, gce_binary, ls_binary, sce_binary
from labelnoise.common.losses.bootstrap import bootstrap_hard, bootstrap_soft
from labelnoise.common.losses.correction import backward_correction, forward_correction
from labelnoise.common.losses.cross_entropy import label_smoothing, nls
from labelnoise.common.losses.focal import focal
from labelnoise.common.losses.gce import gce, tlq
from labelnoise.common.losses.ldr import ldr
from labelnoise.common.losses.logitnorm import logitnorm
from labelnoise.common.losses.mae import mae
from labelnoise.common.losses.maxsup import maxsup
from labelnoise.common.losses.sce import sce

__all__ = [
    "ASLLoss",
    "BackwardCorrectionLoss",
    "BootstrapBinaryLoss",
    "BootstrapHardLoss",
    "BootstrapSoftLoss",
    "FocalLoss",
    "ForwardCorrectionLoss",
    "GCEBinaryLoss",
    "GCELoss",
    "LDRLoss",
    "LabelSmoothingBinaryLoss",
    "LabelSmoothingLoss",
    "LogitNormLoss",
    "MAELoss",
    "MaxSupLoss",
    "NCEMAELoss",
    "NCERCELoss",
    "NLSLoss",
    "SCEBinaryLoss",
    "SCELoss",
    "TLqLoss",
]


class _Functional(nn.Module):
    """Stores the keyword options; ``forward`` calls ``fn(logits, target, **options)``."""

    fn: Any

    def __init__(self, **options: Any) -> None:
        super().__init__()
        params = inspect.signature(type(self).fn).parameters.values()
        allowed = {p.name for p in params if p.kind is p.KEYWORD_ONLY}
        for key in options:
            if key not in allowed:
                raise ValueError(
                    f"unknown option {key!r} for {type(self).__name__}; "
                    f"expected one of {', '.join(sorted(allowed))}"
                )
        self.options = options

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return type(self).fn(logits, target, **self.options)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.options.items() if k != "transition")


def _wrapper(name: str, fn: Any, doc: str) -> type[_Functional]:
    return type(name, (_Functional,), {"fn": staticmethod(fn), "__doc__": doc})


GCELoss = _wrapper("GCELoss", gce, "Module form of :func:`~.gce.gce` (options: q, weight, ...).")
TLqLoss = _wrapper("TLqLoss", tlq, "Module form of :func:`~.gce.tlq`.")
SCELoss = _wrapper("SCELoss", sce, "Module form of :func:`~.sce.sce`.")
MAELoss = _wrapper("MAELoss", mae, "Module form of :func:`~.mae.mae`.")
NCERCELoss = _wrapper("NCERCELoss", nce_rce, "Module form of :func:`~.apl.nce_rce`.")
NCEMAELoss = _wrapper("NCEMAELoss", nce_mae, "Module form of :func:`~.apl.nce_mae`.")
LabelSmoothingLoss = _wrapper(
    "LabelSmoothingLoss", label_smoothing, "Module form of :func:`~.cross_entropy.label_smoothing`."
)
NLSLoss = _wrapper("NLSLoss", nls, "Module form of :func:`~.cross_entropy.nls`.")
LogitNormLoss = _wrapper(
    "LogitNormLoss", logitnorm, "Module form of :func:`~.logitnorm.logitnorm`."
)
MaxSupLoss = _wrapper("MaxSupLoss", maxsup, "Module form of :func:`~.maxsup.maxsup`.")
BootstrapSoftLoss = _wrapper(
    "BootstrapSoftLoss", bootstrap_soft, "Module form of :func:`~.bootstrap.bootstrap_soft`."
)
BootstrapHardLoss = _wrapper(
    "BootstrapHardLoss", bootstrap_hard, "Module form of :func:`~.bootstrap.bootstrap_hard`."
)
FocalLoss = _wrapper("FocalLoss", focal, "Module form of :func:`~.focal.focal`.")
ForwardCorrectionLoss = _wrapper(
    "ForwardCorrectionLoss",
    forward_correction,
    "Module form of :func:`~.correction.forward_correction` (option transition).",
)
BackwardCorrectionLoss = _wrapper(
    "BackwardCorrectionLoss",
    backward_correction,
    "Module form of :func:`~.correction.backward_correction` (option transition).",
)
LDRLoss = _wrapper("LDRLoss", ldr, "Module form of :func:`~.ldr.ldr`.")
GCEBinaryLoss = _wrapper("GCEBinaryLoss", gce_binary, "Module form of :func:`~.binary.gce_binary`.")
SCEBinaryLoss = _wrapper("SCEBinaryLoss", sce_binary, "Module form of :func:`~.binary.sce_binary`.")
BootstrapBinaryLoss = _wrapper(
    "BootstrapBinaryLoss", bootstrap_binary, "Module form of :func:`~.binary.bootstrap_binary`."
)
LabelSmoothingBinaryLoss = _wrapper(
    "LabelSmoothingBinaryLoss", ls_binary, "Module form of :func:`~.binary.ls_binary`."
)
ASLLoss = _wrapper("ASLLoss", asl, "Module form of :func:`~.asl.asl`.")
