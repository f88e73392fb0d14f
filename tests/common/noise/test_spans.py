"""Span-level NER noise: every output is valid IOB2, masks are exact, events do what they say."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from labelnoise.common.noise import calibrate_span_noise, span_noise
from labelnoise.common.noise.spans import bio_spans, entity_noise_share, repair_iob2
from labelnoise.common.transition import TransitionMatrix

NAMES = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]


def _sentences(draw_tags):
    return [repair_iob2([NAMES[i] for i in s]) for s in draw_tags]


def _flat(sents):
    index = {n: i for i, n in enumerate(NAMES)}
    tags = torch.tensor([index[t] for s in sents for t in s], dtype=torch.long)
    eid = torch.tensor([k for k, s in enumerate(sents) for _ in s], dtype=torch.long)
    return tags, eid


def _split(flat, sents):
    out, k = [], 0
    for s in sents:
        out.append([NAMES[i] for i in flat[k : k + len(s)].tolist()])
        k += len(s)
    return out


RATE = st.floats(0.0, 0.2)


@given(
    st.lists(st.lists(st.integers(0, 6), min_size=1, max_size=10), min_size=1, max_size=6),
    RATE,
    RATE,
    RATE,
    RATE,
    RATE,
    RATE,
    st.booleans(),
    st.integers(0, 10_000),
)
@settings(max_examples=150, deadline=None)
def test_every_output_is_valid_iob2(
    raw, missing, swap, expand, shrink, move, spurious, flips, seed
):
    sents = _sentences(raw)
    tags, eid = _flat(sents)
    t = TransitionMatrix.symmetric(len(NAMES), 0.1) if flips else None
    nt = span_noise(
        tags,
        eid,
        NAMES,
        missing=missing,
        type_swap=swap,
        expand=expand,
        shrink=shrink,
        move=move,
        spurious=spurious,
        token_transition=t,
        seed=seed,
    )
    noisy = _split(nt.noisy, sents)
    assert all(repair_iob2(s) == s for s in noisy)
    assert torch.equal(nt.clean, tags)
    assert torch.equal(nt.is_corrupted, nt.noisy != tags)


SENTS = [["B-PER", "I-PER", "O", "O", "B-LOC", "O"], ["O", "B-ORG", "O", "O"]] * 50


def test_missing_and_type_swap_at_rate_one():
    tags, eid = _flat(SENTS)
    gone = _split(span_noise(tags, eid, NAMES, missing=1.0, seed=0).noisy, SENTS)
    assert all(t == "O" for s in gone for t in s)
    swapped = _split(span_noise(tags, eid, NAMES, type_swap=1.0, seed=0).noisy, SENTS)
    for s, c in zip(swapped, SENTS):
        assert [(a, b) for a, b, _ in bio_spans(s)] == [(a, b) for a, b, _ in bio_spans(c)]
        assert all(x[2] != y[2] for x, y in zip(bio_spans(s), bio_spans(c)))


def test_boundary_events_keep_types_and_change_spans():
    tags, eid = _flat(SENTS)
    for event in ("expand", "shrink", "move"):
        noisy = _split(span_noise(tags, eid, NAMES, seed=1, **{event: 1.0}).noisy, SENTS)
        for s, c in zip(noisy, SENTS):
            got, ref = bio_spans(s), bio_spans(c)
            assert len(got) == len(ref)
            assert [x[2] for x in got] == [x[2] for x in ref]
        if event == "expand":
            assert sum(b - a for s in noisy for a, b, _ in bio_spans(s)) > sum(
                b - a for s in SENTS for a, b, _ in bio_spans(s)
            )


def test_spurious_adds_single_token_entities_on_o_tokens():
    tags, eid = _flat(SENTS)
    noisy = _split(span_noise(tags, eid, NAMES, spurious=0.5, seed=0).noisy, SENTS)
    for s, c in zip(noisy, SENTS):
        assert set(bio_spans(c)) <= set(bio_spans(s))
    assert sum(len(bio_spans(s)) for s in noisy) > sum(len(bio_spans(s)) for s in SENTS)


def test_seeded_and_entity_share():
    tags, eid = _flat(SENTS)
    a = span_noise(tags, eid, NAMES, missing=0.3, spurious=0.1, seed=3)
    b = span_noise(tags, eid, NAMES, missing=0.3, spurious=0.1, seed=3)
    assert torch.equal(a.noisy, b.noisy)
    assert entity_noise_share(SENTS, SENTS) == 0.0
    assert entity_noise_share([["O", "O"]], [["B-PER", "O"]]) == 1.0


def test_calibration_reaches_the_target_share():
    tags, eid = _flat(SENTS * 4)
    nt, rates = calibrate_span_noise(
        tags, eid, NAMES, target_share=0.3, mix={"missing": 2, "type_swap": 1, "spurious": 0.2}
    )
    assert rates["share"] == pytest.approx(0.3, abs=0.02)
    noisy = _split(nt.noisy, SENTS * 4)
    assert entity_noise_share(noisy, SENTS * 4) == pytest.approx(rates["share"])


def test_bad_inputs():
    tags, eid = _flat(SENTS[:2])
    with pytest.raises(ValueError, match="must be <= 1"):
        span_noise(tags, eid, NAMES, missing=0.6, type_swap=0.6)
    with pytest.raises(ValueError, match="class_names must contain I-PER"):
        span_noise(tags[:1], eid[:1], ["O", "B-PER"])
    with pytest.raises(ValueError, match="tags must be in"):
        span_noise(tags + 10, eid, NAMES)
    with pytest.raises(ValueError, match="token_transition must be 7x7"):
        span_noise(tags, eid, NAMES, token_transition=TransitionMatrix.identity(3))
    with pytest.raises(ValueError, match="mix keys must be among"):
        calibrate_span_noise(tags, eid, NAMES, target_share=0.1, mix={"bogus": 1.0})
