"""snap_ties: near-equal classes become exactly equal, everything else is untouched."""

from __future__ import annotations

import numpy as np
import pytest

from labelnoise.common.aggregation._ties import snap_ties


def test_snap_ties_by_hand():
    p = np.array([[0.5 - 1e-16, 0.5 + 1e-16], [0.2, 0.8]])
    out = snap_ties(p)
    np.testing.assert_array_equal(out[0], [0.5, 0.5])
    assert out[0].argmax() == 0  # the smaller class, as the tie rule says
    np.testing.assert_array_equal(out[1], [0.2, 0.8])
    three = snap_ties(np.array([[0.4, 0.4 + 5e-13, 0.2 - 5e-13]]))
    assert three[0, 0] == three[0, 1] and three[0, 2] == 0.2 - 5e-13
    np.testing.assert_allclose(three.sum(1), 1.0, atol=1e-15)
    np.testing.assert_array_equal(snap_ties(p, atol=0.0)[1], p[1])


def test_snap_ties_rejects_negative_atol():
    with pytest.raises(ValueError, match="atol must be >= 0; got -1"):
        snap_ties(np.ones((1, 2)) / 2, atol=-1)
