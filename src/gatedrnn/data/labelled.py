"""Labelled texts from the files people have: CSV or TSV with a header, JSON Lines, a folder
per class (``DIR/<label>/*.txt``), fastText lines (``__label__pos great film``), Parquet (what
a Hugging Face ``datasets`` export writes), and lines whose first word is the label (the
SST / SUBJ / MPQA files of Kim 2014).

    examples, report = read_labelled("reviews.csv")          # columns detected, said in report
    train, valid = stratified_split(examples, 0.1, seed=0)

Every reader gives a list of :class:`Example` (a text and its labels, one or several) and a
:class:`ReadReport` (what was chosen, skipped or cut). Bad input stops with one
:class:`LabelledDataError` line that names the file (and line) and the way out; nothing is
written while reading, so nothing can be lost.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

FORMATS = ("csv", "tsv", "jsonl", "folder", "fasttext", "parquet", "label-first")
TEXT_COLUMNS = ("text", "sentence", "review", "content", "document", "body", "comment",
                "tweet", "question", "utterance", "query", "message")
LABEL_COLUMNS = ("label", "labels", "category", "class", "sentiment", "target", "intent",
                 "topic", "tag", "tags", "y")
MAX_TEXT_CHARS = 1_000_000   # a longer text is cut to this, and the report counts it
FASTTEXT_PREFIX = "__label__"


class LabelledDataError(ValueError):
    """Labelled data that cannot be read as given; the message says what to do."""


@dataclass(frozen=True)
class Example:
    text: str
    labels: tuple[str, ...]  # one label, or several with multi-label data

    @property
    def label(self) -> str:
        return self.labels[0]


@dataclass
class ReadReport:
    """What reading a file chose and dropped, for the user to see."""

    source: str
    format: str
    text_column: str | None = None
    label_column: str | None = None
    examples: int = 0
    empty_texts: int = 0       # skipped
    missing_labels: int = 0    # skipped
    truncated: int = 0         # cut to MAX_TEXT_CHARS
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{self.source}: {self.examples:,} examples ({self.format}"]
        if self.text_column:
            parts.append(f", text column '{self.text_column}', label column "
                         f"'{self.label_column}'")
        parts.append(")")
        for count, what in ((self.empty_texts, "empty texts skipped"),
                            (self.missing_labels, "rows without a label skipped"),
                            (self.truncated, f"texts cut to {MAX_TEXT_CHARS:,} characters")):
            if count:
                parts.append(f"; {count:,} {what}")
        return "".join(parts)


def detect_format(path: Path) -> str:
    if path.is_dir():
        return "folder"
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix == ".gz" else path.suffix.lower()
    by_suffix = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl",
                 ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet", ".pq": "parquet",
                 ".ft": "fasttext"}
    if suffix in by_suffix:
        return by_suffix[suffix]
    with open(path, "rb") as f:
        head = f.read(4096).lstrip(b"\xef\xbb\xbf")
    if head.startswith(FASTTEXT_PREFIX.encode()):
        return "fasttext"
    raise LabelledDataError(
        f"{path}: cannot tell its format from its name; name it .csv, .tsv, .jsonl or "
        f".parquet, or give --format ({', '.join(FORMATS)})")


def read_labelled(path: str | Path, *, format: str | None = None, text_column: str | None = None,
                  label_column: str | None = None, encoding: str | None = None,
                  multi_label: bool = False, label_separator: str = "|"
                  ) -> tuple[list[Example], ReadReport]:
    """The labelled examples in ``path`` and what reading chose. ``encoding``: the files'
    encoding (default UTF-8, with or without a byte-order mark). With ``multi_label``, a label
    field holds several labels separated by ``label_separator`` (a JSON list in JSON Lines, one
    ``__label__`` each in fastText)."""
    path = Path(path)
    if not path.exists():
        raise LabelledDataError(f"{path} does not exist")
    format = format or detect_format(path)
    if format not in FORMATS:
        raise LabelledDataError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    report = ReadReport(str(path), format)
    if format == "folder":
        rows = _folder_rows(path, encoding)
    elif format == "parquet":
        rows = _parquet_rows(path)
    else:
        text = read_text(path, encoding)
        if not text.strip():
            raise LabelledDataError(f"{path} is empty: it holds no example")
        rows = {"csv": _delimited_rows, "tsv": _delimited_rows, "jsonl": _json_rows,
                "fasttext": _fasttext_rows, "label-first": _label_first_rows}[format](
            text, path, "\t" if format == "tsv" else ",")
    examples = _examples(rows, path, report, text_column, label_column, multi_label,
                         label_separator)
    if not examples:
        raise LabelledDataError(f"{path} has no example with both a text and a label "
                                f"({report.empty_texts} empty texts, {report.missing_labels} "
                                "rows without a label)")
    return examples, report


def read_unlabelled(path: str | Path, *, text_column: str | None = None,
                    encoding: str | None = None) -> list[str]:
    """Texts without labels (for learning from unlabelled text): a folder of .txt files (one
    text each, searched below it, as IMDb's unsup/), a .txt file (one text per line), or a
    CSV, TSV, JSON Lines or Parquet file's text column. Empty texts are skipped."""
    path = Path(path)
    if not path.exists():
        raise LabelledDataError(f"{path} does not exist")
    if path.is_dir():
        files = sorted(path.rglob("*.txt"))
        if not files:
            raise LabelledDataError(f"{path} holds no .txt file: a folder of unlabelled texts "
                                    "holds one text per .txt file")
        texts = [read_text(file, encoding) for file in files]
    elif path.suffix.lower() in (".txt", ".text"):
        texts = read_text(path, encoding).splitlines()
    else:
        format = detect_format(path)
        if format not in ("csv", "tsv", "jsonl", "parquet"):
            raise LabelledDataError(f"{path}: unlabelled texts are read from a .txt file (one "
                                    "per line), a folder of .txt files, or a CSV, TSV, JSON "
                                    "Lines or Parquet file's text column")
        rows = (_parquet_rows(path) if format == "parquet" else
                {"csv": _delimited_rows, "tsv": _delimited_rows, "jsonl": _json_rows}[format](
                    read_text(path, encoding), path, "\t" if format == "tsv" else ","))
        column = _choose(list(rows[0][1]) if rows else [], text_column, TEXT_COLUMNS, "text",
                         path, "--text-column")
        texts = [str(row.get(column) or "") for _, row in rows]
    texts = [text.strip()[:MAX_TEXT_CHARS] for text in texts if text.strip()]
    if not texts:
        raise LabelledDataError(f"{path} holds no text")
    return texts


def read_text(path: Path, encoding: str | None = None) -> str:
    """The file decoded; a byte that is not UTF-8 stops with the file, the line and the way out."""
    raw = path.read_bytes()
    try:
        return raw.decode(encoding or "utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise LabelledDataError(
            f"{path}:{line}: not {encoding or 'UTF-8'} (byte 0x{raw[exc.start]:02x} at column "
            f"{column}); give the file's encoding, e.g. --encoding cp1252 (Windows Western) or "
            "--encoding latin-1") from None
    except LookupError:
        raise LabelledDataError(f"unknown encoding {encoding!r}; give one Python knows, e.g. "
                                "utf-8, cp1252, latin-1, shift_jis") from None


# ---- one reader per format: each yields (line number, {column: value}) ---------------------


def _delimited_rows(text: str, path: Path, delimiter: str):
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise LabelledDataError(f"{path} is empty: it holds no example") from None
    header = [h.strip() for h in header]
    if len(set(header)) < len(header):
        raise LabelledDataError(f"{path}:1: the header names a column twice ({header})")
    rows = []
    for row in reader:
        if not row or not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise LabelledDataError(
                f"{path}:{reader.line_num}: {len(row)} fields where the header has "
                f"{len(header)} ({', '.join(header)}); quote fields that hold a "
                f"'{delimiter}' (\"like, this\")")
        rows.append((reader.line_num, dict(zip(header, row))))
    return rows


def _json_rows(text: str, path: Path, _):
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise LabelledDataError(f"{path}:{number}: not a JSON object ({exc.msg}); JSON "
                                    "Lines hold one object per line") from None
        if not isinstance(record, dict):
            raise LabelledDataError(f"{path}:{number}: a JSON {type(record).__name__}, not an "
                                    "object with a text and a label")
        rows.append((number, record))
    return rows


def _fasttext_rows(text: str, path: Path, _):
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split()
        labels = []
        while words and words[0].startswith(FASTTEXT_PREFIX):
            labels.append(words.pop(0)[len(FASTTEXT_PREFIX):])
        if not words and not labels:
            continue
        rows.append((number, {"text": " ".join(words), "label": labels}))
    return rows


def _label_first_rows(text: str, path: Path, _):
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        label, _, rest = line.strip().partition(" ")
        if label:
            rows.append((number, {"text": rest, "label": label}))
    return rows


def _folder_rows(path: Path, encoding: str | None):
    classes = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise LabelledDataError(f"{path} has no class folders: a folder per class holds one "
                                "text file per example (DIR/<label>/*.txt)")
    rows = []
    for folder in classes:
        for file in sorted(folder.rglob("*.txt")):
            rows.append((file, {"text": read_text(file, encoding), "label": folder.name}))
    if not rows:
        raise LabelledDataError(f"{path}'s class folders ({', '.join(c.name for c in classes)}) "
                                "hold no .txt file")
    return rows


def _parquet_rows(path: Path):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise LabelledDataError("reading Parquet needs pyarrow: pip install pyarrow") from None
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises its own kinds for a damaged file
        raise LabelledDataError(f"{path} is not a readable Parquet file "
                                f"({type(exc).__name__}: {exc})") from None
    return [(number, record) for number, record in enumerate(table.to_pylist(), 1)]


# ---- rows → examples ------------------------------------------------------------------------


def _choose(columns: list[str], given: str | None, candidates: tuple[str, ...], what: str,
            path: Path, flag: str) -> str:
    if given is not None:
        if given not in columns:
            raise LabelledDataError(f"{path} has no column {given!r}; its columns are "
                                    f"{', '.join(columns)}")
        return given
    lowered = {c.lower(): c for c in columns}
    for name in candidates:
        if name in lowered:
            return lowered[name]
    raise LabelledDataError(f"{path}: no column looks like the {what} ({', '.join(columns)}); "
                            f"name it with {flag} COLUMN")


def _examples(rows, path: Path, report: ReadReport, text_column, label_column, multi_label,
              separator) -> list[Example]:
    if not rows:
        return []
    columns = list(rows[0][1])
    text_column = _choose(columns, text_column, TEXT_COLUMNS, "text", path, "--text-column")
    label_column = _choose([c for c in columns if c != text_column] or columns, label_column,
                           LABEL_COLUMNS, "label", path, "--label-column")
    if report.format not in ("folder", "fasttext", "label-first"):
        report.text_column, report.label_column = text_column, label_column
    examples = []
    for where, row in rows:
        text, raw = row.get(text_column), row.get(label_column)
        if not isinstance(text, str):
            text = "" if text is None else str(text)
        labels = _labels(raw, multi_label, separator, path, where)
        if not text.strip():
            report.empty_texts += 1
            continue
        if not labels:
            report.missing_labels += 1
            continue
        if len(labels) > 1 and not multi_label:
            raise LabelledDataError(
                f"{path}:{where}: {len(labels)} labels ({', '.join(labels)}) for one text, "
                "where one is expected: keep one label per text (read_labelled(..., "
                "multi_label=True) reads several; training on them is not there yet)")
        if len(text) > MAX_TEXT_CHARS:
            report.truncated += 1
            text = text[:MAX_TEXT_CHARS]
        examples.append(Example(text, labels))
    report.examples = len(examples)
    return examples


def _labels(raw, multi_label: bool, separator: str, path: Path, where) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, (list, tuple)):
        values = [str(v).strip() for v in raw]
    elif isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise LabelledDataError(f"{path}:{where}: a label must be text or a number, got "
                                f"{json.dumps(raw)[:60]}")
    else:
        value = str(raw).strip()
        if isinstance(raw, float) and raw.is_integer():
            value = str(int(raw))
        values = value.split(separator) if multi_label else [value]
    return tuple(dict.fromkeys(v.strip() for v in values if v.strip()))


# ---- splits and checks ----------------------------------------------------------------------


def label_names(examples: list[Example]) -> list[str]:
    """Every label that occurs, sorted (numbers by value, so "2" comes before "10")."""
    found = {label for e in examples for label in e.labels}
    if all(label.lstrip("-").isdigit() for label in found):
        return sorted(found, key=int)
    return sorted(found)


def stratified_split(examples: list[Example], fraction: float, seed: int = 0
                     ) -> tuple[list[Example], list[Example]]:
    """(train, validation): ``fraction`` of each class drawn with ``seed`` (by the first label
    of multi-label examples). A class with one example cannot be split: that is said."""
    if not 0 < fraction < 1:
        raise ValueError(f"the validation fraction must be in (0, 1), got {fraction}")
    by_class = defaultdict(list)
    for index, example in enumerate(examples):
        by_class[example.label].append(index)
    lonely = sorted(label for label, members in by_class.items() if len(members) < 2)
    if lonely:
        raise LabelledDataError(
            f"class{'es' if len(lonely) > 1 else ''} {', '.join(map(repr, lonely[:5]))} "
            f"{'have' if len(lonely) > 1 else 'has'} a single example: it cannot be both "
            "trained on and validated; add examples, or give a validation file with --valid")
    rng = random.Random(seed)
    valid = set()
    for label in sorted(by_class):
        members = by_class[label][:]
        rng.shuffle(members)
        valid.update(members[:max(1, round(fraction * len(members)))])
    return ([e for i, e in enumerate(examples) if i not in valid],
            [e for i, e in enumerate(examples) if i in valid])


def check_against_training(train: list[Example], other: list[Example], name: str
                           ) -> list[str]:
    """What is wrong with an evaluation set beside the training set: a label training never
    saw stops (LabelledDataError); texts also in training are counted in a warning."""
    known = {label for e in train for label in e.labels}
    unseen = Counter(label for e in other for label in e.labels if label not in known)
    if unseen:
        shown = ", ".join(f"{label!r} ({n})" for label, n in unseen.most_common(5))
        raise LabelledDataError(f"the {name} set has labels training never saw: {shown}; a "
                                "model cannot predict a class it was not trained on")
    seen = {e.text.strip() for e in train}
    repeated = sum(e.text.strip() in seen for e in other)
    return ([f"{repeated:,} of the {len(other):,} {name} texts also occur in training: its "
             "figures will flatter the model"] if repeated else [])
