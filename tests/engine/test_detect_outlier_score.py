"""detection.score = outlier_<method>: the engine ranks examples by the outlier score."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labelnoise.common.detection import get_label_quality_scores
from labelnoise.common.detection.outlier import outlier_scores_from_pred_probs
from labelnoise.config import deep_merge, parse_overrides, resolve
from labelnoise.engine import train
from labelnoise.engine.detect import detection_quality

from ..common.detection._synthetic import make_pred_probs

TINY = {
    "task": {"name": "classification", "hidden": 16, "noise": {"kind": "symmetric", "rate": 0.4}},
    "data": {"limit": 120, "eval_limit": 61, "batch_size": 20},
    "optim": {"lr": 0.01},
    "train": {"epochs": 2, "progress": False, "num_threads": 1},
    "detection": {"method": "dynamics", "score": "outlier_entropy"},
}


@pytest.mark.parametrize("score", ["outlier_entropy", "outlier_least_confidence"])
def test_detection_quality_is_the_outlier_score(score: str) -> None:
    labels, p, _ = make_pred_probs(200, 5, seed=1)
    want = outlier_scores_from_pred_probs(p, labels, method=score.removeprefix("outlier_"))
    np.testing.assert_array_equal(detection_quality(labels, p, score), want)
    # the label-quality methods are unchanged
    np.testing.assert_array_equal(
        detection_quality(labels, p, "normalized_margin"),
        get_label_quality_scores(labels, p, method="normalized_margin"),
    )


def test_config_accepts_and_names_the_option() -> None:
    cfg = resolve(deep_merge(TINY, {"output_dir": "unused"}))
    assert cfg.detection.score == "outlier_entropy"
    with pytest.raises(ValueError, match="detection.score"):
        resolve(
            deep_merge(TINY, {"output_dir": "unused"}),
            parse_overrides(["--detection.score=outlier_knn"]),
        )


def test_run_ranks_label_issues_by_outlier_score(tmp_path: Path) -> None:
    cfg = resolve(deep_merge(TINY, {"output_dir": str(tmp_path / "run")}))
    train(cfg)
    table = pd.read_csv(tmp_path / "run" / "label_issues.csv")
    q = table["label_quality"].to_numpy()
    assert len(table) == 120 and np.all((q >= 0) & (q <= 1))
    assert np.all(np.diff(q) >= 0)  # lowest outlier score (most atypical) first
