"""Streaming confident learning against cleanlab's batched and segmentation detectors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

pytest.importorskip("cleanlab")
from cleanlab.experimental.label_issues_batched import find_label_issues_batched  # noqa: E402
from cleanlab.segmentation.filter import find_label_issues as seg_find_label_issues  # noqa: E402
from cleanlab.segmentation.rank import get_label_quality_scores as seg_quality  # noqa: E402

from labelnoise.common.detection import (  # noqa: E402
    StreamingConfidentLearning,
    compute_confident_joint,
    estimate_joint,
    find_label_issues_streaming,
)
from labelnoise.common.units import reduce_units  # noqa: E402

from ._synthetic import make_pred_probs  # noqa: E402


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    n, k, h, w = 12, 5, 20, 24
    labels = rng.integers(0, k, (n, h, w))
    logits = rng.normal(size=(n, k, h, w)).astype(np.float32)
    np.put_along_axis(
        logits, labels[:, None], np.take_along_axis(logits, labels[:, None], 1) + 1.5, 1
    )
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    return labels, probs


def _jaccard(a, b):
    return np.count_nonzero(a & b) / max(np.count_nonzero(a | b), 1)


def test_segmentation_matches_cleanlab(images):
    labels, probs = images
    n, k = probs.shape[:2]
    ref = seg_find_label_issues(labels, probs, verbose=False, n_jobs=1)
    res = find_label_issues_streaming(
        lambda: ((labels[i : i + 5], probs[i : i + 5]) for i in range(0, n, 5)), k
    )
    assert _jaccard(res.is_issue.reshape(labels.shape), ref) >= 0.99
    ref_images, _ = seg_quality(labels, probs, verbose=False, n_jobs=1)
    np.testing.assert_allclose(res.example_quality, ref_images, atol=1e-6, rtol=0)
    np.testing.assert_array_equal(res.example_ids, np.arange(n))
    lean = find_label_issues_streaming(
        [(labels[i : i + 5], probs[i : i + 5]) for i in range(0, n, 5)], k, keep_unit_quality=False
    )
    np.testing.assert_array_equal(lean.is_issue, res.is_issue)
    assert lean.unit_quality is None


@pytest.mark.parametrize("method,adjust", [("self_confidence", False), ("normalized_margin", True)])
def test_flat_chunks_match_cleanlab_batched(method, adjust):
    labels, probs, _ = make_pred_probs(20_000, 7, seed=3)
    chunks = [(labels[i : i + 3000], probs[i : i + 3000]) for i in range(0, 20_000, 3000)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = find_label_issues_batched(
            labels,
            probs,
            batch_size=3000,
            verbose=False,
            return_mask=True,
            n_jobs=1,
            quality_score_kwargs={"method": method, "adjust_pred_probs": adjust},
        )
    res = find_label_issues_streaming(chunks, 7, method=method, adjust_pred_probs=adjust)
    assert _jaccard(res.is_issue, ref) >= 0.99
    np.testing.assert_array_equal(
        res.confident_joint, compute_confident_joint(labels, probs, calibrate=False)
    )
    np.testing.assert_allclose(res.estimate_joint(), estimate_joint(labels, probs), atol=1e-6)


def test_example_ids_reduce_like_reduce_units_and_ignore_index():
    labels, probs, _ = make_pred_probs(600, 4, seed=5)
    labels[::7] = -100
    ids = np.repeat(np.arange(60), 10)
    chunks = [(labels[i : i + 200], probs[i : i + 200], ids[i : i + 200]) for i in (0, 200, 400)]
    res = find_label_issues_streaming(chunks, 4, reduce="min")
    assert np.isnan(res.unit_quality[::7]).all() and not res.is_issue[::7].any()
    keep = labels != -100
    sc = probs[np.arange(600)[keep], labels[keep]]
    e, r = reduce_units(torch.from_numpy(sc), torch.from_numpy(ids[keep]), how="min")
    np.testing.assert_array_equal(res.example_ids, e.numpy())
    np.testing.assert_allclose(res.example_quality, r.numpy(), atol=1e-6)


def test_stream_misuse_is_rejected():
    labels, probs, _ = make_pred_probs(100, 3, seed=6)
    with pytest.raises(ValueError, match="re-iterable"):
        find_label_issues_streaming(iter([(labels, probs)]), 3)
    ids = np.arange(100)
    with pytest.raises(ValueError, match="example_id must increase"):
        find_label_issues_streaming([(labels, probs, ids), (labels, probs, ids)], 3)
    scl = StreamingConfidentLearning(3)
    scl.update_thresholds(labels, probs)
    with pytest.raises(ValueError, match="every unit scored"):
        scl.result()
    with pytest.raises(ValueError, match=r"shape \(B, 3, \*\)"):
        scl.score(labels, probs[:, :2])
