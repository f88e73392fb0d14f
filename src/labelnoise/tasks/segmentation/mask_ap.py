"""COCO-style mask average precision (Lin et al., ECCV 2014; pycocotools ``COCOeval`` with
``iouType="segm"``): per category and IoU threshold 0.50:0.05:0.95, detections sorted by score
are greedily matched to the unmatched ground truth of highest IoU; precision is made monotone and
sampled at 101 recall points; AP is the mean over categories (with ground truth) and thresholds.
No crowd regions, no area ranges, at most ``max_dets`` detections per image."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["mask_average_precision", "mask_iou"]

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_POINTS = np.linspace(0.0, 1.0, 101)


def mask_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(D, H, W)`` x ``(G, H, W)`` bool -> ``(D, G)`` IoU."""
    a2 = a.reshape(len(a), -1).astype(np.float64)
    b2 = b.reshape(len(b), -1).astype(np.float64)
    inter = a2 @ b2.T
    union = a2.sum(1)[:, None] + b2.sum(1)[None] - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 0.0)


def _ap(tp: np.ndarray, scores: np.ndarray, n_gt: int) -> float:
    order = np.argsort(-scores, kind="mergesort")
    tp = tp[order]
    ctp, cfp = np.cumsum(tp), np.cumsum(~tp)
    recall = ctp / n_gt
    precision = ctp / np.maximum(ctp + cfp, np.finfo(float).eps)
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    idx = np.searchsorted(recall, RECALL_POINTS, side="left")
    return float(
        np.where(idx < len(precision), precision[np.minimum(idx, len(precision) - 1)], 0).mean()
    )


def mask_average_precision(
    predictions: Sequence[dict], targets: Sequence[dict], *, max_dets: int = 100
) -> dict[str, float]:
    """Mask AP of ``predictions`` against ``targets`` (one dict per image).

    Args:
        predictions: ``{"masks": (D, H, W) bool, "scores": (D,), "labels": (D,)}`` (numpy or
            torch).
        targets: ``{"masks": (G, H, W) bool, "labels": (G,)}``.

    Returns:
        ``{"map": AP@[.5:.95], "map_50": AP@.5, "map_75": AP@.75}``.
    """
    if len(predictions) != len(targets):
        raise ValueError(
            f"predictions and targets must have one entry per image; got {len(predictions)} "
            f"and {len(targets)}"
        )
    cats = sorted({int(c) for t in targets for c in np.asarray(t["labels"])})
    ap = np.zeros((len(cats), len(IOU_THRESHOLDS)))
    for ci, cat in enumerate(cats):
        tps: list[list[np.ndarray]] = [[] for _ in IOU_THRESHOLDS]
        scores, n_gt = [], 0
        for pred, tgt in zip(predictions, targets):
            g = np.asarray(tgt["masks"]).astype(bool)[np.asarray(tgt["labels"]) == cat]
            s = np.asarray(pred["scores"], dtype=float)
            keep = np.asarray(pred["labels"]) == cat
            d = np.asarray(pred["masks"]).astype(bool)[keep]
            s = s[keep]
            order = np.argsort(-s, kind="mergesort")[:max_dets]
            d, s = d[order], s[order]
            n_gt += len(g)
            scores.append(s)
            iou = mask_iou(d, g) if len(d) and len(g) else np.zeros((len(d), len(g)))
            for ti, thr in enumerate(IOU_THRESHOLDS):
                taken = np.zeros(len(g), dtype=bool)
                tp = np.zeros(len(d), dtype=bool)
                for di in range(len(d)):
                    cand = np.where(~taken & (iou[di] >= thr), iou[di], -1.0)
                    if len(g) and cand.max() >= 0:
                        j = int(cand.argmax())
                        taken[j] = tp[di] = True
                tps[ti].append(tp)
        all_scores = np.concatenate(scores) if scores else np.zeros(0)
        for ti in range(len(IOU_THRESHOLDS)):
            tp = np.concatenate(tps[ti]) if tps[ti] else np.zeros(0, dtype=bool)
            ap[ci, ti] = _ap(tp, all_scores, n_gt) if n_gt and len(tp) else 0.0
    if not cats:
        return {"map": float("nan"), "map_50": float("nan"), "map_75": float("nan")}
    return {
        "map": float(ap.mean()),
        "map_50": float(ap[:, 0].mean()),
        "map_75": float(ap[:, 5].mean()),
    }
