"""IOB1 / IOB2 / BIOES conversions and entity reading against seqeval's strict IOB2 mode."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from seqeval.scheme import IOB2, Entities

from labelnoise.tasks.ner.schemes import bio_spans, convert_tags, to_iob2

TAGS = st.lists(st.sampled_from(["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]), max_size=12)


@given(TAGS)
@settings(max_examples=200, deadline=None)
def test_bio_spans_equal_seqeval_strict(tags):
    ref = [(s, e, t) for _, t, s, e in (x.to_tuple() for x in Entities([tags], IOB2).entities[0])]
    assert sorted(bio_spans(tags)) == sorted(ref)


@given(TAGS)
@settings(max_examples=200, deadline=None)
def test_conversions_round_trip_through_iob2(tags):
    valid = to_iob2(tags)
    for scheme in ("iob1", "bioes"):
        there = convert_tags(valid, source="iob2", target=scheme)
        assert convert_tags(there, source=scheme, target="iob2") == valid


def test_known_conversions():
    iob1 = ["I-PER", "I-PER", "B-PER", "O", "I-LOC"]
    assert convert_tags(iob1, source="iob1", target="iob2") == [
        "B-PER",
        "I-PER",
        "B-PER",
        "O",
        "B-LOC",
    ]
    iob2 = ["B-PER", "I-PER", "B-PER", "O", "B-LOC"]
    assert convert_tags(iob2, source="iob2", target="bioes") == [
        "B-PER",
        "E-PER",
        "S-PER",
        "O",
        "S-LOC",
    ]
    assert convert_tags(iob2, source="iob2", target="iob1") == iob1


def test_stray_inside_tag_is_repaired_or_rejected():
    tags = ["O", "I-PER", "I-PER", "B-LOC", "I-ORG"]
    assert to_iob2(tags) == ["O", "B-PER", "I-PER", "B-LOC", "B-ORG"]
    with pytest.raises(ValueError, match=r"valid IOB2.*'I-PER' at position 1"):
        to_iob2(tags, on_invalid="error")


def test_bad_tag_and_scheme():
    with pytest.raises(ValueError, match="tags must be 'O' or B/I-TYPE"):
        to_iob2(["O", "S-PER"])
    with pytest.raises(ValueError, match="target must be one of"):
        convert_tags(["O"], source="iob2", target="bilou")
