import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import confusion_matrix

from labelnoise.common.noise import class_conditional, pair_flip_noise, symmetric_noise
from labelnoise.common.transition import CIFAR10_MAPPING, TransitionMatrix

N = 100_000


def realised(out, c):
    return confusion_matrix(out.clean.numpy(), out.noisy.numpy(), labels=range(c), normalize="true")


@settings(max_examples=5, deadline=None, derandomize=True, database=None)
@given(
    c=st.integers(2, 10),
    rate=st.floats(0.0, 0.9),
    kind=st.sampled_from(["symmetric", "pair_flip"]),
    seed=st.integers(0, 2**31 - 1),
)
def test_conveniences_realise_requested_matrix(c, rate, kind, seed):
    y = torch.arange(N) % c
    fn, t = {
        "symmetric": (symmetric_noise, TransitionMatrix.symmetric(c, rate)),
        "pair_flip": (pair_flip_noise, TransitionMatrix.pair_flip(c, rate)),
    }[kind]
    out = fn(y, c, rate, seed=seed)
    assert np.abs(realised(out, c) - t.numpy()).max() < 0.02
    assert torch.equal(out.is_corrupted, out.noisy != out.clean)
    assert abs(out.noise_rate - rate) < 0.01


def test_mapping_matrix_and_numpy_input():
    y = np.arange(N) % 10
    out = class_conditional(y, TransitionMatrix.from_mapping(10, CIFAR10_MAPPING, 0.4), seed=0)
    flipped_from = set(out.clean[out.is_corrupted].unique().tolist())
    assert flipped_from == set(CIFAR10_MAPPING)
    assert out.noisy.dtype == torch.long and torch.equal(out.clean, torch.as_tensor(y))


def test_array_transition_and_ignore_index_with_shape():
    y = torch.randint(0, 3, (4, 5, 6))
    y[:, 0] = -100
    out = class_conditional(y, [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]], seed=0)
    assert out.noisy.shape == y.shape
    assert torch.equal(out.noisy[y == -100], y[y == -100])
    assert not out.is_corrupted[y == -100].any()
    assert torch.equal(out.noisy[y != -100], (y[y != -100] + 1) % 3)


def test_rate_outside_unit_interval():
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\); got 1.2"):
        symmetric_noise(torch.zeros(3, dtype=torch.long), 3, 1.2)


def test_labels_out_of_range():
    with pytest.raises(
        ValueError, match=r"labels must be in \[0, 3\) \(or -100 to ignore\); got max 3"
    ):
        pair_flip_noise(torch.tensor([0, 3]), 3, 0.1)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\).*got min -1"):
        pair_flip_noise(torch.tensor([0, -1]), 3, 0.1)


def test_empty_labels():
    with pytest.raises(ValueError, match="labels must not be empty"):
        symmetric_noise(np.array([], dtype=np.int64), 3, 0.1)


def test_nan_labels():
    with pytest.raises(ValueError, match="labels must be integer labels; got NaN"):
        symmetric_noise(np.array([0.0, np.nan]), 3, 0.1)


def test_per_instance_transition_rejected():
    t = TransitionMatrix(torch.eye(3, dtype=torch.float64).expand(2, 3, 3))
    with pytest.raises(ValueError, match=r"transition must have shape \(C, C\); got \(2, 3, 3\)"):
        class_conditional(torch.tensor([0, 1]), t)
