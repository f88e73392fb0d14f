"""NoiseBench (English): real NER label noise on 5,885 CoNLL-03 train sentences.

Merdjanovska, Aynetdinov & Akbik, "NoiseBench: Benchmarking the Impact of Real Label Noise on
Named Entity Recognition", EMNLP 2024 (arXiv:2405.07609). The published files mask every
token as ``[TOK]``; :func:`load_noisebench` unmasks them from a CoNLL-03 train file: apply
CleanCoNLL's ``train_tokens.patch`` (a normal ``diff`` on the token column) to get CleanCoNLL's
train blocks, and read block ``index.txt[k]`` for NoiseBench block ``k``. The result holds the
clean labels (CleanCoNLL) and the six noisy label sets on the same sentences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from labelnoise.tasks.ner.conll import read_conll

__all__ = ["NOISE_FILES", "NoiseBench", "apply_normal_diff", "load_noisebench"]

#: label set name -> NoiseBench file.
NOISE_FILES: dict[str, str] = {
    "clean": "clean.traindev",
    "expert": "noise_expert.traindev",
    "crowd++": "noise_crowdbest.traindev",
    "crowd": "noise_crowd.traindev",
    "distant": "noise_distant.traindev",
    "weak": "noise_weak.traindev",
    "llm": "noise_llm.traindev",
}

_CMD = re.compile(r"^(\d+)(?:,(\d+))?([acd])(\d+)(?:,(\d+))?$")


@dataclass
class NoiseBench:
    """NoiseBench sentences, unmasked.

    Attributes:
        tokens: ``(S,)`` token lists.
        labels: label set name (see :data:`NOISE_FILES`) -> ``(S,)`` IOB2 tag lists.
        conll03_tags: ``(S,)`` the NER column of the CoNLL-03 lines each sentence came from.
        conll03_line: ``(S,)`` 1-based line of each sentence's first token in the CoNLL-03 file.
        document: ``(S,)`` document index of each sentence.
        split: ``(S,)`` ``"train"`` or ``"dev"`` (NoiseBench's split by document date).
    """

    tokens: list[list[str]]
    labels: dict[str, list[list[str]]]
    conll03_tags: list[list[str]]
    conll03_line: list[int]
    document: list[int]
    split: list[str]

    def select(self, split: Literal["train", "dev", "all"]) -> list[int]:
        """Indices of the sentences of ``split``."""
        if split not in ("train", "dev", "all"):
            raise ValueError(f"split must be 'train', 'dev' or 'all'; got {split!r}")
        return [i for i, s in enumerate(self.split) if split in ("all", s)]


def apply_normal_diff(lines: list[str], patch: str) -> tuple[list[str], list[int | None]]:
    """Apply a normal-format ``diff`` (``NaM``, ``N,MdK``, ``NcK,L`` commands) to ``lines``.

    Returns:
        ``(new_lines, source)``: ``source[i]`` is the 0-based old line of ``new_lines[i]``,
        or None for an inserted line.
    """
    hunks: list[tuple[int, int, str, list[str]]] = []
    for text in patch.split("\n"):
        m = _CMD.match(text)
        if m:
            a = int(m.group(1))
            b = int(m.group(2) or a)
            hunks.append((a, b, m.group(3), []))
        elif text.startswith("> "):
            hunks[-1][3].append(text[2:])
        elif text.startswith(">") and text == ">":
            hunks[-1][3].append("")
    out: list[str] = []
    src: list[int | None] = []
    pos = 0
    for a, b, op, added in hunks:
        stop = a if op == "a" else a - 1
        if stop < pos or b > len(lines):
            raise ValueError(
                f"patch must be ordered and within {len(lines)} lines; got {a},{b}{op}"
            )
        out.extend(lines[pos:stop])
        src.extend(range(pos, stop))
        pos = stop if op == "a" else b
        out.extend(added)
        src.extend([None] * len(added))
    out.extend(lines[pos:])
    src.extend(range(pos, len(lines)))
    return out, src


def _blocks(lines: list[str]) -> list[list[int]]:
    blocks: list[list[int]] = []
    cur: list[int] = []
    for i, ln in enumerate(lines):
        if ln == "":
            if cur:
                blocks.append(cur)
                cur = []
        else:
            cur.append(i)
    if cur:
        blocks.append(cur)
    return blocks


def load_noisebench(
    data_dir: str | Path,
    *,
    conll03_train: str | Path | None = None,
) -> NoiseBench:
    """Load and unmask NoiseBench.

    Args:
        data_dir: the data root holding ``noisebench/`` (NoiseBench files, ``index.txt``,
            ``cleanconll/train_tokens.patch``) and, unless given, ``ner/conll03/train.txt``.
        conll03_train: the CoNLL-03 English train file (4 columns, IOB2 or IOB1).

    Raises:
        FileNotFoundError: a missing file.
        ValueError: a NoiseBench sentence whose length differs from its CoNLL-03 block.
    """
    root = Path(data_dir)
    nb = root / "noisebench"
    train_path = Path(conll03_train) if conll03_train else root / "ner" / "conll03" / "train.txt"
    for p in (nb / "index.txt", nb / "cleanconll" / "train_tokens.patch", train_path):
        if not p.is_file():
            raise FileNotFoundError(f"NoiseBench needs {p}; got no such file")
    raw = train_path.read_text(encoding="utf-8").split("\n")
    if raw and raw[-1] == "":
        raw.pop()
    token_col = [ln.split(" ")[0] if ln else "" for ln in raw]
    patch = (nb / "cleanconll" / "train_tokens.patch").read_text(encoding="utf-8")
    patched, source = apply_normal_diff(token_col, patch)
    blocks = _blocks(patched)
    index = (nb / "index.txt").read_text(encoding="utf-8").split()
    label_files = {k: read_conll(nb / f, sep="\t") for k, f in NOISE_FILES.items()}
    n_blocks = {k: len(f.blocks) for k, f in label_files.items()}
    if set(n_blocks.values()) != {len(index)}:
        raise ValueError(f"NoiseBench files must have {len(index)} blocks each; got {n_blocks}")
    tokens: list[list[str]] = []
    cl_tags: list[list[str]] = []
    cl_line: list[int] = []
    document: list[int] = []
    labels: dict[str, list[list[str]]] = {k: [] for k in NOISE_FILES}
    doc = -1
    for k, entry in enumerate(index):
        if entry == "docstart":
            doc += 1
            continue
        lines = blocks[int(entry)]
        n = len(label_files["clean"].blocks[k].rows)
        if len(lines) != n or any(source[i] is None for i in lines):
            raise ValueError(
                f"NoiseBench block {k} must map to {n} unpatched CoNLL-03 tokens; got "
                f"{len(lines)} tokens at CleanCoNLL block {entry}"
            )
        src = [source[i] for i in lines]
        tokens.append([patched[i] for i in lines])
        cl_tags.append([raw[j].split(" ")[-1] for j in src if j is not None])
        first = src[0]
        assert first is not None  # checked above: every token maps to an unpatched line
        cl_line.append(first + 1)
        document.append(doc)
        for name, f in label_files.items():
            labels[name].append(f.blocks[k].column(-1))
    split = _split_by_date(tokens, document)
    return NoiseBench(tokens, labels, cl_tags, cl_line, document, split)


def _split_by_date(tokens: list[list[str]], document: list[int]) -> list[str]:
    """NoiseBench's dev rule: a document is dev if the last token of the 3rd or 4th block
    counting its marker as the 1st (its 2nd or 3rd sentence, where the dateline sits)
    contains ``1996-08-24``."""
    first: dict[int, int] = {}
    for i, d in enumerate(document):
        first.setdefault(d, i)
    dev_docs = set()
    for d, i in first.items():
        for j in (i + 1, i + 2):
            if j < len(tokens) and document[j] == d and "1996-08-24" in tokens[j][-1]:
                dev_docs.add(d)
    return ["dev" if d in dev_docs else "train" for d in document]
