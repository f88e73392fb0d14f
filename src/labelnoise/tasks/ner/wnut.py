"""WNUT-17 Emerging and Rare Entities (Derczynski et al., W-NUT 2017).

Tab-separated ``token<TAB>tag`` files in IOB2 over six types. ``emerging.test.annotated`` is
the final gold test set; ``emerging.test.conll`` is a pre-final release of the same sentences
with some comma-joined candidate tags (``B-creative-work,B-person``): a real noisy/clean pair.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from labelnoise.tasks.ner.conll import read_conll

__all__ = ["WNUT17_FILES", "load_wnut17"]

WNUT17_FILES: dict[str, str] = {
    "train": "wnut17train.conll",
    "dev": "emerging.dev.conll",
    "test": "emerging.test.annotated",
    "test_prefinal": "emerging.test.conll",
}


def load_wnut17(
    data_dir: str | Path,
    split: Literal["train", "dev", "test", "test_prefinal"],
    *,
    multi_tag: Literal["first", "keep"] = "first",
) -> tuple[list[list[str]], list[list[str]]]:
    """Tokens and IOB2 tags of one WNUT-17 split.

    Args:
        data_dir: the data root holding ``ner/wnut17/`` (or that folder itself).
        split: which file (see :data:`WNUT17_FILES`).
        multi_tag: for comma-joined candidate tags (``test_prefinal``): keep the ``first``
            candidate, or ``keep`` the joined string.
    """
    if split not in WNUT17_FILES:
        raise ValueError(f"split must be one of {sorted(WNUT17_FILES)}; got {split!r}")
    root = Path(data_dir)
    folder = root if (root / WNUT17_FILES[split]).is_file() else root / "ner" / "wnut17"
    conll = read_conll(folder / WNUT17_FILES[split], sep="\t")
    tokens = [s.tokens for s in conll.sentences]
    tags = conll.tags(-1)
    if multi_tag == "first":
        tags = [[t.split(",")[0] for t in sent] for sent in tags]
    return tokens, tags
