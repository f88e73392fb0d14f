"""Users' own data in (tables, saved Hugging Face datasets, ImageFolder) and label issues out,
joined back to the user's ids. Every dataset is built here in tmp_path (no hub)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from labelnoise.config import resolve
from labelnoise.engine import train
from labelnoise.tasks._hf import IdTensorDataset
from labelnoise.tasks.base import num_items
from labelnoise.tasks.classification import ClassificationAdapter, ClassificationConfig

pa = pytest.importorskip("pyarrow")

RUN = {
    "data": {"batch_size": 32},
    "optim": {"lr": 0.01},
    "train": {"epochs": 1, "progress": False, "num_threads": 1},
    "detection": {"folds": 2, "epochs": 1},
}


def _digits(n: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.data[:n].astype(np.float32), d.target[:n].astype(np.int64)


def _run(tmp_path: Path, name: str, task: dict) -> tuple[dict, list[dict[str, str]]]:
    cfg = {"output_dir": str(tmp_path / name), "task": {"name": "classification", **task}, **RUN}
    metrics = train(resolve(cfg))
    with open(tmp_path / name / "label_issues.csv", newline="") as f:
        return metrics, list(csv.DictReader(f))


def _ids(dataset: Any) -> list[str]:
    """The user's ids a dataset carries (IdTensorDataset.ids)."""
    assert isinstance(dataset, IdTensorDataset)
    return dataset.ids


def _check_sorted(rows: list[dict[str, str]]) -> None:
    q = [float(r["label_quality"]) for r in rows]
    assert q == sorted(q)


def _png(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _save_dataset(folder: Path, table, features: dict, split: str) -> None:
    """A ``Dataset.save_to_disk`` folder: Arrow stream file, state.json, dataset_info.json."""
    folder.mkdir(parents=True)
    with pa.OSFile(str(folder / "data-00000-of-00001.arrow"), "wb") as sink:
        with pa.ipc.new_stream(sink, table.schema) as w:
            w.write_table(table)
    state: dict[str, Any] = {
        "_data_files": [{"filename": "data-00000-of-00001.arrow"}],
        "_fingerprint": "0",
        "_format_columns": None,
        "_format_kwargs": {},
        "_format_type": None,
        "_output_all_columns": False,
        "_split": split,
    }
    (folder / "state.json").write_text(json.dumps(state))
    (folder / "dataset_info.json").write_text(json.dumps({"features": features}))


def test_parquet_table_with_string_labels_joins_issues_to_the_users_ids(tmp_path):
    x, y = _digits(240)
    flipped = np.zeros(len(y), dtype=bool)
    flipped[::6] = True
    given = np.where(flipped, (y + 3) % 10, y)
    frame = pd.DataFrame(x, columns=[f"px{i}" for i in range(x.shape[1])])
    frame.insert(0, "uid", [f"row-{i:04d}" for i in range(len(y))])
    frame["digit"] = [f"d{v}" for v in given]
    frame.to_parquet(tmp_path / "digits.parquet")
    task = {"dataset": str(tmp_path / "digits.parquet"), "label_column": "digit"}
    metrics, rows = _run(tmp_path, "pq", {**task, "id_column": "uid", "hidden": 16})
    assert metrics["train"]["examples"] == len(rows) == metrics["data"]["num_train"]
    by_id = dict(zip(frame["uid"], frame["digit"]))
    ids = [r["id"] for r in rows]
    assert len(set(ids)) == len(ids) and set(ids) <= set(by_id)
    # The join: each row's given label is the user's label of that id, by name.
    assert all(r["given_name"] == by_id[r["id"]] for r in rows)
    assert all(r["suggested_name"] == f"d{r['suggested_label']}" for r in rows)
    _check_sorted(rows)
    # The id column is no feature: 64 pixel columns only.
    adapter = ClassificationAdapter(
        ClassificationConfig(dataset=task["dataset"], label_column="digit", id_column="uid")
    )
    assert adapter.build_datasets(None, seed=0).train[0]["x"].shape == (64,)


def test_saved_hf_dataset_dict_with_images_class_labels_and_a_test_split(tmp_path):
    x, y = _digits(160)
    imgs = [_png(np.repeat((v.reshape(8, 8) * 15)[..., None], 3, axis=2)) for v in x]
    names = [f"digit_{k}" for k in range(10)]
    features = {
        "image": {"_type": "Image"},
        "label": {"names": names, "_type": "ClassLabel"},
        "key": {"dtype": "string", "_type": "Value"},
    }
    image_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    root = tmp_path / "hf"
    for split, part in (("train", slice(0, 120)), ("test", slice(120, 160))):
        table = pa.table(
            {
                "image": pa.array([{"bytes": b, "path": None} for b in imgs[part]], image_type),
                "label": pa.array(y[part]),
                "key": pa.array([f"{split}/{i}" for i in range(len(y[part]))]),
            }
        )
        _save_dataset(root / split, table, features, split)
    (root / "dataset_dict.json").write_text(json.dumps({"splits": ["train", "test"]}))
    task = {
        "dataset": str(root),
        "image_column": "image",
        "id_column": "key",
        "image_size": 8,
        "hidden": 16,
    }
    metrics, rows = _run(tmp_path, "run_hf", task)
    assert metrics["data"]["num_test"] == 40  # the saved test split, not a split-off share
    train_labels = {f"train/{i}": names[v] for i, v in enumerate(y[:120])}
    assert {r["id"] for r in rows} <= set(train_labels)
    assert all(r["given_name"] == train_labels[r["id"]] for r in rows)
    _check_sorted(rows)


def test_real_save_to_disk_folder_is_read(tmp_path):
    """Reference check against the ``datasets`` library itself (installed with
    ``labelnoise[hf]``)."""
    datasets = pytest.importorskip("datasets")
    x, y = _digits(100)
    ds = datasets.Dataset.from_dict(
        {"pixels": x.tolist(), "label": y.tolist(), "uid": [f"u{i}" for i in range(len(y))]},
        features=datasets.Features(
            {
                "pixels": datasets.Sequence(datasets.Value("float32")),
                "label": datasets.ClassLabel(names=[f"c{k}" for k in range(10)]),
                "uid": datasets.Value("string"),
            }
        ),
    )
    ds.save_to_disk(str(tmp_path / "saved"))
    cfg = ClassificationConfig(dataset=str(tmp_path / "saved"), id_column="uid", standardize=False)
    splits = ClassificationAdapter(cfg).build_datasets(None, seed=0)
    assert splits.class_names == [f"c{k}" for k in range(10)]
    for i in range(5):
        item, row = splits.train[i], int(_ids(splits.train)[i][1:])
        np.testing.assert_array_equal(item["x"].numpy(), x[row])
        assert int(item["clean_target"]) == y[row]
    # A DatasetDict with an Image column: the saved test split is the test split.
    pixels = [np.repeat((v.reshape(8, 8) * 15)[..., None], 3, axis=2) for v in x]
    images = datasets.Dataset.from_dict(
        {"img": [{"bytes": _png(p), "path": None} for p in pixels], "label": y.tolist()},
        features=datasets.Features({"img": datasets.Image(), "label": datasets.Value("int64")}),
    )
    datasets.DatasetDict(
        {"train": images.select(range(80)), "test": images.select(range(80, 100))}
    ).save_to_disk(str(tmp_path / "dd"))
    cfg = ClassificationConfig(dataset=str(tmp_path / "dd"), image_column="img", image_size=8)
    splits = ClassificationAdapter(cfg).build_datasets(None, seed=0)
    assert num_items(splits.test) == 20 and splits.train[0]["x"].shape == (3, 8, 8)
    row = int(_ids(splits.train)[0])
    np.testing.assert_allclose(
        splits.train[0]["x"].permute(1, 2, 0).numpy(), pixels[row] / 255.0, atol=1e-6
    )
    # NER: a sequence of ClassLabel tags.
    from labelnoise.tasks.ner.adapter import NERAdapter, NERConfig
    from tests.tasks.ner.tiny import make_tiny_bert

    names = ["O", "B-PER", "I-PER", "B-LOC", "B-ORG", "B-MISC"]
    ner = datasets.Dataset.from_dict(
        {
            "tokens": [w for w, _ in NER_ROWS],
            "ner_tags": [[names.index(t) for t in tags] for _, tags in NER_ROWS],
        },
        features=datasets.Features(
            {
                "tokens": datasets.Sequence(datasets.Value("string")),
                "ner_tags": datasets.Sequence(datasets.ClassLabel(names=names)),
            }
        ),
    )
    ner.save_to_disk(str(tmp_path / "ner"))
    model = make_tiny_bert(tmp_path / "bert")
    ner_splits = NERAdapter(NERConfig(dataset=str(tmp_path / "ner"), model=model)).build_datasets(
        None, seed=0
    )
    assert ner_splits.train.tags == [t for _, t in NER_ROWS]


def test_image_folder_ids_are_the_image_paths(tmp_path):
    x, y = _digits(90)
    for i, (v, label) in enumerate(zip(x, y)):
        folder = tmp_path / "images" / f"class_{label}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray((v.reshape(8, 8) * 15).astype(np.uint8)).save(folder / f"{i:03d}.png")
    task = {"dataset": str(tmp_path / "images"), "image_size": 8, "hidden": 16}
    metrics, rows = _run(tmp_path, "run_folder", task)
    assert len(rows) == metrics["train"]["examples"]
    for r in rows:
        assert (tmp_path / "images" / r["id"]).is_file()
        assert r["given_name"] == r["id"].split("/")[0]  # the class folder the image is in
    _check_sorted(rows)


def test_csv_of_image_paths_and_json_lines_features(tmp_path):
    x, y = _digits(40)
    (tmp_path / "img").mkdir()
    for i, v in enumerate(x):
        Image.fromarray((v.reshape(8, 8) * 15).astype(np.uint8)).save(tmp_path / "img" / f"{i}.png")
    pd.DataFrame({"file": [f"img/{i}.png" for i in range(40)], "label": y}).to_csv(
        tmp_path / "images.csv", index=False
    )
    cfg = ClassificationConfig(dataset=str(tmp_path / "images.csv"), image_column="file")
    cfg.image_size = 8
    splits = ClassificationAdapter(cfg).build_datasets(None, seed=0)
    item = splits.train[0]
    assert item["x"].shape == (3, 8, 8)
    row = int(_ids(splits.train)[0])
    expected = np.asarray(Image.open(tmp_path / "img" / f"{row}.png").convert("RGB")) / 255.0
    np.testing.assert_allclose(item["x"].permute(1, 2, 0).numpy(), expected, atol=1e-6)
    lines = "\n".join(json.dumps({"f": v.tolist(), "label": int(t)}) for v, t in zip(x, y))
    (tmp_path / "rows.jsonl").write_text(lines)
    cfg = ClassificationConfig(dataset=str(tmp_path / "rows.jsonl"), standardize=False)
    splits = ClassificationAdapter(cfg).build_datasets(None, seed=0)
    row = int(_ids(splits.train)[0])
    np.testing.assert_array_equal(splits.train[0]["x"].numpy(), x[row])


@pytest.mark.parametrize(
    ("task", "message"),
    [
        ({"label_column": "target"}, "task.label_column 'target' must be a column of"),
        ({"id_column": "uid"}, "task.id_column 'uid' must be a column of"),
        ({"feature_columns": ["a", "nope"]}, "task.feature_columns 'nope' must be a column of"),
        ({"feature_columns": ["name"]}, "column 'name' of"),
        ({"id_column": "dup"}, "must be unique"),
    ],
)
def test_errors_name_the_column_and_list_the_columns_present(tmp_path, task, message):
    frame = pd.DataFrame(
        {"a": [1.0, 2.0, 3.0], "name": ["x", "y", "z"], "dup": [1, 1, 2], "label": [0, 1, 0]}
    )
    frame.to_csv(tmp_path / "t.csv", index=False)
    cfg = ClassificationConfig(dataset=str(tmp_path / "t.csv"), **task)
    with pytest.raises(ValueError, match="must") as e:
        ClassificationAdapter(cfg).build_datasets(None, seed=0)
    assert message in str(e.value)
    if "must be a column of" in message:
        assert "['a', 'name', 'dup', 'label']" in str(e.value)


def test_cli_reports_a_missing_column_without_traceback(tmp_path, capsys):
    from labelnoise.cli import main

    pd.DataFrame({"a": [1.0, 2.0], "y": [0, 1]}).to_csv(tmp_path / "t.csv", index=False)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        f"output_dir: {tmp_path / 'out'}\ntask: {{name: classification, dataset: {tmp_path / 't.csv'}}}\n"
    )
    assert main(["train", str(recipe)]) == 2
    err = capsys.readouterr().err
    assert "task.label_column 'label'" in err and "Traceback" not in err


NER_ROWS = [
    (["Peter", "Blackburn", "visited", "Brussels"], ["B-PER", "I-PER", "O", "B-LOC"]),
    (["EU", "rejects", "German", "call"], ["B-ORG", "O", "B-MISC", "O"]),
    (["Anna", "lives", "in", "Paris"], ["B-PER", "O", "O", "B-LOC"]),
    (["Reuters", "reported", "it"], ["B-ORG", "O", "O"]),
]


def test_ner_reads_token_and_tag_columns_of_json_lines_and_a_saved_dataset(tmp_path):
    from tests.tasks.ner.tiny import make_tiny_bert, recipe

    model = make_tiny_bert(tmp_path / "bert")
    lines = [json.dumps({"words": w, "tags": t}) for w, t in NER_ROWS * 3]
    (tmp_path / "ner.jsonl").write_text("\n".join(lines))
    task = {"dataset": str(tmp_path / "ner.jsonl"), "tokens_column": "words"}
    task |= {"tags_column": "tags", "frozen": False}
    metrics = train(
        resolve(recipe(model, tmp_path, tmp_path / "run_ner", task=task, train={"epochs": 1}))
    )
    assert metrics["train"]["examples"] == 12 and metrics["test"] == {}  # no test split given

    # A saved DatasetDict whose tags are ids of a sequence of ClassLabel.
    names = ["O", "B-PER", "I-PER", "B-LOC", "B-ORG", "B-MISC"]
    features = {
        "tokens": {"feature": {"dtype": "string", "_type": "Value"}, "_type": "Sequence"},
        "ner_tags": {"feature": {"names": names, "_type": "ClassLabel"}, "_type": "Sequence"},
    }
    for split in ("train", "validation", "test"):
        table = pa.table(
            {
                "tokens": [w for w, _ in NER_ROWS],
                "ner_tags": [[names.index(t) for t in tags] for _, tags in NER_ROWS],
            }
        )
        _save_dataset(tmp_path / "ner_hf" / split, table, features, split)
    (tmp_path / "ner_hf" / "dataset_dict.json").write_text(
        json.dumps({"splits": ["train", "validation", "test"]})
    )
    from labelnoise.tasks.ner.adapter import NERAdapter, NERConfig

    adapter = NERAdapter(NERConfig(dataset=str(tmp_path / "ner_hf"), model=model))
    splits = adapter.build_datasets(None, seed=0)
    assert [num_items(s) for s in (splits.train, splits.val, splits.test)] == [4, 4, 4]
    assert splits.train.tags == [t for _, t in NER_ROWS]  # ids mapped to names
    bad = NERAdapter(NERConfig(dataset=str(tmp_path / "ner_hf"), model=model, tags_column="x"))
    with pytest.raises(ValueError, match=r"task.tags_column 'x' must be a column of .*'tokens'"):
        bad.build_datasets(None, seed=0)
