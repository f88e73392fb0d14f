"""Every annotator's label in the classification task (``labelnoise.tasks._annotators``):
answer slots, the single target (majority vote checked against CIFAR-10N's published
``aggre_label`` and crowd-kit-style MV, Dawid-Skene), CIFAR-10N's three labels with their
workers read independently from the published files, a user's long answer table, the errors."""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest
import torch

from labelnoise.tasks._annotators import AnnotatedDataset, aggregate, slots
from labelnoise.tasks.base import TensorDataset
from labelnoise.tasks.classification import (
    ClassificationAdapter,
    ClassificationConfig,
    NoiseConfig,
)


def _adapter(**kw) -> ClassificationAdapter:
    return ClassificationAdapter(ClassificationConfig(**kw))


def test_slots_keep_row_order_and_mark_missing():
    labels, annots = slots(
        np.array([2, 0, 2, 2]), np.array([5, 1, 3, 0]), np.array([1, 4, 2, 3]), 4
    )
    assert labels.tolist() == [[4, -1, -1], [-1, -1, -1], [1, 2, 3], [-1, -1, -1]]
    assert annots.tolist() == [[1, -1, -1], [-1, -1, -1], [5, 3, 0], [-1, -1, -1]]


def test_majority_vote_and_dawid_skene_targets():
    ann = np.array([[1, 1, 0], [2, 0, 0], [0, 1, 2], [3, -1, -1]])
    ids = np.array([[0, 1, 2], [0, 1, 2], [0, 1, 2], [1, -1, -1]])
    # majority; a three-way tie goes to the smallest class; a single answer is the target
    assert aggregate(ann, ids, 4, "mv").tolist() == [1, 0, 0, 3]
    ds = aggregate(ann, ids, 4, "ds")
    assert ds.shape == (4,) and ds[3] == 3
    with pytest.raises(ValueError, match="task.annotation_target"):
        aggregate(ann, ids, 4, "median")


def test_annotated_dataset_adds_columns_and_keeps_the_base():
    base = TensorDataset(torch.randn(3, 2), torch.tensor([0, 1, 1]), torch.tensor([0, 1, 0]))
    ds = AnnotatedDataset(
        base, np.array([[0, 1], [1, -1], [1, 1]]), np.array([[0, 1], [1, -1], [0, 1]])
    )
    item = ds[1]
    assert item["annotations"].tolist() == [1, -1] and item["annotator_ids"].tolist() == [1, -1]
    assert torch.equal(ds.target, base.target)  # attributes of the base
    cols = ds.tensors()
    assert cols is not None and cols["annotations"].shape == (3, 2)
    with pytest.raises(ValueError, match="annotations and annotator_ids"):
        AnnotatedDataset(base, np.zeros((2, 2)), np.zeros((2, 2)))


def _digits_answers(tmp_path, rows):
    pd.DataFrame(rows, columns=["task", "worker", "label"]).to_csv(tmp_path / "a.csv", index=False)
    return str(tmp_path / "a.csv")


def test_user_answer_table_by_row_number(tmp_path):
    from sklearn.datasets import load_digits

    y = load_digits().target
    rng = np.random.default_rng(0)
    rows = [
        (i, w, int(y[i]) if w != "c" else int(rng.integers(0, 10)))
        for i in range(len(y))
        for w in "abc"
    ]
    path = _digits_answers(tmp_path, rows)
    splits = _adapter(dataset="digits", annotations=path, val_fraction=0.1).build_datasets(
        None, seed=0
    )
    batch = torch.utils.data.default_collate([splits.train[i] for i in range(4)])
    assert batch["annotations"].shape == (4, 3) and batch["annotator_ids"].shape == (4, 3)
    # two of three annotators are right: the majority vote is the clean label
    assert torch.equal(splits.train.target, splits.train.clean)
    assert splits.val is not None and "annotations" in splits.val[0]
    assert "annotations" not in splits.test[0]
    assert splits.info["num_annotators"] == 3
    assert splits.info["answers_per_item"] == 3.0
    assert 0.2 < splits.info["annotation_noise_rate"] < 0.4  # one random answer in three


def test_user_answer_table_errors(tmp_path):
    rows = [(i, "a", 0) for i in range(100)]
    path = _digits_answers(tmp_path, rows)
    with pytest.raises(ValueError, match="task.annotations must answer every"):
        _adapter(dataset="digits", annotations=path).build_datasets(None, seed=0)
    path = _digits_answers(tmp_path, [(5000, "a", 0)])
    with pytest.raises(ValueError, match="task '5000' is not one of row numbers"):
        _adapter(dataset="digits", annotations=path).build_datasets(None, seed=0)
    path = _digits_answers(tmp_path, [(0, "a", 12)])
    with pytest.raises(ValueError, match=r"integers in \[0, 10\)"):
        _adapter(dataset="digits", annotations=path).build_datasets(None, seed=0)
    with pytest.raises(FileNotFoundError, match="task.annotations"):
        _adapter(dataset="digits", annotations=str(tmp_path / "none.csv")).build_datasets(
            None, seed=0
        )
    with pytest.raises(ValueError, match="task.noise.kind"):
        ClassificationConfig(
            dataset="digits", annotations=path, noise=NoiseConfig(kind="symmetric", rate=0.2)
        )
    with pytest.raises(ValueError, match="label_set 'annotators'"):
        ClassificationConfig(dataset="cifar10n", annotations=path)
    with pytest.raises(ValueError, match="annotators"):
        ClassificationConfig(dataset="cifar10n", label_set="annotator")


def test_cifar10n_annotators_real_data(data_dir):
    """The three labels and workers of a 300-image subset equal the published arrays and the
    side-info CSV at the images' standard indices (read independently here); where two of
    three agree, the majority-vote target equals CIFAR-10N's published aggre_label."""
    from labelnoise.common.datasets.cifar10n import read_cifar10n
    from tests.conftest import require_data

    require_data(data_dir / "cifar10" / "train.zip")
    human = data_dir / "cifar10n" / "CIFAR-10_human.pt"
    require_data(human)
    with open(data_dir / "cifar10" / "train_labels.csv", newline="") as f:
        train_index = np.array([int(r["cifar10_train_index"]) for r in csv.DictReader(f)])
    with open(data_dir / "cifar10n" / "side_info_cifar10N.csv", newline="") as f:
        side = list(csv.DictReader(f))
    workers = np.stack(
        [np.repeat([int(r[f"Worker{k}-id"]) for r in side], 10) for k in (1, 2, 3)], 1
    )
    adapter = _adapter(dataset="cifar10n", label_set="annotators", train_size=300, val_fraction=0)
    splits = adapter.build_datasets(data_dir, seed=0)
    tr = splits.train
    std = train_index[tr.index]
    given = np.stack([read_cifar10n(human, f"random{k}")[std] for k in (1, 2, 3)], 1)
    np.testing.assert_array_equal(tr.annotations.numpy(), given)
    # annotator codes are the sorted worker ids of the subset
    uniq = np.unique(workers[std])
    np.testing.assert_array_equal(uniq[tr.annotator_ids.numpy()], workers[std])
    assert splits.info["num_annotators"] == len(uniq)
    aggre = read_cifar10n(human, "aggre")[std]
    agree = np.array([np.bincount(g, minlength=10).max() >= 2 for g in given])
    assert agree.mean() > 0.8
    np.testing.assert_array_equal(tr.target.numpy()[agree], aggre[agree])
    np.testing.assert_array_equal(tr.clean.numpy(), read_cifar10n(human, "clean")[std])
