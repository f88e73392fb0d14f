"""CoNLL column files: read, write, round-trip byte for byte.

One token per line, columns separated by one space or one tab, blank lines between
sentences, ``-DOCSTART-`` lines as one-line document blocks (CoNLL-2003, Tjong Kim Sang &
De Meulder, 2003). :func:`read_conll` keeps everything needed to write the file back
unchanged (separator, blank-line gaps, final newline), and :func:`write_conll` can replace
the tag column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from labelnoise._io import atomic_write

__all__ = ["ConllFile", "Sentence", "read_conll", "write_conll"]

DOCSTART = "-DOCSTART-"


@dataclass(frozen=True)
class Sentence:
    """One block of a CoNLL file.

    Attributes:
        rows: ``(n_tokens, n_columns)`` strings; column 0 is the token.
        docstart: True for a ``-DOCSTART-`` document marker block.
    """

    rows: tuple[tuple[str, ...], ...]
    docstart: bool = False

    @property
    def tokens(self) -> list[str]:
        return [r[0] for r in self.rows]

    def column(self, index: int) -> list[str]:
        """The strings of column ``index`` (negative counts from the end)."""
        return [r[index] for r in self.rows]


@dataclass
class ConllFile:
    """A parsed CoNLL file.

    Attributes:
        blocks: every block in file order (document markers included).
        sep: the column separator (``" "`` or ``"\\t"``).
        gaps: the blank lines after each block, verbatim (empty or whitespace only; WNUT-17
            separates sentences with a lone tab), same length as ``blocks``.
        leading: the blank lines before the first block, verbatim.
        final_newline: whether the last line ends with a newline.
    """

    blocks: list[Sentence]
    sep: str
    gaps: list[list[str]] = field(default_factory=list)
    leading: list[str] = field(default_factory=list)
    final_newline: bool = True

    @property
    def sentences(self) -> list[Sentence]:
        """The blocks that are not document markers."""
        return [b for b in self.blocks if not b.docstart]

    def tags(self, column: int = -1) -> list[list[str]]:
        """Tags of every sentence (document markers left out) from ``column``."""
        return [s.column(column) for s in self.sentences]


def read_conll(
    path: str | Path,
    *,
    sep: Literal["auto", " ", "\t"] = "auto",
    encoding: str = "utf-8",
) -> ConllFile:
    """Read a CoNLL column file.

    Args:
        path: the file.
        sep: column separator; ``"auto"`` picks a tab if the first token line has one.
        encoding: text encoding (default utf-8).

    Raises:
        FileNotFoundError: missing file.
        ValueError: a line whose number of columns differs from the first token line's
            (the message gives the line number), or a CR line ending.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path must be an existing CoNLL file; got {path}")
    with open(path, encoding=encoding, newline="") as f:
        text = f.read()
    if "\r" in text:
        raise ValueError(f"{path} must use LF line endings; got CR (convert CRLF first)")
    final_newline = text.endswith("\n")
    lines = text.split("\n")
    if final_newline:
        lines.pop()
    if sep == "auto":
        first = next((ln for ln in lines if ln.strip()), "")
        sep = "\t" if "\t" in first else " "
    n_cols = -1
    blocks: list[Sentence] = []
    gaps: list[list[str]] = []
    leading: list[str] = []
    rows: list[tuple[str, ...]] = []

    def close() -> None:
        if rows:
            blocks.append(Sentence(tuple(rows), docstart=rows[0][0] == DOCSTART))
            gaps.append([])
            rows.clear()

    for lineno, line in enumerate(lines, start=1):
        if line.strip() == "":
            close()
            (gaps[-1] if blocks else leading).append(line)
            continue
        cols = tuple(line.split(sep))
        if n_cols < 0:
            n_cols = len(cols)
        elif len(cols) != n_cols:
            raise ValueError(
                f"{path}:{lineno}: every line must have {n_cols} columns separated by "
                f"{sep!r}; got {len(cols)}: {line!r}"
            )
        if cols[0] == DOCSTART and rows:
            close()
        rows.append(cols)
        if cols[0] == DOCSTART:
            close()
    close()
    return ConllFile(blocks, sep, gaps, leading, final_newline)


def write_conll(
    conll: ConllFile,
    path: str | Path,
    *,
    tags: Sequence[Sequence[str]] | None = None,
    tag_column: int = -1,
) -> None:
    """Write ``conll`` (atomically), optionally with new tags in ``tag_column``.

    Args:
        tags: one tag list per sentence (document markers excluded), each as long as its
            sentence; None writes the file unchanged.
    """
    blocks = conll.blocks
    if tags is not None:
        sents = conll.sentences
        if len(tags) != len(sents):
            raise ValueError(
                f"tags must have one list per sentence ({len(sents)}); got {len(tags)}"
            )
        it = iter(tags)
        new_blocks = []
        for b in blocks:
            if b.docstart:
                new_blocks.append(b)
                continue
            t = list(next(it))
            if len(t) != len(b.rows):
                raise ValueError(
                    f"tags must match sentence lengths; got {len(t)} tags for {len(b.rows)} tokens"
                )
            rows = []
            for r, tag in zip(b.rows, t, strict=True):
                cells = list(r)
                cells[tag_column] = tag
                rows.append(tuple(cells))
            new_blocks.append(replace(b, rows=tuple(rows)))
        blocks = new_blocks
    lines = list(conll.leading)
    for b, gap in zip(blocks, conll.gaps, strict=True):
        lines.extend(conll.sep.join(r) for r in b.rows)
        lines.extend(gap)
    text = "\n".join(lines) + ("\n" if conll.final_newline and lines else "")
    with atomic_write(Path(path), encoding="utf-8", newline="") as f:
        f.write(text)
