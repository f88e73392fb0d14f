"""Audio tagging from a user's table (Parquet, JSON Lines) or a saved Hugging Face dataset
(``datasets.Dataset.save_to_disk`` with an ``Audio`` column): trained through the engine, with
label issues joined back to the user's clip ids."""

from __future__ import annotations

import copy
import csv
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labelnoise.config import resolve
from labelnoise.engine import train
from labelnoise.tasks.audio.tables import is_fsdkaggle_csv, read_tag_table
from tests.tasks.audio.fixtures import RECIPE, write_clips
from tests.tasks.test_hf_data import _save_dataset

pytest.importorskip("pyarrow")


def _rows(root: Path) -> list[tuple[str, list[str]]]:
    """``(file name, tags)`` of the fixture clips (from its FSDKaggle CSV)."""
    with (root / "train.csv").open(newline="") as f:
        return [(r["fname"], [t for t in r["labels"].split(",") if t]) for r in csv.DictReader(f)]


def _train(root: Path, task: dict) -> tuple[dict, list[dict[str, str]]]:
    recipe = copy.deepcopy(RECIPE)
    recipe["task"].update(task)
    recipe["train"]["epochs"] = 1
    recipe["detection"] = {"method": "kfold", "folds": 2, "epochs": 1}
    cfg = resolve(recipe, {"output_dir": str(root / "run"), "data": {"data_dir": str(root)}})
    metrics = train(cfg)
    with (root / "run" / "label_issues.csv").open(newline="") as f:
        return metrics, list(csv.DictReader(f))


def test_parquet_table_trains_and_label_issues_carry_the_users_ids(tmp_path):
    write_clips(tmp_path)
    rows = _rows(tmp_path)
    frame = pd.DataFrame(
        {
            "uid": [f"user-{i:03d}" for i in range(len(rows))],
            "file": [f for f, _ in rows],
            "labels": [t for _, t in rows],
        }
    )
    frame.to_parquet(tmp_path / "clips.parquet")
    assert not is_fsdkaggle_csv(tmp_path / "clips.parquet")
    metrics, issues = _train(
        tmp_path,
        {
            "dataset": "clips.parquet",
            "audio_column": "file",
            "tags_column": "labels",
            "id_column": "uid",
        },
    )
    assert np.isfinite(metrics["test"]["lwlrap"])
    assert issues and {"example_id", "id"} <= set(issues[0])
    assert all(r["id"].startswith("user-") for r in issues)


def test_jsonl_with_comma_separated_tags_reads_like_the_fsdkaggle_csv(tmp_path):
    write_clips(tmp_path)
    rows = _rows(tmp_path)
    lines = [json.dumps({"audio": f, "tags": ",".join(t)}) for f, t in rows]
    (tmp_path / "clips.jsonl").write_text("\n".join(lines) + "\n")
    train_recs, test_recs, vocab = read_tag_table(tmp_path / "clips.jsonl")
    assert test_recs is None
    assert vocab == sorted({t for _, ts in rows for t in ts})
    assert [r.tags for r in train_recs] == [tuple(t) for _, t in rows]
    assert [r.uid for r in train_recs] == [f for f, _ in rows]
    assert all(r.path == tmp_path / f for r, (f, _) in zip(train_recs, rows, strict=True))


def test_saved_hugging_face_dataset_with_embedded_audio_and_classlabel_tags(tmp_path):
    """A ``DatasetDict.save_to_disk`` layout (as tests/tasks/test_hf_data.py builds it): an
    ``Audio`` column of embedded bytes and a ``Sequence(ClassLabel)`` tag column."""
    import pyarrow as pa

    write_clips(tmp_path)
    rows = _rows(tmp_path)
    names = ["high", "low", "mid"]
    features = {
        "audio": {"_type": "Audio", "sampling_rate": 8000, "decode": False},
        "tags": {"_type": "Sequence", "feature": {"_type": "ClassLabel", "names": names}},
        "clip_id": {"_type": "Value", "dtype": "string"},
    }
    for split, part in (("train", range(16)), ("test", range(16, 20))):
        table = pa.table(
            {
                "audio": [
                    {"bytes": (tmp_path / rows[i][0]).read_bytes(), "path": rows[i][0]}
                    for i in part
                ],
                "tags": [[names.index(t) for t in rows[i][1]] for i in part],
                "clip_id": [f"c{i}" for i in part],
            }
        )
        _save_dataset(tmp_path / "hf" / split, table, features, split)
    (tmp_path / "hf" / "dataset_dict.json").write_text(json.dumps({"splits": ["train", "test"]}))
    for p in tmp_path.glob("clip*.wav"):  # the bytes in the dataset are all there is
        p.unlink()
    train_recs, test_recs, vocab = read_tag_table(tmp_path / "hf", id_column="clip_id")
    assert vocab == sorted({t for _, ts in rows for t in ts})
    assert test_recs is not None and len(test_recs) == 4 and len(train_recs) == 16
    assert [r.tags for r in train_recs] == [tuple(t) for _, t in rows[:16]]
    assert all(r.data for r in train_recs)
    metrics, issues = _train(tmp_path, {"dataset": "hf", "id_column": "clip_id"})
    assert np.isfinite(metrics["test"]["lwlrap"])
    assert {r["id"] for r in issues} <= {f"c{i}" for i in range(16)}


def test_bad_tables_name_the_option_the_file_and_the_columns(tmp_path):
    write_clips(tmp_path)
    rows = _rows(tmp_path)
    frame = pd.DataFrame({"file": [f for f, _ in rows], "labels": [t for _, t in rows]})
    frame.to_parquet(tmp_path / "a.parquet")
    with pytest.raises(
        ValueError,
        match=r"task.audio_column 'audio' must be a column of .*a\.parquet; got columns \['file', 'labels'\]",
    ):
        read_tag_table(tmp_path / "a.parquet", tags_column="labels")
    with pytest.raises(ValueError, match=r"task.tags_column 'tags' must be a column"):
        read_tag_table(tmp_path / "a.parquet", audio_column="file")
    with pytest.raises(ValueError, match=r"task.vocabulary must hold every tag"):
        read_tag_table(
            tmp_path / "a.parquet", audio_column="file", tags_column="labels", vocabulary=["low"]
        )
    frame.assign(uid=1).to_parquet(tmp_path / "b.parquet")
    with pytest.raises(ValueError, match=r"task.id_column 'uid' must be unique"):
        read_tag_table(
            tmp_path / "b.parquet", audio_column="file", tags_column="labels", id_column="uid"
        )
    frame.assign(labels=1.5).to_parquet(tmp_path / "c.parquet")
    with pytest.raises(
        ValueError, match=r"c\.parquet row 0, task.tags_column 'labels': tags must be"
    ):
        read_tag_table(tmp_path / "c.parquet", audio_column="file", tags_column="labels")
    buf = io.StringIO()
    frame.assign(file=None).to_json(buf, orient="records", lines=True)
    (tmp_path / "d.jsonl").write_text(buf.getvalue())
    with pytest.raises(
        ValueError, match=r"d\.jsonl row 0, task.audio_column 'file': audio must be"
    ):
        read_tag_table(tmp_path / "d.jsonl", audio_column="file", tags_column="labels")
