import numpy as np
import pytest
import torch

from labelnoise.common.decision import (
    apply_offsets,
    class_frequencies,
    fit_prior_offsets,
)


def test_binary_matches_an_independent_quantile_threshold():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2000, 2)) * 3
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    for frac in (0.0, 0.07, 0.23, 0.5, 0.91, 1.0):
        res = fit_prior_offsets(probs, [1 - frac, frac], kind="probs")
        pred = apply_offsets(probs, res.offsets, kind="probs").numpy()
        # reference: class 1 for the round(frac * N) units of largest p1, i.e. p1 above the
        # (1 - frac) empirical quantile of p1
        k = round(frac * len(probs))
        ref = np.zeros(len(probs), dtype=np.int64)
        ref[np.argsort(-probs[:, 1], kind="stable")[:k]] = 1
        np.testing.assert_array_equal(pred, ref)
        if 0 < k < len(probs):
            thr = np.quantile(probs[:, 1], 1 - frac, method="lower")
            assert set(np.flatnonzero(pred)) == set(np.flatnonzero(probs[:, 1] > thr))
        assert res.converged and res.iterations == 1 and res.offsets[0] == 0


@pytest.mark.parametrize("c", [3, 5])
def test_multiclass_hits_the_target_fractions(c):
    g = torch.Generator().manual_seed(c)
    logits = torch.randn(20000, c, generator=g) * 2 + torch.linspace(0, 2, c)
    e = -torch.rand(c, generator=g, dtype=torch.float64).log()  # Dirichlet(1), seeded
    prior = e / e.sum()
    res = fit_prior_offsets(logits, prior, tol=1e-3)
    pred = apply_offsets(logits, res.offsets)
    frac = torch.bincount(pred, minlength=c).double() / len(pred)
    assert res.converged
    assert (frac - prior).abs().max() <= 1e-3
    torch.testing.assert_close(frac, res.fractions)


def test_spatial_scores_equal_flattened_and_log_scale_is_invariant():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(3, 4, 5, 6, generator=g)
    prior = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
    flat = logits.movedim(1, -1).reshape(-1, 4)
    a = fit_prior_offsets(logits, prior)
    b = fit_prior_offsets(flat, prior)
    torch.testing.assert_close(a.offsets, b.offsets)
    pred = apply_offsets(logits, a.offsets)
    assert pred.shape == (3, 5, 6)
    np.testing.assert_array_equal(pred.reshape(-1), apply_offsets(flat, a.offsets))
    # logits and their softmax give the same decisions (offsets act on the log scale)
    np.testing.assert_array_equal(pred, apply_offsets(logits.softmax(1), a.offsets, kind="probs"))
    # a model that already predicts the target fractions needs (almost) no change
    same = fit_prior_offsets(flat, class_frequencies(flat.argmax(1), 4))
    np.testing.assert_array_equal(apply_offsets(flat, same.offsets), flat.argmax(1))


def test_class_frequencies_ignore_index():
    labels = torch.tensor([[0, 1, 1], [-100, 2, 1]])
    torch.testing.assert_close(
        class_frequencies(labels, 3), torch.tensor([0.2, 0.6, 0.2], dtype=torch.float64)
    )


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: fit_prior_offsets(torch.zeros(4), [0.5, 0.5]), r"scores must have shape"),
        (lambda: fit_prior_offsets(torch.zeros(4, 2), [0.5, 0.3, 0.2]), r"prior must have shape"),
        (lambda: fit_prior_offsets(torch.zeros(4, 2), [0.7, 0.7]), r"prior must sum to 1"),
        (lambda: fit_prior_offsets(torch.zeros(4, 2), [1.5, -0.5]), r"prior must be non-neg"),
        (lambda: fit_prior_offsets(torch.ones(4, 2), [0.5, 0.5], kind="probs"), r"scores must"),
        (lambda: fit_prior_offsets(torch.zeros(4, 2), [0.5, 0.5], kind="p"), r"kind must be"),
        (lambda: fit_prior_offsets(torch.zeros(4, 2), [0.5, 0.5], max_iter=0), r"max_iter"),
        (lambda: apply_offsets(torch.zeros(4, 3), torch.zeros(2)), r"offsets must have shape"),
        (lambda: class_frequencies([0, 3], 2), r"labels must be in \[0, 2\)"),
        (lambda: class_frequencies([-100], 2), r"at least one label"),
    ],
)
def test_errors_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
