"""Span-level label noise for sequence labelling (NER) in IOB2.

Real NER noise is mostly span noise: missing entities, spurious entities, wrong types and
wrong boundaries (Merdjanovska, Aynetdinov & Akbik, "NoiseBench", EMNLP 2024, arXiv:2405.07609).
:func:`span_noise` simulates each of these on IOB2 tag ids, plus class-conditional token
flips followed by an IOB1 -> IOB2 repair, so every output is a valid IOB2 sequence and the
corruption mask of :class:`NoisyTargets` is exact. :func:`calibrate_span_noise` scales a mix
of these events until the entity noise share ``1 - F1(noisy, clean)`` hits a target, so
simulated and real noise can be compared at equal rates.

Tags are ids into ``class_names`` (``"O"``, ``"B-PER"``, ``"I-PER"``, ...); sentences are
contiguous runs of equal ``example_id``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from labelnoise.common._checks import as_long_tensor, check_labels, check_rate
from labelnoise.common._random import Seed, numpy_rng
from labelnoise.common.noise.base import NoisyTargets
from labelnoise.common.transition import TransitionMatrix

__all__ = [
    "SPAN_EVENTS",
    "bio_spans",
    "calibrate_span_noise",
    "entity_noise_share",
    "repair_iob2",
    "span_noise",
]

#: The entity-level events, in the order they are drawn for each clean entity (plus spurious).
SPAN_EVENTS = ("missing", "type_swap", "expand", "shrink", "move", "spurious")

Span = tuple[int, int, str]


def bio_spans(tags: Sequence[str]) -> list[Span]:
    """Entities of an IOB2 tag sequence as ``(start, end_exclusive, type)``.

    Strict IOB2 (seqeval ``mode="strict", scheme=IOB2``): an entity is ``B-X`` followed by
    ``I-X`` tags; an ``I-X`` that does not continue an ``X`` entity starts no entity.
    """
    spans: list[Span] = []
    start, etype = -1, ""
    for i, tag in enumerate(tags):
        prefix, typ = (tag[0], tag[2:]) if tag != "O" else ("O", "")
        if start >= 0 and not (prefix == "I" and typ == etype):
            spans.append((start, i, etype))
            start = -1
        if prefix == "B":
            start, etype = i, typ
    if start >= 0:
        spans.append((start, len(tags), etype))
    return spans


def repair_iob2(tags: Sequence[str]) -> list[str]:
    """IOB1 -> IOB2 repair: an ``I-X`` that does not continue an ``X`` entity becomes ``B-X``."""
    out: list[str] = []
    prev = "O"
    for tag in tags:
        if tag.startswith("I-") and prev[2:] != tag[2:]:
            tag = "B-" + tag[2:]
        out.append(tag)
        prev = tag
    return out


def entity_noise_share(noisy: Sequence[Sequence[str]], clean: Sequence[Sequence[str]]) -> float:
    """``1 - F1`` of the noisy entities against the clean ones (exact span and type)."""
    tp = n_noisy = n_clean = 0
    for a, b in zip(noisy, clean, strict=True):
        sa, sb = set(bio_spans(a)), set(bio_spans(b))
        tp += len(sa & sb)
        n_noisy += len(sa)
        n_clean += len(sb)
    denom = n_noisy + n_clean
    return 1.0 - (2.0 * tp / denom if denom else 1.0)


def _types(class_names: Sequence[str]) -> list[str]:
    types = sorted({n[2:] for n in class_names if n != "O"})
    for t in types:
        for p in ("B-", "I-"):
            if p + t not in class_names:
                raise ValueError(
                    f"class_names must contain {p + t} (IOB2 over {types}); got {list(class_names)}"
                )
    if "O" not in class_names:
        raise ValueError(f"class_names must contain 'O'; got {list(class_names)}")
    return types


def _write(spans: list[Span], n: int) -> list[str]:
    tags = ["O"] * n
    for s, e, t in spans:
        tags[s] = "B-" + t
        for i in range(s + 1, e):
            tags[i] = "I-" + t
    return tags


def _free(occupied: np.ndarray, s: int, e: int) -> bool:
    return 0 <= s and e <= occupied.shape[0] and s < e and not occupied[s:e].any()


def _corrupt_sentence(
    tags: list[str], types: list[str], rates: dict[str, float], rng: np.random.Generator
) -> list[str]:
    n = len(tags)
    clean = bio_spans(tags)
    occupied = np.zeros(n, dtype=bool)
    for s, e, _ in clean:
        occupied[s:e] = True
    kept: list[Span] = []
    ordered = SPAN_EVENTS[:-1]
    probs = np.array([rates[k] for k in ordered])
    for s, e, t in clean:
        u = rng.random()
        cum = np.cumsum(probs)
        event = ordered[int(np.searchsorted(cum, u, side="right"))] if u < cum[-1] else None
        occupied[s:e] = False
        new: Span | None = (s, e, t)
        if event == "missing":
            new = None
        elif event == "type_swap" and len(types) > 1:
            new = (s, e, rng.choice([x for x in types if x != t]))
        elif event == "expand":
            cands = [(s - 1, e), (s, e + 1)]
            cands = [c for c in cands if _free(occupied, *c)]
            if cands:
                new = (*cands[rng.integers(len(cands))], t)
        elif event == "shrink" and e - s > 1:
            new = (s + 1, e, t) if rng.random() < 0.5 else (s, e - 1, t)
        elif event == "move":
            cands = [(s - 1, e - 1), (s + 1, e + 1)]
            cands = [c for c in cands if _free(occupied, *c)]
            if cands:
                new = (*cands[rng.integers(len(cands))], t)
        if new is not None:
            occupied[new[0] : new[1]] = True
            kept.append(new)
    if rates["spurious"] > 0:
        for i in np.flatnonzero(~occupied):
            if not occupied[i] and rng.random() < rates["spurious"]:
                occupied[i] = True
                kept.append((int(i), int(i) + 1, rng.choice(types)))
    return _write(kept, n)


def _split(example_id: Tensor) -> list[int]:
    ids = example_id.tolist()
    bounds = [0] + [i for i in range(1, len(ids)) if ids[i] != ids[i - 1]] + [len(ids)]
    return bounds


def span_noise(
    tags: Tensor,
    example_id: Tensor,
    class_names: Sequence[str],
    *,
    missing: float = 0.0,
    type_swap: float = 0.0,
    expand: float = 0.0,
    shrink: float = 0.0,
    move: float = 0.0,
    spurious: float = 0.0,
    token_transition: TransitionMatrix | None = None,
    seed: Seed = None,
) -> NoisyTargets:
    """Corrupt IOB2 tags with entity-level events and class-conditional token flips.

    Each clean entity independently suffers at most one event, drawn with the given
    probabilities (which must sum to at most 1): ``missing`` (tagged ``O``), ``type_swap``
    (another type, uniformly), ``expand`` (one more token left or right), ``shrink`` (one
    token fewer; single-token entities stay), ``move`` (shifted one token). Boundary events
    that would overlap another entity or leave the sentence are skipped. Then every ``O``
    token outside entities starts a ``spurious`` one-token entity of a random type with that
    probability. Finally, if given, ``token_transition`` (``(C, C)`` over ``class_names``,
    ``T[i, j] = P(noisy=j | clean=i)``) flips tokens and the result is repaired IOB1 -> IOB2
    (an ``I-X`` not continuing ``X`` becomes ``B-X``), so every output is valid IOB2.

    Args:
        tags: ``(T,)`` IOB2 tag ids into ``class_names`` (clean).
        example_id: ``(T,)`` sentence of each token; each sentence is one contiguous run.
        class_names: IOB2 tag names, containing ``"O"`` and ``B-X``/``I-X`` for every type.
        seed: int, generator or None.

    Returns:
        :class:`NoisyTargets` with ``noisy (T,)``, ``clean (T,)``, ``is_corrupted (T,)``.
    """
    tags = as_long_tensor("tags", tags)
    example_id = as_long_tensor("example_id", example_id)
    if tags.dim() != 1 or tags.shape != example_id.shape:
        raise ValueError(
            f"tags and example_id must both have shape (T,); got {tuple(tags.shape)} and "
            f"{tuple(example_id.shape)}"
        )
    names = list(class_names)
    check_labels("tags", tags, len(names))
    types = _types(names)
    rates = {
        k: check_rate(k, v, high_inclusive=True)
        for k, v in zip(
            SPAN_EVENTS, (missing, type_swap, expand, shrink, move, spurious), strict=True
        )
    }
    if sum(rates[k] for k in SPAN_EVENTS[:-1]) > 1 + 1e-9:
        raise ValueError(
            "missing + type_swap + expand + shrink + move must be <= 1; got "
            f"{sum(rates[k] for k in SPAN_EVENTS[:-1]):.4g}"
        )
    if token_transition is not None and token_transition.num_classes != len(names):
        raise ValueError(
            f"token_transition must be {len(names)}x{len(names)}; got "
            f"{token_transition.num_classes}x{token_transition.num_classes}"
        )
    rng = numpy_rng(seed)
    index = {n: i for i, n in enumerate(names)}
    tmat = None if token_transition is None else token_transition.numpy()
    bounds = _split(example_id)
    flat = [names[i] for i in tags.tolist()]
    out: list[int] = []
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        sent = repair_iob2(flat[a:b])
        noisy = _corrupt_sentence(sent, types, rates, rng)
        if tmat is not None:
            ids = [index[t] for t in noisy]
            noisy = repair_iob2([names[rng.choice(len(names), p=tmat[i])] for i in ids])
        out.extend(index[t] for t in noisy)
    noisy_t = torch.tensor(out, dtype=torch.long)
    return NoisyTargets(noisy_t, tags.clone(), noisy_t != tags)


def calibrate_span_noise(
    tags: Tensor,
    example_id: Tensor,
    class_names: Sequence[str],
    *,
    target_share: float,
    mix: Mapping[str, float],
    seed: Seed = 0,
    tol: float = 0.005,
    max_iter: int = 20,
) -> tuple[NoisyTargets, dict[str, float]]:
    """Scale an event mix until the entity noise share ``1 - F1`` reaches ``target_share``.

    Args:
        mix: relative weights of :data:`SPAN_EVENTS` (e.g. ``{"missing": 3, "spurious": 1}``);
            the rates are ``scale * mix`` with ``scale`` found by bisection.
        target_share: the entity noise share to reach, in ``[0, 1)``.
        tol: stop when ``|share - target_share| <= tol``.

    Returns:
        ``(noisy_targets, rates)``: the simulated noise and the rates that produced it.
    """
    check_rate("target_share", target_share)
    bad = set(mix) - set(SPAN_EVENTS)
    if bad:
        raise ValueError(f"mix keys must be among {SPAN_EVENTS}; got {sorted(bad)}")
    names = list(class_names)
    bounds = _split(as_long_tensor("example_id", example_id))
    clean = [names[i] for i in as_long_tensor("tags", tags).tolist()]
    clean_sents = [clean[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    entity_total = sum(mix.get(k, 0.0) for k in SPAN_EVENTS[:-1])
    hi = 1.0 / entity_total if entity_total > 0 else 1.0 / max(mix.get("spurious", 1.0), 1e-9)
    lo = 0.0
    best: tuple[NoisyTargets, dict[str, float]] | None = None
    for _ in range(max_iter):
        scale = (lo + hi) / 2
        rates = {k: min(1.0, scale * float(mix.get(k, 0.0))) for k in SPAN_EVENTS}
        nt = span_noise(
            tags,
            example_id,
            names,
            seed=seed,
            missing=rates["missing"],
            type_swap=rates["type_swap"],
            expand=rates["expand"],
            shrink=rates["shrink"],
            move=rates["move"],
            spurious=rates["spurious"],
        )
        noisy = [names[i] for i in nt.noisy.tolist()]
        share = entity_noise_share(
            [noisy[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)], clean_sents
        )
        best = (nt, rates | {"share": share})
        if abs(share - target_share) <= tol:
            break
        lo, hi = (scale, hi) if share < target_share else (lo, scale)
    assert best is not None
    return best
