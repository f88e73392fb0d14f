import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import truncnorm

from labelnoise.common.noise import instance_dependent
from labelnoise.common.noise.instance_dependent import _draw_rows, _flip_rates

N = 100_000
FEATURES = torch.randn(N, 16, generator=torch.Generator().manual_seed(0))
LABELS = torch.arange(N) % 10


@settings(max_examples=5, deadline=None, derandomize=True, database=None)
@given(
    rate=st.floats(0.0, 0.6),
    max_flip=st.sampled_from([1.0, 0.7]),
    seed=st.integers(0, 2**31 - 1),
)
def test_mean_rate_within_002(rate, max_flip, seed):
    out = instance_dependent(
        LABELS, FEATURES, num_classes=10, rate=rate, seed=seed, max_flip=max_flip
    )
    assert abs(out.noise_rate - rate) < 0.02
    assert torch.equal(out.is_corrupted, out.noisy != out.clean)
    assert torch.equal(out.clean, LABELS)


def test_flip_rates_are_the_truncated_normal_with_mean_rate():
    g = torch.Generator().manual_seed(0)
    for rate, max_flip in [(0.05, 1.0), (0.4, 1.0), (0.35, 0.4)]:
        q = _flip_rates(200_000, rate, max_flip, 0.1, g)
        assert float(q.min()) >= 0.0 and float(q.max()) <= max_flip
        assert abs(float(q.mean()) - rate) < 0.002
    # Away from the bounds the location is the rate itself, as in Xia et al.'s code.
    q = _flip_rates(200_000, 0.5, 1.0, 0.1, g).numpy()
    ref = truncnorm(-5.0, 5.0, loc=0.5, scale=0.1)
    assert abs(q.std() - ref.std()) < 0.002


def test_flip_rates_near_the_bounds():
    g = torch.Generator().manual_seed(0)
    for rate, max_flip in [(1e-6, 1.0), (0.001, 1.0), (0.999, 1.0), (0.0015, 0.002)]:
        q = _flip_rates(100_000, rate, max_flip, 0.1, g)
        assert float(q.min()) >= 0.0 and float(q.max()) <= max_flip
        assert float(q.mean()) == pytest.approx(rate, rel=0.02)


def test_flip_destination_depends_on_features():
    # With sharp projections (large features) the destination is a function of (x, y):
    # duplicated examples that flip land on the same class.
    base = torch.randn(200, 8, generator=torch.Generator().manual_seed(1)) * 1000
    x = base.repeat(50, 1)
    y = torch.arange(200).repeat(50) % 5
    out = instance_dependent(y, x, num_classes=5, rate=0.5, seed=0)
    dest = {}
    for i in torch.nonzero(out.is_corrupted).flatten().tolist():
        dest.setdefault(i % 200, set()).add(int(out.noisy[i]))
    assert np.mean([len(v) == 1 for v in dest.values()]) > 0.95
    # ... and different examples of one class go to different classes.
    assert len({min(v) for k, v in dest.items() if k % 5 == 0}) > 1


def test_numpy_and_image_shaped_features():
    x = np.random.default_rng(0).normal(size=(300, 3, 4, 4))
    out = instance_dependent(np.arange(300) % 3, x, num_classes=3, rate=0.3, seed=0)
    assert out.noisy.shape == (300,)


def test_bad_inputs_name_the_argument():
    y, x = LABELS[:10], FEATURES[:10]
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\); got 1.0"):
        instance_dependent(y, x, num_classes=10, rate=1.0)
    with pytest.raises(ValueError, match="rate must be < max_flip = 0.3; got 0.4"):
        instance_dependent(y, x, num_classes=10, rate=0.4, max_flip=0.3)
    with pytest.raises(ValueError, match=r"features must have shape \(10, D\).*got \(9, 16\)"):
        instance_dependent(y, x[:9], num_classes=10, rate=0.2)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 5\); got max 9"):
        instance_dependent(y, x, num_classes=5, rate=0.2)
    bad = x.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="features must be finite; got NaN"):
        instance_dependent(y, bad, num_classes=10, rate=0.2)
    with pytest.raises(ValueError, match="labels must not be empty"):
        instance_dependent(y[:0], x[:0], num_classes=10, rate=0.2)


def test_row_draws_follow_probabilities_and_skip_zeros():
    probs = torch.tensor([[0.0, 0.2, 0.0, 0.5, 0.3], [0.0, 0.0, 0.0, 0.0, 1.0]])
    rows = probs.repeat(50_000, 1)
    drawn = _draw_rows(rows, torch.Generator().manual_seed(0)).reshape(50_000, 2)
    freq = torch.bincount(drawn[:, 0], minlength=5) / 50_000.0
    torch.testing.assert_close(freq, probs[0], atol=0.01, rtol=0)
    assert (drawn[:, 1] == 4).all()
