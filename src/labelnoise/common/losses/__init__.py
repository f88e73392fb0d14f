"""Robust losses: functional first (``F.cross_entropy`` signature), thin modules, a registry.

``LOSSES`` maps a name to its functional loss; :func:`build_loss` returns the per-unit module
the training loop calls as ``m(pred, target, example_id=None) -> (U,)``.
"""

from labelnoise.common.losses.apl import nce, nce_mae, nce_rce
from labelnoise.common.losses.asl import asl
from labelnoise.common.losses.binary import bce, bootstrap_binary, gce_binary, ls_binary, sce_binary
from labelnoise.common.losses.bootstrap import bootstrap_hard, bootstrap_soft
from labelnoise.common.losses.correction import backward_correction, forward_correction
from labelnoise.common.losses.cross_entropy import ce, label_smoothing, nls
from labelnoise.common.losses.elr import ELRLoss, elr
from labelnoise.common.losses.focal import focal
from labelnoise.common.losses.gce import gce, tlq
from labelnoise.common.losses.ldr import ldr
from labelnoise.common.losses.logitnorm import logitnorm
from labelnoise.common.losses.mae import mae
from labelnoise.common.losses.maxsup import maxsup
from labelnoise.common.losses.modules import (
    ASLLoss,
    BackwardCorrectionLoss,
    BootstrapBinaryLoss,
    BootstrapHardLoss,
    BootstrapSoftLoss,
    FocalLoss,
    ForwardCorrectionLoss,
    GCEBinaryLoss,
    GCELoss,
    LabelSmoothingBinaryLoss,
    LabelSmoothingLoss,
    LDRLoss,
    LogitNormLoss,
    MAELoss,
    MaxSupLoss,
    NCEMAELoss,
    NCERCELoss,
    NLSLoss,
    SCEBinaryLoss,
    SCELoss,
    TLqLoss,
)
from labelnoise.common.losses.registry import (
    BINARY_LOSSES,
    LOSSES,
    REGRESSION_LOSSES,
    UnitLoss,
    build_loss,
)
from labelnoise.common.losses.regression import cauchy, gaussian_nll, huber, mse, trimmed_mse
from labelnoise.common.losses.sce import rce, sce

__all__ = [
    "trimmed_mse",
    "mse",
    "huber",
    "gaussian_nll",
    "cauchy",
    "ASLLoss",
    "BINARY_LOSSES",
    "BackwardCorrectionLoss",
    "BootstrapBinaryLoss",
    "BootstrapHardLoss",
    "BootstrapSoftLoss",
    "ELRLoss",
    "FocalLoss",
    "ForwardCorrectionLoss",
    "GCEBinaryLoss",
    "GCELoss",
    "LDRLoss",
    "LOSSES",
    "LabelSmoothingBinaryLoss",
    "LabelSmoothingLoss",
    "LogitNormLoss",
    "MAELoss",
    "MaxSupLoss",
    "NCEMAELoss",
    "NCERCELoss",
    "NLSLoss",
    "REGRESSION_LOSSES",
    "SCEBinaryLoss",
    "SCELoss",
    "TLqLoss",
    "UnitLoss",
    "asl",
    "backward_correction",
    "bce",
    "bootstrap_binary",
    "bootstrap_hard",
    "bootstrap_soft",
    "build_loss",
    "ce",
    "elr",
    "focal",
    "forward_correction",
    "gce",
    "gce_binary",
    "label_smoothing",
    "ldr",
    "logitnorm",
    "ls_binary",
    "mae",
    "maxsup",
    "nce",
    "nce_mae",
    "nce_rce",
    "nls",
    "rce",
    "sce",
    "sce_binary",
    "tlq",
]
