"""Label-noise transition matrices.

Row convention: ``T[i, j] = P(noisy = j | clean = i)``; every row sums to 1. Optional leading
dims hold one matrix per annotator ``(A, C, C)`` or per instance ``(N, C, C)``.
cleanlab's ``noise_matrix`` and crowd-kit's confusions are column-stochastic
(``P(given = i | true = j)`` in column ``j``): convert with
:meth:`TransitionMatrix.to_column_stochastic` and :meth:`TransitionMatrix.from_column_stochastic`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import Tensor

from labelnoise.common._checks import as_long_tensor, check_labels, check_nonempty, check_rate
from labelnoise.common._random import Seed, make_generator

__all__ = ["TransitionMatrix", "CIFAR10_MAPPING"]

#: The class-dependent flips of Patrini et al. (CVPR 2017) for CIFAR-10:
#: truck -> automobile, bird -> airplane, deer -> horse, cat <-> dog.
CIFAR10_MAPPING: dict[int, int] = {9: 1, 2: 0, 4: 7, 3: 5, 5: 3}


class TransitionMatrix:
    """A row-stochastic noise transition matrix ``(..., C, C)`` stored as float64.

    Args:
        matrix: ``(..., C, C)`` array-like with non-negative entries and rows summing to 1.
        atol: tolerance for the row sums (default 1e-6).
    """

    def __init__(self, matrix: Tensor | np.ndarray | list, *, atol: float = 1e-6) -> None:
        m = torch.as_tensor(np.asarray(matrix) if not isinstance(matrix, Tensor) else matrix)
        m = m.detach().to(torch.float64).cpu()
        if m.dim() < 2 or m.shape[-1] != m.shape[-2]:
            raise ValueError(f"matrix must have shape (..., C, C); got {tuple(m.shape)}")
        if m.shape[-1] < 2:
            raise ValueError(f"matrix must have at least 2 classes; got C = {m.shape[-1]}")
        if not torch.isfinite(m).all():
            raise ValueError("matrix must be finite; got NaN or inf entries")
        if float(m.min()) < 0:
            raise ValueError(f"matrix entries must be non-negative; got min {float(m.min()):.4g}")
        sums = m.sum(-1)
        err = (sums - 1).abs()
        if float(err.max()) > atol:
            row = np.unravel_index(int(err.argmax()), tuple(sums.shape))
            raise ValueError(
                f"matrix rows must sum to 1 (atol {atol}); got row {tuple(int(r) for r in row)} "
                f"summing to {float(sums[row]):.6g}"
            )
        self.matrix: Tensor = m / sums.unsqueeze(-1)

    # ----------------------------------------------------------------- constructors
    @classmethod
    def identity(cls, num_classes: int) -> TransitionMatrix:
        """No noise: ``T = I``."""
        return cls(torch.eye(_check_c(num_classes), dtype=torch.float64))

    @classmethod
    def symmetric(cls, num_classes: int, rate: float) -> TransitionMatrix:
        """Keep with ``1 - rate``; spread ``rate`` uniformly over the other ``C - 1`` classes."""
        c = _check_c(num_classes)
        r = check_rate("rate", rate)
        m = torch.full((c, c), r / (c - 1), dtype=torch.float64)
        m.fill_diagonal_(1 - r)
        return cls(m)

    @classmethod
    def pair_flip(cls, num_classes: int, rate: float) -> TransitionMatrix:
        """Flip class ``i`` to ``(i + 1) mod C`` with probability ``rate`` (Han et al., 2018)."""
        c = _check_c(num_classes)
        r = check_rate("rate", rate)
        m = torch.eye(c, dtype=torch.float64) * (1 - r)
        idx = torch.arange(c)
        m[idx, (idx + 1) % c] += r
        return cls(m)

    @classmethod
    def from_mapping(
        cls, num_classes: int, mapping: Mapping[int, int], rate: float
    ) -> TransitionMatrix:
        """Flip each source class of ``mapping`` to its destination with probability ``rate``.

        E.g. :data:`CIFAR10_MAPPING` (Patrini et al., CVPR 2017). Unmapped classes stay clean.
        """
        c = _check_c(num_classes)
        r = check_rate("rate", rate)
        m = torch.eye(c, dtype=torch.float64)
        for src, dst in mapping.items():
            for name, v in (("mapping key", src), ("mapping value", dst)):
                if not 0 <= int(v) < c:
                    raise ValueError(f"{name} must be in [0, {c}); got {v}")
            if src == dst:
                continue
            m[src, src] = 1 - r
            m[src, dst] = r
        return cls(m)

    @classmethod
    def from_counts(
        cls,
        clean: Tensor | np.ndarray,
        noisy: Tensor | np.ndarray,
        *,
        num_classes: int | None = None,
        smoothing: float = 0.0,
    ) -> TransitionMatrix:
        """Empirical ``P(noisy | clean)`` from paired labels (rows with no example become identity).

        Args:
            clean: ``(N,)`` integer clean labels.
            noisy: ``(N,)`` integer noisy labels.
            num_classes: ``C``; defaults to ``max(labels) + 1``.
            smoothing: added to every count (Laplace smoothing), default 0.
        """
        c_t = as_long_tensor("clean", clean).reshape(-1)
        n_t = as_long_tensor("noisy", noisy).reshape(-1)
        check_nonempty("clean", c_t)
        if c_t.shape != n_t.shape:
            raise ValueError(
                "clean and noisy must have the same shape; "
                f"got {tuple(c_t.shape)} and {tuple(n_t.shape)}"
            )
        c = num_classes if num_classes is not None else int(max(c_t.max(), n_t.max())) + 1
        _check_c(c)
        check_labels("clean", c_t, c)
        check_labels("noisy", n_t, c)
        counts = torch.bincount(c_t * c + n_t, minlength=c * c).reshape(c, c).double() + float(
            smoothing
        )
        empty = counts.sum(1) == 0
        counts[empty] = torch.eye(c, dtype=torch.float64)[empty]
        return cls(counts / counts.sum(1, keepdim=True))

    @classmethod
    def random(
        cls,
        num_classes: int,
        *,
        trace: float,
        seed: Seed = None,
        max_diagonal_spread: float = 0.1,
    ) -> TransitionMatrix:
        """A random valid ``T`` whose diagonal sums to ``trace`` (in ``(0, C]``).

        Diagonal entries scatter around ``trace / C`` by at most ``max_diagonal_spread`` (clipped
        to [0, 1] and re-centred so the trace is exact); off-diagonal mass of each row is split
        by a flat Dirichlet draw.
        """
        c = _check_c(num_classes)
        if not 0 < float(trace) <= c:
            raise ValueError(f"trace must be in (0, {c}]; got {trace}")
        g = make_generator(seed)
        base = float(trace) / c
        d = base + (torch.rand(c, generator=g, dtype=torch.float64) * 2 - 1) * max_diagonal_spread
        d = d - d.mean() + base
        for _ in range(50):  # project onto [0, 1] while keeping the exact trace
            d = d.clamp(0.0, 1.0)
            gap = float(trace) - float(d.sum())
            if abs(gap) < 1e-12:
                break
            free = (d < 1.0) if gap > 0 else (d > 0.0)
            d[free] += gap / int(free.sum())
        off = -torch.log(torch.rand(c, c - 1, generator=g, dtype=torch.float64))
        off = off / off.sum(1, keepdim=True) * (1 - d).unsqueeze(1)
        m = torch.zeros(c, c, dtype=torch.float64)
        mask = ~torch.eye(c, dtype=torch.bool)
        m[mask] = off.reshape(-1)
        m[torch.arange(c), torch.arange(c)] = d
        return cls(m)

    @classmethod
    def from_column_stochastic(cls, matrix: Tensor | np.ndarray) -> TransitionMatrix:
        """From a column-stochastic ``M[j, i] = P(noisy = j | clean = i)`` (cleanlab, crowd-kit)."""
        m = torch.as_tensor(np.asarray(matrix) if not isinstance(matrix, Tensor) else matrix)
        if m.dim() < 2:
            raise ValueError(f"matrix must have shape (..., C, C); got {tuple(m.shape)}")
        return cls(m.transpose(-1, -2))

    # ----------------------------------------------------------------- properties
    @property
    def num_classes(self) -> int:
        return int(self.matrix.shape[-1])

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.matrix.shape)

    def numpy(self) -> np.ndarray:
        return self.matrix.numpy().copy()

    def to_column_stochastic(self) -> Tensor:
        """``M[..., j, i] = T[..., i, j]``: the convention of cleanlab's ``noise_matrix``."""
        return self.matrix.transpose(-1, -2).clone()

    def is_valid(self, atol: float = 1e-6) -> bool:
        """True when entries are non-negative and rows sum to 1 within ``atol``."""
        m = self.matrix
        return bool((m >= -atol).all() and ((m.sum(-1) - 1).abs() <= atol).all())

    def noise_rate(self, prior: Tensor | np.ndarray | None = None) -> float | Tensor:
        """Expected flipped fraction ``1 - sum_i prior_i T_ii`` (uniform prior by default)."""
        c = self.num_classes
        p = (
            torch.full((c,), 1.0 / c, dtype=torch.float64)
            if prior is None
            else torch.as_tensor(prior).double()
        )
        if p.shape != (c,):
            raise ValueError(f"prior must have shape ({c},); got {tuple(p.shape)}")
        if not bool(torch.isfinite(p).all()) or float(p.min()) < 0 or float(p.sum()) <= 0:
            raise ValueError(
                f"prior must be finite, non-negative, with a positive sum; got {p.tolist()}"
            )
        diag = torch.diagonal(self.matrix, dim1=-2, dim2=-1)
        rate = 1 - (diag * p / p.sum()).sum(-1)
        return float(rate) if rate.dim() == 0 else rate

    def inverse(self) -> Tensor:
        """``T^{-1}`` (not stochastic in general). Raises if ``T`` is singular."""
        try:
            return torch.linalg.inv(self.matrix)
        except RuntimeError as e:  # torch raises _LinAlgError (a RuntimeError)
            raise ValueError(f"transition matrix is singular and has no inverse: {e}") from None

    def forward(self, clean_probs: Tensor) -> Tensor:
        """Forward correction ``P(noisy | x) = P(clean | x) @ T``: ``(N, C)`` -> ``(N, C)``.

        A per-instance ``(N, C, C)`` matrix multiplies row ``n`` of ``clean_probs`` by ``T[n]``.
        """
        t = self.matrix.to(dtype=clean_probs.dtype, device=clean_probs.device)
        return (clean_probs.unsqueeze(-2) @ t).squeeze(-2)

    def backward(self, per_class_loss: Tensor) -> Tensor:
        """Backward correction (Patrini et al., CVPR 2017): ``loss (N, C) @ T^{-T}``.

        ``per_class_loss[n, j]`` is the loss of example ``n`` if its label were ``j``; column
        ``y`` of the result is the unbiased corrected loss for noisy label ``y``. A per-instance
        ``(N, C, C)`` matrix corrects row ``n`` with ``T[n]``.
        """
        inv = self.inverse().to(dtype=per_class_loss.dtype, device=per_class_loss.device)
        return (per_class_loss.unsqueeze(-2) @ inv.transpose(-1, -2)).squeeze(-2)

    # ----------------------------------------------------------------- sampling
    def sample(
        self,
        clean: Tensor | np.ndarray,
        *,
        seed: Seed = None,
        index: Tensor | np.ndarray | None = None,
        ignore_index: int = -100,
    ) -> Tensor:
        """Draw noisy labels ``noisy[n] ~ T[index[n]][clean[n], :]``.

        Args:
            clean: ``(N,)`` long labels in ``[0, C)`` (``ignore_index`` entries are kept as is).
            seed: int or ``torch.Generator`` (explicit randomness).
            index: ``(N,)`` which leading-dim matrix each label uses (the annotator id for an
                ``(A, C, C)`` matrix);
                defaults to ``arange(N)`` for per-instance ``(N, C, C)`` matrices.

        Returns:
            ``(N,)`` long noisy labels on the device of ``clean`` (sampling runs on the CPU).
        """
        y = as_long_tensor("clean", clean)
        shape, device = y.shape, y.device
        y = y.reshape(-1).cpu()
        c = self.num_classes
        check_labels("clean", y, c, ignore_index=ignore_index)
        g = make_generator(seed)
        valid = y != ignore_index
        if self.matrix.dim() == 2:
            return self._sample_2d(y, valid, g).reshape(shape).to(device)
        if self.matrix.dim() != 3:
            raise ValueError(f"sample supports (C, C) or (M, C, C) matrices; got {self.shape}")
        if index is None:
            if self.matrix.shape[0] != y.shape[0]:
                raise ValueError(
                    "index is required unless the matrix has one row per label; "
                    f"got {self.shape[0]} matrices for {y.shape[0]} labels"
                )
            idx_t = torch.arange(y.shape[0])
        else:
            idx_t = as_long_tensor("index", index).reshape(-1).cpu()
            if idx_t.shape != y.shape:
                raise ValueError(
                    f"index must have shape {tuple(y.shape)}; got {tuple(idx_t.shape)}"
                )
            check_labels("index", idx_t, self.matrix.shape[0])
        rows = self.matrix[idx_t[valid], y[valid]]
        out = y.clone()
        out[valid] = torch.multinomial(rows, 1, generator=g).squeeze(1)
        return out.reshape(shape).to(device)

    def _sample_2d(self, y: Tensor, valid: Tensor, g: torch.Generator) -> Tensor:
        """Unvalidated fast path for a ``(C, C)`` matrix: flat CPU ``y (N,)``, ``valid (N,)``.

        Inverse-CDF sampling in one searchsorted: row i's CDF is shifted to [i, i + 1], so
        ``y + u`` lands in row y; zero-probability classes repeat a CDF value and are never the
        first value > y + u. u < 1 - 1e-9 keeps y + u below y + 1 in float64.
        """
        c = self.num_classes
        cdf = torch.cumsum(self.matrix, 1)
        cdf = cdf / cdf[:, -1:]
        flat = (cdf + torch.arange(c, dtype=torch.float64).unsqueeze(1)).reshape(-1)
        yv = torch.where(valid, y, 0)
        u = torch.rand(yv.shape, generator=g, dtype=torch.float64).clamp_max(1 - 1e-9)
        drawn = torch.searchsorted(flat, yv + u, right=True) - yv * c
        return torch.where(valid, drawn, y)

    def __repr__(self) -> str:
        rate = f"{self.noise_rate():.4g}" if self.matrix.dim() == 2 else "per matrix"
        return f"TransitionMatrix(shape={self.shape}, noise_rate={rate})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TransitionMatrix):
            return NotImplemented
        return self.shape == other.shape and bool(
            torch.allclose(self.matrix, other.matrix, atol=1e-12)
        )

    __hash__ = None  # type: ignore[assignment]


def _check_c(num_classes: int) -> int:
    if (
        isinstance(num_classes, bool)
        or not isinstance(num_classes, (int, np.integer))
        or num_classes < 2
    ):
        raise ValueError(f"num_classes must be an integer >= 2; got {num_classes!r}")
    return int(num_classes)
