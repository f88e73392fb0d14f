"""Out-of-sample label-issue scores for the training set (``label_issues.csv``).

``kfold``: the training set is split into ``folds``; for each fold a fresh model is trained
with the run's loss on the other folds and predicts the held-out fold, giving out-of-sample
``pred_probs`` for every unit (the recipe of Northcutt et al., JAIR 2021). ``dynamics``: the
softmax of each example averaged over the training epochs (recorded before each update).
Units are scored with confident learning (``find_label_issues``) and self-confidence-style
quality; an example's quality is the minimum over its units and it is an issue when any of
its units is.
"""

from __future__ import annotations

import csv
import io
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from labelnoise.common.units import reduce_units
from labelnoise.engine.collect import evaluate_units
from labelnoise.engine.data import (
    Reindexed,
    dataset_tensors,
    eval_loader,
    make_loader,
    tensor_batches,
)
from labelnoise.engine.setup import build_loss_fn, build_optimizer
from labelnoise.engine.step import take_step

__all__ = ["Detection", "detect_label_issues", "detection_quality", "issues_csv", "train_labels"]


@dataclass
class Detection:
    """Per-example detection results over the training set (``N`` examples)."""

    quality: np.ndarray  # (N,) higher = cleaner
    is_issue: np.ndarray  # (N,) bool
    given: np.ndarray  # (N,) given label of one-unit examples (-1 otherwise)
    suggested: np.ndarray  # (N,) argmax of the out-of-sample probabilities (-1 otherwise)
    transition_estimate: np.ndarray | None  # (C, C) T[clean, noisy] from the confident joint
    method: str
    pred_probs: np.ndarray | None = None  # (N, C) the scored probabilities (one-unit examples)


def train_labels(dataset: Any) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """One pass over the items: ``(is_corrupted (N,), noisy (N,), clean (N,))``.

    ``is_corrupted``: does ``target`` differ from ``clean_target`` (None without clean
    targets). ``noisy`` / ``clean``: one class id per example, None when an example has
    several units or float targets.
    """
    n = len(dataset)
    if n == 0 or "clean_target" not in dataset[0]:
        return None, None, None
    columns = _label_columns(dataset)
    if columns is not None:
        return columns
    corrupted = np.zeros(n, dtype=bool)
    noisy, clean = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    scalar = True
    for i in range(n):
        item = dataset[i]
        t, c = torch.as_tensor(item["target"]), torch.as_tensor(item["clean_target"])
        corrupted[i] = not torch.equal(t, c)
        if scalar and t.numel() == 1 and c.numel() == 1 and not t.is_floating_point():
            noisy[i], clean[i] = int(t), int(c)
        else:
            scalar = False
    return (corrupted, noisy, clean) if scalar else (corrupted, None, None)


def _label_columns(
    dataset: Any,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None] | None:
    """:func:`train_labels` from the dataset's in-memory columns
    (:func:`~labelnoise.engine.data.dataset_tensors`), without a Python pass over the items
    (about 30 us an item); None when it has none, or the two label columns differ in dtype
    or shape (then the per-item comparison decides). The same answer: an item's labels are
    equal (``torch.equal``) iff every element compares equal; one class id per example when
    the columns are 1-D integers."""
    cols = dataset_tensors(dataset)
    if cols is None or "target" not in cols or "clean_target" not in cols:
        return None
    t, c = cols["target"], cols["clean_target"]
    if t.dtype != c.dtype or t.shape != c.shape or t.dtype == torch.bool:
        return None
    corrupted = (t != c).reshape(t.shape[0], -1).any(1).cpu().numpy()
    if t.dim() != 1 or t.is_floating_point() or t.is_complex():
        return corrupted, None, None
    return corrupted, t.long().cpu().numpy(), c.long().cpu().numpy()


def _fit_fold(run: Any, subset: Any, seed: int) -> torch.nn.Module:
    """Train a fresh model on ``subset`` with the run's loss and the loop's step
    (:func:`~labelnoise.engine.step.take_step`: accumulation, clipping, the adapter's unit
    weights); no selector, evaluation or checkpoints."""
    from accelerate.utils import set_seed

    from labelnoise.common.selection import build_selector
    from labelnoise.engine.run import raise_if_not_finite  # run imports this module
    from labelnoise.methods.base import Net, NoOptions
    from labelnoise.methods.standard import Standard

    cfg, acc, adapter = run.cfg, run.accelerator, run.adapter
    set_seed(seed)
    loader = make_loader(
        subset,
        adapter,
        batch_size=cfg.data.batch_size,
        seed=seed,
        shuffle=True,
        num_workers=cfg.data.num_workers,
    )
    epochs = cfg.detection.epochs if cfg.detection.epochs is not None else cfg.train.epochs
    model = adapter.build_model(run.splits)
    n_ids = adapter.num_unit_ids(len(subset)) or len(subset)
    loss_fn = build_loss_fn(cfg, run.splits.num_classes, n_ids, device=acc.device)
    steps_per_epoch = math.ceil(math.ceil(len(loader) / acc.num_processes) / cfg.train.grad_accum)
    opt, sched = build_optimizer(cfg, model.parameters(), epochs * steps_per_epoch)
    model, opt, loader = acc.prepare(model, opt, loader)
    fast = tensor_batches(  # an in-memory split: the loader's batches without the loader
        subset,
        adapter,
        batch_size=cfg.data.batch_size,
        seed=seed,
        device=acc.device,
        num_processes=acc.num_processes,
        grad_accum=cfg.train.grad_accum,
    )
    batches = loader if fast is None else fast
    method = Standard(NoOptions(), run)
    method.setup(
        [Net(model, opt, sched, loss_fn)], build_selector("none", num_examples=len(subset))
    )
    model.train()
    steps = 0
    for epoch in range(epochs):
        batches.set_epoch(epoch)
        for batch in batches:
            take_step(cfg, acc, method, method.nets, batch)
            if acc.sync_gradients:
                sched.step()
                steps += 1
                if cfg.train.max_steps is not None and steps >= cfg.train.max_steps:
                    raise_if_not_finite(run)
                    return model
        raise_if_not_finite(run)  # the deferred finite check (accelerator devices)
    return model


def detection_quality(labels: np.ndarray, probs: np.ndarray, score: str) -> np.ndarray:
    """``(N,)`` scores, higher = cleaner, by ``detection.score``: a cleanlab label-quality
    method, or ``outlier_<method>`` -- the outlier score of the probabilities
    (:func:`~labelnoise.common.detection.outlier_scores_from_pred_probs`)."""
    from labelnoise.common.detection import get_label_quality_scores
    from labelnoise.common.detection.outlier import outlier_scores_from_pred_probs

    if score.startswith("outlier_"):
        method = score.removeprefix("outlier_")
        return outlier_scores_from_pred_probs(probs, labels, method=method)  # type: ignore[arg-type]
    return get_label_quality_scores(labels, probs, method=score)  # type: ignore[arg-type]


def detect_label_issues(
    run: Any,
    *,
    dynamics_probs: np.ndarray | None,
    method_issues: Callable[[], tuple[np.ndarray, np.ndarray] | None] | None = None,
) -> Detection | None:
    """Label issues of the task's training split by ``cfg.detection.method`` for a finished
    ``run`` (:class:`~labelnoise.engine.run.Run`); None when not applicable.

    ``method_issues``: the training method's :meth:`~labelnoise.methods.base.Method.label_issues`
    (read for ``detection.method: method``)."""
    from labelnoise.common.detection import (
        compute_confident_joint,
        estimate_latent,
        find_label_issues,
    )

    cfg, adapter, splits, accelerator = run.cfg, run.adapter, run.splits, run.accelerator
    method = cfg.detection.method
    train = splits.train
    n = len(train)
    if method == "none" or splits.num_classes < 2:
        return None
    if method == "method":
        return _method_detection(train, method_issues() if method_issues else None)
    if method == "dynamics":
        if dynamics_probs is None:
            raise ValueError(
                "detection.method 'dynamics' needs one unit per example with class logits; "
                "use detection.method: kfold for this task"
            )
        targets = [torch.as_tensor(train[i]["target"]) for i in range(n)]
        if any(t.numel() != 1 or t.is_floating_point() for t in targets):
            raise ValueError(
                "detection.method 'dynamics' needs one class label per example; "
                "use detection.method: kfold for this task"
            )
        # Examples never trained on (``train.max_steps`` cut the epoch) have no record.
        seen = dynamics_probs.sum(1) > 0
        probs = dynamics_probs[seen]
        labels = np.array([int(t) for t in targets])[seen]
        ids = np.arange(n)[seen]
    else:
        k = cfg.detection.folds
        if not 2 <= k <= n:
            raise ValueError(f"detection.folds must be in [2, {n}]; got {k}")
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed + 7919))
        folds = torch.chunk(perm, k)
        p_parts, y_parts, id_parts = [], [], []
        for f, held in enumerate(folds):
            rest = torch.cat([folds[j] for j in range(k) if j != f])
            model = _fit_fold(run, Reindexed(train, rest), cfg.seed + 1 + f)
            loader = eval_loader(
                Reindexed(train, held),
                adapter,
                batch_size=cfg.data.eval_batch_size,
                num_workers=cfg.data.num_workers,
                num_process=accelerator.num_processes,
                process_index=accelerator.process_index,
            )
            u = evaluate_units(adapter, model, loader, accelerator, shrink=False)
            if u.pred.dim() != 2:
                return None
            p_parts.append(u.pred.double().softmax(1).numpy())
            tgt = u.target
            y_parts.append((tgt.argmax(1) if tgt.is_floating_point() else tgt).numpy())
            id_parts.append(held[u.example_id].numpy())
        probs, labels, ids = (
            np.concatenate(p_parts),
            np.concatenate(y_parts),
            np.concatenate(id_parts),
        )
    issue = find_label_issues(labels, probs, filter_by=cfg.detection.filter_by)
    quality = detection_quality(labels, probs, cfg.detection.score)
    ids_t = torch.from_numpy(ids).long()
    ex, q_ex = reduce_units(torch.from_numpy(quality).double(), ids_t, how="min")
    _, i_ex = reduce_units(torch.from_numpy(issue).double(), ids_t, how="max")
    q_all, i_all = np.ones(n), np.zeros(n, dtype=bool)
    q_all[ex.numpy()], i_all[ex.numpy()] = q_ex.numpy(), i_ex.numpy() > 0
    given, suggested = np.full(n, -1), np.full(n, -1)
    counts = np.bincount(ids, minlength=n)
    single = counts[ids] == 1
    given[ids[single]] = labels[single]
    suggested[ids[single]] = probs[single].argmax(1)
    cj = compute_confident_joint(labels, probs)
    assert isinstance(cj, np.ndarray)  # (K, K): no off-diagonal indices were asked for
    _, noise_matrix, _ = estimate_latent(cj, labels)
    p_all = None
    if single.all() and len(ids) == n:  # one unit per example: keep the scored probabilities
        p_all = np.zeros_like(probs)
        p_all[ids] = probs
    return Detection(q_all, i_all, given, suggested, noise_matrix.T.copy(), method, p_all)


def _method_detection(train: Any, flagged: tuple[np.ndarray, np.ndarray] | None) -> Detection:
    """:class:`Detection` from a method's own ``(quality (N,), is_issue (N,))``."""
    n = len(train)
    if flagged is None:
        raise ValueError("detection.method 'method': the training method flagged no examples")
    quality, is_issue = (np.asarray(a) for a in flagged)
    if quality.shape != (n,) or is_issue.shape != (n,):
        raise ValueError(
            f"detection.method 'method': the method's label_issues() must give two ({n},) "
            f"arrays (one per training example); got {quality.shape} and {is_issue.shape}"
        )
    _, noisy, _ = train_labels(train)
    given = noisy if noisy is not None else np.full(n, -1)
    return Detection(
        quality.astype(np.float64),
        is_issue.astype(bool),
        given,
        np.full(n, -1),
        None,
        "method",
    )


def issues_csv(det: Detection, dyn: dict[str, np.ndarray], corrupted: np.ndarray | None) -> str:
    """label_issues.csv text: one row per training example, lowest quality first."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    cols = ["example_id", "given_label", "suggested_label", "label_quality", "is_label_issue"]
    cols += ["last_loss", "mean_margin"]
    if corrupted is not None:
        cols.append("is_corrupted")
    w.writerow(cols)
    loss = dyn["loss"][-1] if len(dyn["loss"]) else np.full(len(det.quality), np.nan)
    with warnings.catch_warnings():  # examples never seen (max_steps runs) have NaN margins
        warnings.simplefilter("ignore", RuntimeWarning)
        margin = (
            np.nanmean(dyn["margin"], axis=0) if len(dyn["margin"]) else np.full(len(loss), np.nan)
        )
    for i in np.argsort(det.quality, kind="stable"):
        row = [int(i), int(det.given[i]), int(det.suggested[i]), f"{det.quality[i]:.6g}"]
        row += [int(det.is_issue[i]), f"{loss[i]:.6g}", f"{margin[i]:.6g}"]
        if corrupted is not None:
            row.append(int(corrupted[i]))
        w.writerow(row)
    return buf.getvalue()
