"""EMA-teacher self-distillation for edges: the EMA update, the alpha schedule, the soft
targets against a reference written here, and which network answers at evaluation."""

import pytest
import torch

from labelnoise.common.units import IGNORE_INDEX
from labelnoise.tasks.edges.models import SmallHED
from labelnoise.tasks.edges.self_distill import MeanTeacherEdgeNet


def _net(**kw):
    torch.manual_seed(0)
    return MeanTeacherEdgeNet(SmallHED(width=4), **kw)


def test_ema_update_matches_the_formula():
    net = _net(decay=0.9)
    with torch.no_grad():
        for p in net.student.parameters():
            p.add_(1.0)
    before = {k: v.clone() for k, v in net.teacher.state_dict().items()}
    student = net.student.state_dict()
    net.update_teacher()
    for k, v in net.teacher.state_dict().items():
        if v.is_floating_point():
            torch.testing.assert_close(v, 0.9 * before[k] + 0.1 * student[k])
        else:
            assert torch.equal(v, student[k])
    assert not any(p.requires_grad for p in net.teacher.parameters())


def test_alpha_warmup_then_linear_ramp():
    net = _net(alpha=0.8, warmup_images=10, ramp_images=20)
    for seen, want in [(0, 0.0), (10, 0.0), (20, 0.4), (30, 0.8), (100, 0.8)]:
        net.seen.fill_(seen)
        assert net.current_alpha() == pytest.approx(want)
    net.ramp_images = 0
    net.seen.fill_(11)
    assert net.current_alpha() == pytest.approx(0.8)


def test_soft_targets_mix_label_and_teacher_and_keep_ignored():
    net = _net(alpha=0.5, decay=0.0, warmup_images=0, ramp_images=0)
    net.train()
    image = torch.randn(2, 3, 8, 12)
    target = torch.zeros(2, 1, 8, 12, dtype=torch.long)
    target[:, :, 4] = 1
    target[0, 0, 0, 0] = IGNORE_INDEX
    logits, soft = net.train_logits(image, target)
    assert int(net.seen) == 2
    net.teacher.eval()
    with torch.no_grad():
        p = torch.sigmoid(net.teacher(image))
    ref = 0.5 * target.float() + 0.5 * p
    keep = target != IGNORE_INDEX
    torch.testing.assert_close(soft[keep], ref[keep])
    assert soft[0, 0, 0, 0] == IGNORE_INDEX
    torch.testing.assert_close(logits, net.student(image))


def test_hard_targets_during_warmup_and_eval_network():
    net = _net(warmup_images=100)
    net.train()
    image = torch.randn(1, 3, 8, 12)
    target = torch.zeros(1, 1, 8, 12, dtype=torch.long)
    _, t = net.train_logits(image, target)
    assert t is target
    with torch.no_grad():
        net.student.fuse.bias.add_(1.0)
    net.eval()
    with torch.no_grad():
        torch.testing.assert_close(net(image), net.student(image))
        net.eval_teacher = True
        torch.testing.assert_close(net(image), net.teacher(image))
        assert not torch.allclose(net.student(image), net.teacher(image))


def test_bad_options_raise():
    with pytest.raises(ValueError, match="decay"):
        _net(decay=1.0)
    with pytest.raises(ValueError, match="alpha"):
        _net(alpha=1.5)
