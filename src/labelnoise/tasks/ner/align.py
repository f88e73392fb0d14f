"""Word <-> sub-word alignment: first-subword labelling.

Each word's label goes on its first sub-word; every other position (special tokens, later
sub-words, padding) gets ``ignore_index`` (-100), so the units of a sentence are exactly its
words, in order. Sequences longer than the model's maximum raise a ValueError naming the
sentence: labels are never truncated silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from labelnoise.common.units import IGNORE_INDEX

__all__ = ["encode_words", "first_subword_labels", "word_values"]


def first_subword_labels(
    word_ids: Sequence[int | None], word_labels: Sequence[int], *, ignore_index: int = IGNORE_INDEX
) -> list[int]:
    """Sub-word labels: ``word_labels[w]`` on the first sub-word of word ``w``, else ignore.

    Args:
        word_ids: per sub-word, its word index or None (special tokens), as returned by a
            fast tokenizer's ``word_ids()``.
        word_labels: ``(n_words,)`` label ids.
    """
    out = []
    prev: int | None = None
    for w in word_ids:
        out.append(word_labels[w] if w is not None and w != prev else ignore_index)
        prev = w
    seen = {w for w in word_ids if w is not None}
    if len(seen) != len(word_labels):
        missing = sorted(set(range(len(word_labels))) - seen)
        raise ValueError(f"every word must have a sub-word; got none for words {missing[:5]}")
    return out


def word_values(
    subword_labels: Sequence[int], values: Sequence[Any], *, ignore_index: int = IGNORE_INDEX
) -> list[Any]:
    """Back from sub-words to words: the entries of ``values`` at labelled positions."""
    return [v for lab, v in zip(subword_labels, values, strict=True) if lab != ignore_index]


def encode_words(
    tokenizer: Any,
    sentences: Sequence[Sequence[str]],
    *,
    max_length: int,
) -> list[tuple[list[int], list[int | None]]]:
    """Tokenize pre-split sentences with a fast tokenizer.

    Words that the tokenizer maps to nothing (e.g. lone control characters) are replaced by
    the unknown token so every word keeps its label.

    Returns:
        per sentence ``(input_ids, word_ids)``.

    Raises:
        ValueError: a sentence longer than ``max_length`` sub-words (names the sentence).
    """
    enc = tokenizer([list(s) for s in sentences], is_split_into_words=True, truncation=False)
    out = []
    for i, sent in enumerate(sentences):
        ids, wids = enc["input_ids"][i], enc.word_ids(i)
        if len({w for w in wids if w is not None}) != len(sent):
            seen = set(wids)
            fixed = [w if k in seen else tokenizer.unk_token for k, w in enumerate(sent)]
            one = tokenizer([fixed], is_split_into_words=True, truncation=False)
            ids, wids = one["input_ids"][0], one.word_ids(0)
        if len(ids) > max_length:
            raise ValueError(
                f"sentence {i} must fit the model's maximum of {max_length} sub-words; got "
                f"{len(ids)} ({len(sent)} words). Split long sentences before training"
            )
        out.append((ids, wids))
    return out
