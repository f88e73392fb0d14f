import numpy as np
import pytest
import torch

from labelnoise.common._random import make_generator, numpy_rng


def test_generator_passes_through():
    g = torch.Generator().manual_seed(3)
    assert make_generator(g) is g


def test_int_seed_is_reproducible_and_seed_dependent():
    a = torch.rand(5, generator=make_generator(1))
    assert torch.equal(a, torch.rand(5, generator=make_generator(1)))
    assert torch.equal(a, torch.rand(5, generator=make_generator(np.int64(1))))
    assert not torch.equal(a, torch.rand(5, generator=make_generator(2)))


def test_never_touches_global_state():
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()[1].copy()  # noqa: NPY002
    torch.rand(3, generator=make_generator(0))
    numpy_rng(0).random(3)
    numpy_rng(None).random(3)
    make_generator(None)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], np_state)  # noqa: NPY002


def test_numpy_rng_conventions():
    assert numpy_rng(4).random() == numpy_rng(4).random()
    from_gen = [numpy_rng(torch.Generator().manual_seed(9)).random() for _ in range(2)]
    assert from_gen[0] == from_gen[1]


@pytest.mark.parametrize("bad", ["1", 1.5, True])
def test_bad_seed_names_the_argument(bad):
    with pytest.raises(
        ValueError,
        match=f"seed must be an int, a torch.Generator or None; got {type(bad).__name__}",
    ):
        make_generator(bad)
    with pytest.raises(ValueError, match="seed must be"):
        numpy_rng(bad)
