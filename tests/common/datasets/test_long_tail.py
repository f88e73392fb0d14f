"""The long-tailed protocol: Cao et al.'s exponential profile and the classification task's
``imbalance_ratio`` (digits and CIFAR-10N, subsampled by the clean class before the noise)."""

from __future__ import annotations

import numpy as np
import pytest

from labelnoise.common.datasets.long_tail import long_tailed_counts, long_tailed_subset


def test_counts_are_cao_et_al_cifar10_lt():
    # CIFAR-10-LT of LDAM-DRW (Cao et al., 2019): 5,000 head images, ratio 100 and 10
    assert long_tailed_counts(5000, 10, 100).tolist() == [
        5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50
    ]  # fmt: skip
    assert long_tailed_counts(5000, 10, 10).tolist() == [
        5000, 3871, 2997, 2320, 1796, 1391, 1077, 834, 645, 500
    ]  # fmt: skip
    assert long_tailed_counts(7, 3, 1).tolist() == [7, 7, 7]


def test_subset_follows_the_profile_and_the_seed():
    y = np.repeat(np.arange(4), 100)[np.random.default_rng(0).permutation(400)]
    idx = long_tailed_subset(y, 4, 10.0, seed=3)
    assert np.bincount(y[idx], minlength=4).tolist() == [100, 46, 21, 10]
    assert np.all(np.diff(idx) > 0)
    assert np.array_equal(idx, long_tailed_subset(y, 4, 10.0, seed=3))
    assert not np.array_equal(idx, long_tailed_subset(y, 4, 10.0, seed=4))
    few = np.array([0] * 10 + [1] * 2)  # a class with fewer than its target keeps them all
    assert np.bincount(few[long_tailed_subset(few, 2, 2.0, seed=0)]).tolist() == [10, 2]


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((5, 10, 0.5), "imbalance ratio must be a finite number >= 1"),
        ((5, 1, 10), "num_classes must be >= 2"),
        ((0, 10, 10), "n_max must be >= 1"),
    ],
)
def test_counts_refuse_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        long_tailed_counts(*args)


def _adapter(**kw):
    from labelnoise.tasks.classification import ClassificationAdapter, ClassificationConfig

    return ClassificationAdapter(ClassificationConfig(**kw))


def test_digits_training_split_is_long_tailed_before_the_noise():
    from labelnoise.tasks.classification import NoiseConfig

    plain = _adapter(dataset="digits", val_fraction=0.2, split_seed=0).build_datasets(None, seed=0)
    adapter = _adapter(
        dataset="digits",
        val_fraction=0.2,
        split_seed=0,
        imbalance_ratio=10,
        noise=NoiseConfig(kind="symmetric", rate=0.4),
    )
    splits = adapter.build_datasets(None, seed=0)
    counts = np.bincount(splits.train.clean.numpy(), minlength=10)
    have = np.bincount(plain.train.clean.numpy(), minlength=10)
    # n_max: the largest class; a class with fewer than its target keeps all it has
    want = np.minimum(long_tailed_counts(int(have.max()), 10, 10), have)
    assert counts.tolist() == want.tolist() and counts[-1] == int(have.max()) // 10
    assert splits.info["train_class_counts"] == counts.tolist()
    assert len(splits.val) == len(plain.val) and len(splits.test) == len(plain.test)
    rate = float((splits.train.target != splits.train.clean).double().mean())
    assert 0.3 < rate < 0.5  # the noise comes after the subsampling, at its rate


def test_cifar10n_is_subsampled_by_the_clean_class(tmp_path):
    from tests.common.datasets.test_cifar10n import fake_cifar10n_root

    root = fake_cifar10n_root(tmp_path)[0]
    adapter = _adapter(dataset="cifar10n", label_set="worst", val_fraction=0.0, imbalance_ratio=3)
    splits = adapter.build_datasets(root, seed=0)
    clean = splits.train.clean.numpy()
    full = _adapter(dataset="cifar10n", val_fraction=0.0).build_datasets(root, seed=0)
    have = np.bincount(full.train.clean.numpy(), minlength=10)
    want = np.minimum(long_tailed_counts(int(have.max()), 10, 3), have)
    assert np.bincount(clean, minlength=10).tolist() == want.tolist()
    assert splits.info["train_class_counts"] == want.tolist()
    assert (splits.train.target != splits.train.clean).any()  # the human labels are kept


@pytest.mark.parametrize("bad", [0.5, float("nan"), True])
def test_imbalance_ratio_is_checked(bad):
    from labelnoise.tasks.classification import ClassificationConfig

    with pytest.raises(ValueError, match="task.imbalance_ratio must be a number >= 1 or null"):
        ClassificationConfig(imbalance_ratio=bad)
