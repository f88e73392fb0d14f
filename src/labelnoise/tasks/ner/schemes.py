"""Tagging schemes: IOB1, IOB2 (BIO) and BIOES, and their conversions.

IOB2 is the internal scheme. An ``I-X`` tag that does not continue an ``X`` entity (the
IOB1 convention, or an annotation slip) is *repaired* the IOB1 -> IOB2 way -- it becomes
``B-X`` -- or rejected with ``on_invalid="error"``. Entities are read in seqeval's strict
IOB2 mode (:func:`labelnoise.common.noise.spans.bio_spans`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from labelnoise.common.noise.spans import bio_spans, repair_iob2

__all__ = ["Scheme", "bio_spans", "convert_tags", "to_iob2"]

Scheme = Literal["iob1", "iob2", "bioes"]
_PREFIXES = {"iob1": "BI", "iob2": "BI", "bioes": "BIES"}


def _check_prefixes(tags: Sequence[str], scheme: Scheme) -> None:
    allowed = _PREFIXES[scheme]
    for i, t in enumerate(tags):
        if t != "O" and (len(t) < 3 or t[1] != "-" or t[0] not in allowed):
            raise ValueError(
                f"tags must be 'O' or {'/'.join(allowed)}-TYPE in scheme {scheme}; "
                f"got {t!r} at position {i}"
            )


def to_iob2(
    tags: Sequence[str],
    *,
    scheme: Scheme = "iob2",
    on_invalid: Literal["repair", "error"] = "repair",
) -> list[str]:
    """Convert ``tags`` from ``scheme`` to valid IOB2.

    For ``iob2`` input, an ``I-X`` that does not continue an ``X`` entity is repaired to
    ``B-X`` (the IOB1 -> IOB2 rule) or, with ``on_invalid="error"``, raises ValueError.
    """
    _check_prefixes(tags, scheme)
    if scheme == "bioes":
        return to_iob2(
            ["B" + t[1:] if t[0] == "S" else "I" + t[1:] if t[0] == "E" else t for t in tags],
            on_invalid=on_invalid,
        )
    fixed = repair_iob2(tags)
    if scheme == "iob2" and on_invalid == "error" and fixed != list(tags):
        i = next(k for k, (a, b) in enumerate(zip(tags, fixed, strict=True)) if a != b)
        raise ValueError(
            f"tags must be valid IOB2 (an I- tag continues an entity of its type); got "
            f"{tags[i]!r} at position {i} after {tags[i - 1] if i else 'the start'!r}"
        )
    return fixed


def _from_iob2(tags: list[str], scheme: Scheme) -> list[str]:
    if scheme == "iob2":
        return tags
    out = ["O"] * len(tags)
    for s, e, t in bio_spans(tags):
        if scheme == "bioes":
            if e - s == 1:
                out[s] = "S-" + t
            else:
                out[s] = "B-" + t
                out[s + 1 : e - 1] = ["I-" + t] * (e - s - 2)
                out[e - 1] = "E-" + t
        else:
            touches = s > 0 and tags[s - 1] != "O" and tags[s - 1][2:] == t
            out[s] = ("B-" if touches else "I-") + t
            out[s + 1 : e] = ["I-" + t] * (e - s - 1)
    return out


def convert_tags(
    tags: Sequence[str],
    *,
    source: Scheme,
    target: Scheme,
    on_invalid: Literal["repair", "error"] = "repair",
) -> list[str]:
    """Convert one tag sequence between IOB1, IOB2 and BIOES (through IOB2)."""
    for name, s in (("source", source), ("target", target)):
        if s not in _PREFIXES:
            raise ValueError(f"{name} must be one of {sorted(_PREFIXES)}; got {s!r}")
    return _from_iob2(to_iob2(tags, scheme=source, on_invalid=on_invalid), target)
