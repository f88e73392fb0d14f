import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from labelnoise.common.units import (
    IGNORE_INDEX,
    Units,
    flatten_units,
    reduce_units,
    two_class_units,
)


def test_flatten_segmentation_matches_manual_loop():
    logits = torch.randn(2, 3, 4, 5)
    target = torch.randint(0, 3, (2, 4, 5))
    target[0, 1, 2] = IGNORE_INDEX
    target[1, 3, :] = IGNORE_INDEX
    u = flatten_units(logits, target)
    rows, tgts, ids = [], [], []
    for n in range(2):
        for h in range(4):
            for w in range(5):
                if target[n, h, w] != IGNORE_INDEX:
                    rows.append(logits[n, :, h, w])
                    tgts.append(target[n, h, w])
                    ids.append(n)
    assert len(u) == len(rows) == 2 * 20 - 1 - 5
    assert torch.equal(u.pred, torch.stack(rows))
    assert torch.equal(u.target, torch.stack(tgts))
    assert u.example_id.tolist() == ids
    # The flattened units give the same loss as F.cross_entropy on the (N, C, H, W) layout.
    ref = F.cross_entropy(logits, target, ignore_index=IGNORE_INDEX)
    torch.testing.assert_close(F.cross_entropy(u.pred, u.target), ref)


def test_flatten_tokens_with_example_ids_and_weights():
    logits = torch.randn(3, 4, 6)  # (N, C, L): token classification
    target = torch.randint(0, 4, (3, 6))
    target[:, 4:] = IGNORE_INDEX
    weight = torch.rand(3, 6)
    u = flatten_units(logits, target, example_id=torch.tensor([10, 11, 12]), weight=weight)
    assert u.example_id.tolist() == [10] * 4 + [11] * 4 + [12] * 4
    assert torch.equal(u.weight, weight[:, :4].reshape(-1))
    sub = u[u.example_id == 11]
    assert isinstance(sub, Units) and len(sub) == 4
    assert torch.equal(sub.pred, logits[1, :, :4].T)


def test_flatten_soft_targets_keep_every_unit():
    logits = torch.randn(2, 3, 4)
    soft = torch.softmax(torch.randn(2, 3, 4), 1)
    u = flatten_units(logits, soft)
    assert u.target.shape == (8, 3)
    torch.testing.assert_close(u.target[5], soft[1, :, 1])
    torch.testing.assert_close(
        F.cross_entropy(u.pred, u.target), F.cross_entropy(logits, soft), rtol=1e-6, atol=1e-6
    )


def test_flatten_plain_classification_is_identity():
    logits, target = torch.randn(5, 3), torch.tensor([0, 1, 2, 1, 0])
    u = flatten_units(logits, target)
    assert torch.equal(u.pred, logits) and torch.equal(u.target, target)
    assert u.example_id.tolist() == [0, 1, 2, 3, 4]


def test_two_class_units_softmax_is_sigmoid():
    logits = torch.randn(2, 3, 4)
    target = torch.randint(0, 2, (2, 3, 4))
    target[0, 0, 0] = IGNORE_INDEX
    u = two_class_units(logits, target)
    assert len(u) == 23
    keep = target.reshape(-1) != IGNORE_INDEX
    torch.testing.assert_close(
        torch.softmax(u.pred, 1)[:, 1], torch.sigmoid(logits).reshape(-1)[keep]
    )
    # Cross-entropy on the two-class units equals binary cross-entropy with logits.
    ref = F.binary_cross_entropy_with_logits(
        logits.reshape(-1)[keep], target.reshape(-1)[keep].float()
    )
    torch.testing.assert_close(F.cross_entropy(u.pred, u.target), ref)
    assert u.example_id.tolist()[:11] == [0] * 11


def test_two_class_units_soft_targets():
    logits = torch.randn(2, 3)
    soft = torch.tensor([[0.2, 1.0, 0.0], [0.5, 0.9, 0.1]])
    u = two_class_units(logits, soft)
    torch.testing.assert_close(u.target[:, 1], soft.reshape(-1))
    torch.testing.assert_close(u.target.sum(1), torch.ones(6))


def test_two_class_units_rejects_non_binary_targets():
    with pytest.raises(ValueError, match=r"target must be 0, 1 or -100; got values in \[0, 2\]"):
        two_class_units(torch.randn(2, 3), torch.tensor([[0, 1, 2], [1, 1, 0]]))


@pytest.mark.parametrize("how", ["mean", "sum", "min", "max"])
def test_reduce_units_matches_pandas_groupby(how):
    rng = np.random.default_rng(0)
    values = rng.normal(size=50)
    ids = rng.integers(0, 7, 50) * 3
    out_ids, out = reduce_units(torch.as_tensor(values), torch.as_tensor(ids), how=how)
    ref = getattr(pd.Series(values).groupby(ids), how)()
    assert out_ids.tolist() == ref.index.tolist()
    np.testing.assert_allclose(out.numpy(), ref.to_numpy())


def test_reduce_units_softmin_matches_numpy_and_tends_to_min():
    values = torch.tensor([0.9, 0.1, 0.5, 0.7, 0.8], dtype=torch.float64)
    ids = torch.tensor([0, 0, 0, 1, 1])
    _, out = reduce_units(values, ids, how="softmin", temperature=0.1)
    for e, group in enumerate([values[:3].numpy(), values[3:].numpy()]):
        w = np.exp(-group / 0.1) / np.exp(-group / 0.1).sum()
        assert float(out[e]) == pytest.approx(float((w * group).sum()))
    _, cold = reduce_units(values, ids, how="softmin", temperature=1e-4)
    np.testing.assert_allclose(cold.numpy(), [0.1, 0.7])


def test_reduce_units_integer_values():
    ids, out = reduce_units(torch.tensor([1, 0, 1, 1]), torch.tensor([0, 0, 1, 1]))
    assert out.tolist() == [0.5, 1.0]


# ------------------------------------------------------------------ bad input, one per case
def test_one_dimensional_logits():
    with pytest.raises(ValueError, match=r"logits must have shape \(N, C, \*\).*got \(5,\)"):
        flatten_units(torch.randn(5), torch.zeros(5, dtype=torch.long))


def test_one_dimensional_logits_two_class():
    with pytest.raises(ValueError, match=r"logits must have shape \(N, K, \*\).*got \(5,\)"):
        two_class_units(torch.randn(5), torch.zeros(5))


def test_mismatched_target_shape():
    with pytest.raises(ValueError, match=r"target must have shape \(2, 4\).*got \(2, 5\)"):
        flatten_units(torch.randn(2, 3, 4), torch.zeros(2, 5, dtype=torch.long))


def test_mismatched_example_id_and_weight():
    with pytest.raises(ValueError, match=r"example_id must have shape \(2,\); got \(3,\)"):
        flatten_units(
            torch.randn(2, 3), torch.zeros(2, dtype=torch.long), example_id=torch.arange(3)
        )
    with pytest.raises(ValueError, match=r"weight must have shape \(2,\); got \(2, 1\)"):
        flatten_units(torch.randn(2, 3), torch.zeros(2, dtype=torch.long), weight=torch.ones(2, 1))


def test_reduce_units_bad_inputs():
    with pytest.raises(ValueError, match="values and example_id must both have shape"):
        reduce_units(torch.zeros(3), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="how must be one of"):
        reduce_units(torch.zeros(3), torch.zeros(3, dtype=torch.long), how="median")
    with pytest.raises(ValueError, match=r"temperature must be in \(0.0, inf\]; got 0"):
        reduce_units(torch.zeros(3), torch.zeros(3, dtype=torch.long), how="softmin", temperature=0)
