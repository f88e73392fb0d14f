import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import confusion_matrix

from labelnoise.common.transition import CIFAR10_MAPPING, TransitionMatrix

N = 100_000
PROPERTY = settings(max_examples=5, deadline=None, derandomize=True, database=None)


def realised(clean: torch.Tensor, noisy: torch.Tensor, c: int) -> np.ndarray:
    """Reference: sklearn's row-normalised confusion matrix, P(noisy = j | clean = i)."""
    return confusion_matrix(clean.numpy(), noisy.numpy(), labels=range(c), normalize="true")


def balanced(c: int) -> torch.Tensor:
    return torch.arange(N) % c


def assert_realised_close(t: TransitionMatrix, seed: int) -> None:
    y = balanced(t.num_classes)
    noisy = t.sample(y, seed=seed)
    assert np.abs(realised(y, noisy, t.num_classes) - t.numpy()).max() < 0.02


@PROPERTY
@given(c=st.integers(2, 10), rate=st.floats(0.0, 0.95), seed=st.integers(0, 2**31 - 1))
def test_symmetric_realised_close(c, rate, seed):
    t = TransitionMatrix.symmetric(c, rate)
    np.testing.assert_allclose(np.diag(t.numpy()), 1 - rate)
    assert_realised_close(t, seed)


@PROPERTY
@given(c=st.integers(2, 10), rate=st.floats(0.0, 0.95), seed=st.integers(0, 2**31 - 1))
def test_pair_flip_realised_close(c, rate, seed):
    t = TransitionMatrix.pair_flip(c, rate)
    assert all(t.numpy()[i, (i + 1) % c] == pytest.approx(rate if c > 1 else 0) for i in range(c))
    assert_realised_close(t, seed)


@PROPERTY
@given(rate=st.floats(0.0, 0.95), seed=st.integers(0, 2**31 - 1))
def test_mapping_realised_close(rate, seed):
    t = TransitionMatrix.from_mapping(10, CIFAR10_MAPPING, rate)
    m = t.numpy()
    assert m[9, 1] == pytest.approx(rate) and m[3, 5] == pytest.approx(rate)
    assert m[5, 3] == pytest.approx(rate) and m[0, 0] == 1.0 and m[1, 1] == 1.0
    assert_realised_close(t, seed)


@PROPERTY
@given(
    c=st.integers(2, 10),
    frac=st.floats(0.05, 1.0),
    t_seed=st.integers(0, 10_000),
    seed=st.integers(0, 2**31 - 1),
)
def test_random_trace_realised_close(c, frac, t_seed, seed):
    trace = frac * c
    t = TransitionMatrix.random(c, trace=trace, seed=t_seed)
    assert t.is_valid()
    assert float(np.trace(t.numpy())) == pytest.approx(trace, abs=1e-9)
    assert_realised_close(t, seed)


@PROPERTY
@given(c=st.integers(2, 8), frac=st.floats(0.1, 1.0), seed=st.integers(0, 10_000))
def test_column_stochastic_round_trip(c, frac, seed):
    t = TransitionMatrix.random(c, trace=frac * c, seed=seed)
    col = t.to_column_stochastic()
    np.testing.assert_allclose(col.sum(0).numpy(), 1.0)
    assert TransitionMatrix.from_column_stochastic(col) == t


def test_column_convention_matches_cleanlab():
    from cleanlab.benchmarking.noise_generation import (
        generate_noise_matrix_from_trace,
        generate_noisy_labels,
    )

    c = 4
    nm = generate_noise_matrix_from_trace(c, 2.8, py=np.full(c, 1 / c), seed=3)
    t = TransitionMatrix.from_column_stochastic(nm)
    np.testing.assert_allclose(t.numpy(), nm.T)
    y = balanced(c)
    theirs = torch.as_tensor(generate_noisy_labels(y.numpy(), nm))
    ours = t.sample(y, seed=0)
    assert np.abs(realised(y, theirs, c) - realised(y, ours, c)).max() < 0.02


def test_sample_reproducible_and_seed_dependent():
    t = TransitionMatrix.symmetric(5, 0.4)
    y = balanced(5)[:5000]
    assert torch.equal(t.sample(y, seed=1), t.sample(y, seed=1))
    assert not torch.equal(t.sample(y, seed=1), t.sample(y, seed=2))
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    assert torch.equal(t.sample(y, seed=g1), t.sample(y, seed=g2))


def test_sample_keeps_ignore_index_and_shape():
    t = TransitionMatrix.symmetric(3, 0.9)
    y = torch.tensor([[0, -100, 2], [1, 1, -100]])
    out = t.sample(y, seed=0)
    assert out.shape == y.shape
    assert torch.equal(out[y == -100], y[y == -100])


def test_sample_zero_probability_classes_never_drawn():
    t = TransitionMatrix.pair_flip(6, 0.5)
    y = balanced(6)[:60_000]
    noisy = t.sample(y, seed=0)
    assert set(((noisy - y) % 6).unique().tolist()) == {0, 1}


def test_sample_per_annotator_matrices():
    mats = torch.stack([torch.eye(3, dtype=torch.float64), torch.ones(3, 3) / 3])
    t = TransitionMatrix(mats)
    y = torch.arange(30_000) % 3
    annotator = torch.arange(30_000) % 2
    noisy = t.sample(y, seed=0, index=annotator)
    assert torch.equal(noisy[annotator == 0], y[annotator == 0])
    flipped = (noisy[annotator == 1] != y[annotator == 1]).float().mean()
    assert abs(float(flipped) - 2 / 3) < 0.02


def test_from_counts_matches_sklearn_and_fills_empty_rows():
    rng = np.random.default_rng(0)
    clean = rng.integers(0, 3, 500)
    noisy = np.where(rng.random(500) < 0.3, rng.integers(0, 3, 500), clean)
    t = TransitionMatrix.from_counts(clean, noisy, num_classes=4)
    ref = confusion_matrix(clean, noisy, labels=range(4), normalize="true")
    np.testing.assert_allclose(t.numpy()[:3], ref[:3])
    np.testing.assert_allclose(t.numpy()[3], [0, 0, 0, 1])


def test_from_counts_smoothing():
    t = TransitionMatrix.from_counts([0, 0, 1], [0, 0, 1], num_classes=2, smoothing=1.0)
    np.testing.assert_allclose(t.numpy(), [[3 / 4, 1 / 4], [1 / 3, 2 / 3]])


def test_noise_rate_with_prior():
    t = TransitionMatrix([[0.9, 0.1], [0.4, 0.6]])
    assert t.noise_rate() == pytest.approx(1 - (0.9 + 0.6) / 2)
    assert t.noise_rate([0.75, 0.25]) == pytest.approx(1 - (0.75 * 0.9 + 0.25 * 0.6))


def test_forward_and_backward_correction():
    t = TransitionMatrix([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.0, 0.3, 0.7]])
    probs = torch.softmax(torch.randn(4, 3, dtype=torch.float64), 1)
    fwd = t.forward(probs)
    np.testing.assert_allclose(fwd.numpy(), probs.numpy() @ t.numpy())
    np.testing.assert_allclose(fwd.sum(1).numpy(), 1.0)
    # Backward correction is unbiased: E_{noisy ~ T[y]} corrected[:, noisy] = loss[:, y].
    loss = torch.rand(4, 3, dtype=torch.float64)
    corrected = t.backward(loss)
    np.testing.assert_allclose((corrected @ t.matrix.T).numpy(), loss.numpy(), atol=1e-12)
    np.testing.assert_allclose((t.matrix @ t.inverse()).numpy(), np.eye(3), atol=1e-12)


def test_per_instance_forward_and_backward():
    mats = torch.stack([TransitionMatrix.symmetric(3, r).matrix for r in (0.0, 0.2, 0.5)])
    t = TransitionMatrix(mats)
    probs = torch.softmax(torch.randn(3, 3, dtype=torch.float64), 1)
    ref = torch.stack([probs[n] @ mats[n] for n in range(3)])
    torch.testing.assert_close(t.forward(probs), ref)
    loss = torch.rand(3, 3, dtype=torch.float64)
    ref = torch.stack([torch.linalg.solve(mats[n], loss[n]) for n in range(3)])
    torch.testing.assert_close(t.backward(loss), ref)


def test_bad_prior():
    with pytest.raises(ValueError, match=r"prior must have shape \(2,\); got \(3,\)"):
        TransitionMatrix.symmetric(2, 0.1).noise_rate([0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match="prior must be finite, non-negative"):
        TransitionMatrix.symmetric(2, 0.1).noise_rate([-0.5, 1.5])


def test_inverse_of_singular_matrix_raises():
    with pytest.raises(ValueError, match="singular"):
        TransitionMatrix.symmetric(2, 0.5).inverse()


def test_leading_dims_noise_rate():
    t = TransitionMatrix(torch.stack([torch.eye(2), torch.full((2, 2), 0.5)]).double())
    np.testing.assert_allclose(t.noise_rate().numpy(), [0.0, 0.5])


# ------------------------------------------------------------------ bad input, one per case
@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, float("nan")])
def test_rate_outside_unit_interval(rate):
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\); got"):
        TransitionMatrix.symmetric(10, rate)


def test_rows_not_summing_to_one():
    with pytest.raises(ValueError, match="matrix rows must sum to 1.*summing to 0.9"):
        TransitionMatrix([[0.5, 0.4], [0.0, 1.0]])


def test_negative_entries():
    with pytest.raises(ValueError, match="matrix entries must be non-negative; got min -0.2"):
        TransitionMatrix([[1.2, -0.2], [0.0, 1.0]])


def test_non_square_matrix():
    with pytest.raises(ValueError, match=r"matrix must have shape \(\.\.\., C, C\); got \(2, 3\)"):
        TransitionMatrix(np.ones((2, 3)) / 3)


def test_labels_at_or_above_num_classes():
    with pytest.raises(ValueError, match=r"clean must be in \[0, 10\).*got max 12"):
        TransitionMatrix.symmetric(10, 0.2).sample(torch.tensor([0, 12]), seed=0)


def test_negative_labels_other_than_ignore_index():
    t = TransitionMatrix.symmetric(10, 0.2)
    t.sample(torch.tensor([0, -100]), seed=0)
    with pytest.raises(ValueError, match=r"clean must be in \[0, 10\).*got min -3"):
        t.sample(torch.tensor([0, -3]), seed=0)


def test_empty_labels():
    with pytest.raises(ValueError, match="clean must not be empty"):
        TransitionMatrix.from_counts([], [])


def test_nan_labels():
    with pytest.raises(ValueError, match="clean must be integer labels; got NaN"):
        TransitionMatrix.symmetric(3, 0.1).sample(np.array([0.0, np.nan]), seed=0)


def test_mismatched_shapes():
    with pytest.raises(
        ValueError, match=r"clean and noisy must have the same shape.*\(2,\).*\(1,\)"
    ):
        TransitionMatrix.from_counts([0, 1], [0])


def test_bad_num_classes_and_trace():
    with pytest.raises(ValueError, match="num_classes must be an integer >= 2; got 1"):
        TransitionMatrix.symmetric(1, 0.1)
    with pytest.raises(ValueError, match=r"trace must be in \(0, 3\]; got 4"):
        TransitionMatrix.random(3, trace=4)
    with pytest.raises(ValueError, match=r"mapping key must be in \[0, 3\); got 5"):
        TransitionMatrix.from_mapping(3, {5: 0}, 0.1)
