"""Reference values computed independently (numpy) and properties from the papers."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from labelnoise.common.losses import (
    ELRLoss,
    GCELoss,
    asl,
    backward_correction,
    build_loss,
    elr,
    forward_correction,
    gce,
    sce,
    tlq,
)
from labelnoise.common.transition import TransitionMatrix

RNG = np.random.default_rng(0)
LOGITS = RNG.normal(size=(7, 4)) * 2
LABELS = RNG.integers(0, 4, size=7)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _t(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(x)


def test_gce_reference_hard_and_soft():
    p = _softmax(LOGITS)
    py = p[np.arange(7), LABELS]
    expected = np.mean((1 - py**0.7) / 0.7)
    np.testing.assert_allclose(float(gce(_t(LOGITS), _t(LABELS))), expected, rtol=1e-10)
    soft = _softmax(RNG.normal(size=(7, 4)))
    expected_soft = np.mean(np.sum(soft * (1 - p**0.3) / 0.3, axis=1))
    got = gce(_t(LOGITS), _t(soft), q=0.3)
    np.testing.assert_allclose(float(got), expected_soft, rtol=1e-10)
    module = GCELoss(q=0.3)
    np.testing.assert_allclose(float(module(_t(LOGITS), _t(soft))), expected_soft, rtol=1e-10)


def test_sce_reference():
    p = _softmax(LOGITS)
    one_hot = np.eye(4)[LABELS]
    ce = -np.log(p[np.arange(7), LABELS])
    rce = -np.sum(p * np.log(np.clip(one_hot, 1e-4, 1.0)), axis=1)
    expected = np.mean(0.1 * ce + 1.0 * rce)
    np.testing.assert_allclose(float(sce(_t(LOGITS), _t(LABELS))), expected, rtol=1e-10)
    w = np.array([1.0, 2.0, 0.5, 1.5])
    expected_w = np.sum(w[LABELS] * (0.1 * ce + rce)) / np.sum(w[LABELS])
    got = sce(_t(LOGITS), _t(LABELS), weight=_t(w))
    np.testing.assert_allclose(float(got), expected_w, rtol=1e-10)


def test_forward_correction_reference():
    t = np.array(
        [[0.7, 0.1, 0.1, 0.1], [0.2, 0.6, 0.1, 0.1], [0.0, 0.3, 0.7, 0.0], [0.1, 0.1, 0.1, 0.7]]
    )
    p = _softmax(LOGITS)
    expected = -np.log((p @ t)[np.arange(7), LABELS])
    got = forward_correction(_t(LOGITS), _t(LABELS), transition=t.tolist(), reduction="none")
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10)
    module = build_loss("forward", num_classes=4, transition=t.tolist())
    np.testing.assert_allclose(module(_t(LOGITS), _t(LABELS)).numpy(), expected, rtol=1e-6)


def test_backward_correction_is_unbiased():
    """Patrini et al., Thm. 1: E_{noisy ~ T[y]}[corrected(noisy)] = CE(clean y)."""
    t = TransitionMatrix.symmetric(4, 0.3).numpy()
    logits = _t(LOGITS)
    per_label = torch.stack(
        [
            backward_correction(logits, torch.full((7,), j), transition=t, reduction="none")
            for j in range(4)
        ],
        1,
    ).numpy()
    expected = -np.log(_softmax(LOGITS))
    np.testing.assert_allclose(per_label @ t.T, expected, rtol=1e-8, atol=1e-10)


def test_elr_functional_reference_and_module_memory():
    ema = _softmax(RNG.normal(size=(7, 4)))
    p = np.clip(_softmax(LOGITS), 1e-4, 1 - 1e-4)
    ce = -np.log(_softmax(LOGITS)[np.arange(7), LABELS])
    expected = np.mean(ce + 3.0 * np.log(1 - np.sum(ema * p, 1)))
    got = elr(_t(LOGITS), _t(LABELS), ema_target=_t(ema))
    np.testing.assert_allclose(float(got), expected, rtol=1e-8)

    module = build_loss("elr", num_classes=4, num_examples=10, beta=0.5, lam=2.0)
    assert isinstance(module, ELRLoss)
    logits = torch.tensor(LOGITS[:3], dtype=torch.float32)
    ids = torch.tensor([4, 4, 7])
    module(logits, torch.tensor(LABELS[:3]), ids)
    probs = np.clip(_softmax(LOGITS[:3]), 1e-4, 1 - 1e-4)
    probs = probs / probs.sum(1, keepdims=True)
    np.testing.assert_allclose(module.memory[4].numpy(), 0.5 * probs[:2].mean(0), rtol=1e-5)
    np.testing.assert_allclose(module.memory[7].numpy(), 0.5 * probs[2], rtol=1e-5)
    assert float(module.memory[0].abs().sum()) == 0
    restored = build_loss("elr", num_classes=4, num_examples=10, beta=0.5, lam=2.0)
    restored.load_state_dict(module.state_dict())
    torch.testing.assert_close(restored.memory, module.memory)
    out = restored(logits, torch.tensor(LABELS[:3]), ids)
    torch.testing.assert_close(out, module(logits, torch.tensor(LABELS[:3]), ids))
    assert out.shape == (3,)


def test_asl_reference():
    """Ridnik et al. (2021), eq. (2)-(4), written out in numpy."""
    x = RNG.normal(size=(5, 6)) * 3
    y = RNG.integers(0, 2, size=(5, 6)).astype(float)
    p = 1 / (1 + np.exp(-x))
    pm = np.maximum(p - 0.05, 0)
    pos = y * (1 - p) ** 1.0 * np.log(p)
    neg = (1 - y) * pm**4 * np.log(1 - pm)
    expected = np.mean(-(pos + neg))
    got = asl(_t(x), _t(y), gamma_pos=1.0, gamma_neg=4.0, clip=0.05)
    np.testing.assert_allclose(float(got), expected, rtol=1e-8)


def test_label_smoothing_matches_torch_and_nls_target():
    logits, labels = _t(LOGITS), _t(LABELS)
    got = build_loss("label_smoothing", smoothing=0.2)(logits, labels)
    torch.testing.assert_close(
        got, F.cross_entropy(logits, labels, label_smoothing=0.2, reduction="none")
    )
    r = -0.4
    target = (1 - r) * np.eye(4)[LABELS] + r / 4
    expected = -np.sum(target * np.log(_softmax(LOGITS)), 1)
    got = build_loss("nls", smoothing=r)(logits, labels)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10)


def test_tlq_truncates_below_k():
    p = _softmax(LOGITS)
    py = p[np.arange(7), LABELS]
    expected = (1 - np.maximum(py, 0.3) ** 0.7) / 0.7
    logits = _t(LOGITS).requires_grad_()
    got = tlq(logits, _t(LABELS), k=0.3, reduction="none")
    np.testing.assert_allclose(got.detach().numpy(), expected, rtol=1e-10)
    got.sum().backward()
    assert torch.all(logits.grad[torch.from_numpy(py <= 0.3)] == 0)
    assert torch.all(logits.grad[torch.from_numpy(py > 0.3)].abs().sum(1) > 0)
    default = tlq(_t(LOGITS), _t(LABELS), reduction="none")
    manual = tlq(_t(LOGITS), _t(LABELS), k=0.5 / 4, reduction="none")
    torch.testing.assert_close(default, manual)
