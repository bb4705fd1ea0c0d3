"""Column files of tagged tokens, as named-entity data comes: one token a line, its columns
separated by tabs (or spaces), a blank line between sentences; ``#`` comment lines and
CoNLL-2003's ``-DOCSTART-`` lines are skipped.

    EU      NNP  B-NP  B-ORG          CoNLL-2003: the token first, the entity tag last
    1  SID  B-ORG  B-ORG#O  s         UNER (.iob2): a word number, the token, the tag, ...

Which columns hold the token and the tag is found from the first token line (a leading word
number means UNER's layout) unless given. Tags are IOB2; a tag ``I-X`` that cannot continue
an entity (after ``O`` or another type) is repaired to ``B-X`` and counted (``repaired``), or
refused with ``repair=False``. Every error names the file and the line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .iob2 import is_tag
from .iob2 import repair as repair_tags

UPOS_TAGS = {"ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART",
             "PRON", "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X"}


class ColumnsError(ValueError):
    """A column file is malformed; the message names the file and the line."""


@dataclass
class TaggedSentence:
    forms: list[str]
    tags: list[str]
    sent_id: str | None = None
    text: str | None = None

    def __len__(self) -> int:
        return len(self.forms)


@dataclass
class ColumnsReport:
    """What reading a column file found: sentences, tokens, the columns used, and the tags
    repaired."""

    source: str
    sentences: int = 0
    tokens: int = 0
    token_column: int = 0
    tag_column: int = -1
    repaired: int = 0
    tags: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.source}: {self.sentences:,} sentences, {self.tokens:,} tokens, tags "
                f"{', '.join(self.tags)} (token column {self.token_column + 1}, tag column "
                f"{self.tag_column + 1 if self.tag_column >= 0 else 'last'})"
                + (f"; {self.repaired} I- tags that could not continue an entity made B-"
                   if self.repaired else ""))


def read_columns(path: str | Path, token_column: int | None = None,
                 tag_column: int | None = None, repair: bool = True
                 ) -> tuple[list[TaggedSentence], ColumnsReport]:
    """The sentences of a column file and what was found (see the module's docstring)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ColumnsError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from exc
    report = ColumnsReport(str(path))
    sentences, forms, tags, width, meta = [], [], [], None, {}

    def close(number: int) -> None:
        nonlocal forms, tags, width, meta
        if forms:
            sentences.append(_repaired(TaggedSentence(forms, tags, meta.get("sent_id"),
                                                      meta.get("text")), report, repair,
                                       path, number))
        forms, tags, width, meta = [], [], None, {}

    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped:
            close(number)
            continue
        if stripped.startswith("#"):
            key, _, value = stripped[1:].partition("=")
            meta[key.strip()] = value.strip()
            continue
        if stripped.startswith("-DOCSTART-"):
            continue
        columns = line.rstrip("\n").split("\t") if "\t" in line else stripped.split()
        if token_column is None:  # found once, from the file's first token line
            token_column, tag_column = _layout(columns, tag_column, path, number)
            report.token_column, report.tag_column = token_column, tag_column
        if width is None:
            width = len(columns)
        elif len(columns) != width:
            raise ColumnsError(f"{path}:{number}: {len(columns)} columns where the sentence's "
                               f"first line has {width}")
        if len(columns) < 2 or max(token_column, tag_column) >= len(columns):
            raise ColumnsError(f"{path}:{number}: no tag column ({len(columns)} column(s): "
                               f"{line[:60]!r}); each token needs its tag")
        tag = columns[tag_column].strip()
        if not is_tag(tag):
            hint = ("; it looks like a CoNLL-U file: give it to 'gatedrnn tagger train' with "
                    "--data or --train" if tag in UPOS_TAGS or len(columns) == 10 else "")
            raise ColumnsError(f"{path}:{number}: {tag!r} is not an IOB2 tag (O, B-TYPE or "
                               f"I-TYPE){hint}")
        forms.append(columns[token_column].strip())
        tags.append(tag)
    close(len(text.splitlines()) + 1)
    if not sentences:
        raise ColumnsError(f"{path} holds no tagged token")
    report.sentences = len(sentences)
    report.tokens = sum(len(s) for s in sentences)
    report.tags = sorted({t for s in sentences for t in s.tags})
    return sentences, report


def _layout(columns: list[str], tag_column: int | None, path: Path, number: int
            ) -> tuple[int, int]:
    """(token column, tag column) from the first token line: a leading word number means
    UNER's layout (number, token, tag, ...); otherwise the token is first and the tag last."""
    if columns[0].isdigit() and len(columns) >= 3:
        return 1, 2 if tag_column is None else tag_column
    return 0, len(columns) - 1 if tag_column is None else tag_column


def _repaired(sentence: TaggedSentence, report: ColumnsReport, repair: bool, path: Path,
              number: int) -> TaggedSentence:
    fixed, changed = repair_tags(sentence.tags)
    if changed and not repair:
        first = next(i for i, (a, b) in enumerate(zip(sentence.tags, fixed)) if a != b)
        raise ColumnsError(f"{path}: the sentence ending at line {number - 1} has "
                           f"{sentence.tags[first]!r} at token {first + 1} after "
                           f"{sentence.tags[first - 1] if first else 'the start'!r}: it cannot "
                           "continue an entity (read with repair to make it B-)")
    report.repaired += changed
    sentence.tags = fixed
    return sentence
