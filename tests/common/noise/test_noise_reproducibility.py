"""Every simulator of this package: same seed, same noise; other seed, other noise."""

import pytest
import torch

from labelnoise.common import noise
from labelnoise.common.transition import TransitionMatrix

G = torch.Generator().manual_seed(0)
LABELS = torch.randint(0, 5, (2000,), generator=G)
FEATURES = torch.randn(2000, 4, generator=G)
TAGS = (torch.rand(2000, 5, generator=G) < 0.4).long()
TARGETS = torch.randn(2000, generator=G, dtype=torch.float64)

SIMULATORS = {
    "symmetric": lambda s: noise.symmetric_noise(LABELS, 5, 0.3, seed=s),
    "pair_flip": lambda s: noise.pair_flip_noise(LABELS, 5, 0.3, seed=s),
    "class_conditional": lambda s: noise.class_conditional(
        LABELS, TransitionMatrix.random(5, trace=3.0, seed=1), seed=s
    ),
    "instance": lambda s: noise.instance_dependent(
        LABELS, FEATURES, num_classes=5, rate=0.3, seed=s
    ),
    "multilabel": lambda s: noise.multilabel_noise(
        TAGS, drop_rate=0.2, add_rate=0.1, swap_rate=0.2, seed=s
    ),
    "gaussian": lambda s: noise.gaussian_noise(TARGETS, scale=0.1, seed=s),
    "uniform": lambda s: noise.uniform_replacement(TARGETS, rate=0.3, seed=s),
    "outlier": lambda s: noise.outlier_noise(TARGETS, rate=0.3, seed=s),
}


@pytest.mark.parametrize("name", sorted(SIMULATORS))
def test_reproducible_for_a_seed_and_different_across_seeds(name):
    run = SIMULATORS[name]
    a, b, c = run(3), run(3), run(4)
    assert torch.equal(a.noisy, b.noisy) and torch.equal(a.is_corrupted, b.is_corrupted)
    assert not torch.equal(a.noisy, c.noisy)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(run(g1).noisy, run(g2).noisy)
    assert a.noisy.shape == a.clean.shape == a.is_corrupted.shape
    assert a.is_corrupted.dtype == torch.bool


@pytest.mark.parametrize("name", sorted(SIMULATORS))
def test_bad_seed_type(name):
    with pytest.raises(ValueError, match="seed must be an int, a torch.Generator or None; got str"):
        SIMULATORS[name]("3")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_inputs_give_the_cpu_result_on_cuda():
    cases = [
        (noise.symmetric_noise, (LABELS, 5, 0.3), {}),
        (noise.instance_dependent, (LABELS, FEATURES), {"num_classes": 5, "rate": 0.3}),
        (noise.multilabel_noise, (TAGS,), {"drop_rate": 0.2, "swap_rate": 0.2}),
        (noise.uniform_replacement, (TARGETS,), {"rate": 0.3}),
        (noise.gaussian_noise, (TARGETS,), {"scale": 0.1}),
        (noise.outlier_noise, (TARGETS,), {"rate": 0.3}),
    ]
    for fn, args, kwargs in cases:
        cpu = fn(*args, seed=0, **kwargs)
        gpu = fn(*[a.cuda() if isinstance(a, torch.Tensor) else a for a in args], seed=0, **kwargs)
        assert gpu.noisy.is_cuda and gpu.clean.is_cuda and gpu.is_corrupted.is_cuda
        torch.testing.assert_close(gpu.noisy.cpu(), cpu.noisy)
