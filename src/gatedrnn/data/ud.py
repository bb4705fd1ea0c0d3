"""Universal Dependencies treebanks in CoNLL-U: reading (with the ``conllu`` library) and download.

Only syntactic words are kept: multiword-token ranges (``3-4  don't``) and empty nodes
(``8.1``) are skipped, since their tags would otherwise be counted next to the words they
span or stand in for. Each sentence keeps its words' forms, UPOS and XPOS tags.

    treebank = load("../shared/data/ud_english_ewt")   # or None: the cached/downloaded copy
    treebank.train[0].forms, treebank.train[0].upos
"""

from __future__ import annotations

import io
import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

import conllu

from .download import DownloadError, cache_dir, fetch, file_digest

SPLITS = ("train", "dev", "test")
TREEBANK = "UD_English-EWT"
FILE_PATTERN = "en_ewt-ud-{split}.conllu"
DEFAULT_RELEASE = "r2.16"
RAW_URL = "https://raw.githubusercontent.com/UniversalDependencies/{treebank}/{release}/{file}"
LISTING_URL = ("https://api.github.com/repos/UniversalDependencies/{treebank}/contents"
               "?ref={release}")
NO_TAG = "_"  # CoNLL-U's empty field: a treebank without XPOS has "_" in that column

# sha256 of the files as downloaded, by release tag. A release missing here is downloaded,
# its checksums recorded in the cache (checksums.json) and verified on every later use.
KNOWN_SHA256: dict[str, dict[str, str]] = {}


class ConlluError(ValueError):
    """A CoNLL-U file is malformed; the message names the file and the line."""


@dataclass
class Sentence:
    forms: list[str]
    upos: list[str]
    xpos: list[str]
    sent_id: str | None = None
    text: str | None = None
    feats: list[str] = field(default_factory=list)  # "Case=Nom|Number=Sing", "_" for none

    def __len__(self) -> int:
        return len(self.forms)


@dataclass
class Treebank:
    train: list[Sentence] = field(default_factory=list)
    dev: list[Sentence] = field(default_factory=list)
    test: list[Sentence] = field(default_factory=list)
    source: str = ""

    def split(self, name: str) -> list[Sentence]:
        if name not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {name!r}")
        return getattr(self, name)


# ---- reading --------------------------------------------------------------------------------


def read_conllu(path: str | Path) -> list[Sentence]:
    """All sentences of a CoNLL-U file (syntactic words only)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConlluError(f"{path}: not UTF-8 text (byte {exc.start}); CoNLL-U files are "
                          "UTF-8") from exc
    return parse_conllu(text, str(path))


def parse_conllu(text: str, name: str = "<string>") -> list[Sentence]:
    """Sentences of CoNLL-U ``text``; ``name`` is used in error messages."""
    sentences, block, block_start = [], [], 1
    lines = text.splitlines()
    for number, line in enumerate([*lines, ""], 1):
        if line.strip():
            if not block:
                block_start = number
            if not line.startswith("#"):
                _check_token_line(line, name, number)
            block.append(line)
            continue
        if block:
            sentence = _parse_block(block, name, block_start)
            if sentence is not None:
                sentences.append(sentence)
            block = []
    return sentences


def _check_token_line(line: str, name: str, number: int) -> None:
    # The conllu library accepts a line with missing columns silently; a tagger would then
    # train on None tags, so the shape is checked here where the line number is known.
    columns = line.split("\t")
    if len(columns) != 10:
        iob2 = any(c.strip() == "O" or c[:2] in ("B-", "I-") for c in columns[1:])
        hint = ("; it looks like an IOB2 column file (tokens and entity tags), not CoNLL-U: "
                "train an entity tagger on it with 'gatedrnn entities train --train FILE'"
                if iob2 else "")
        raise ConlluError(f"{name}:{number}: expected 10 tab-separated columns, got "
                          f"{len(columns)}: {line[:80]!r}{hint}")
    word_id = columns[0]
    plain = word_id.isdigit()
    if not (plain or _is_range(word_id) or _is_empty_node(word_id)):
        raise ConlluError(f"{name}:{number}: ID {word_id!r} is neither a word number, a "
                          "range like 3-4 nor an empty node like 8.1")
    if plain and (not columns[1] or not columns[3] or columns[3] == NO_TAG):
        raise ConlluError(f"{name}:{number}: word {word_id} has no form or no UPOS tag")


def _is_range(word_id: str) -> bool:
    parts = word_id.split("-")
    return len(parts) == 2 and all(p.isdigit() for p in parts)


def _is_empty_node(word_id: str) -> bool:
    parts = word_id.split(".")
    return len(parts) == 2 and all(p.isdigit() for p in parts)


def _parse_block(block: list[str], name: str, start: int) -> Sentence | None:
    try:
        (tokens,) = conllu.parse("\n".join(block) + "\n\n")
    except Exception as exc:  # conllu raises ParseException and ValueError subclasses
        raise ConlluError(f"{name}:{start}-{start + len(block) - 1}: {exc}") from exc
    words = [t for t in tokens if isinstance(t["id"], int)]  # ranges and empty nodes are tuples
    if not words:
        return None
    return Sentence(forms=[t["form"] for t in words], upos=[t["upos"] for t in words],
                    xpos=[t["xpos"] or NO_TAG for t in words],
                    sent_id=tokens.metadata.get("sent_id"), text=tokens.metadata.get("text"),
                    feats=[_feats(t["feats"]) for t in words])


def _feats(parsed) -> str:
    """A word's FEATS as the file writes it ("Case=Nom|Number=Sing"), "_" for none."""
    if not parsed:
        return NO_TAG
    return "|".join(f"{name}={','.join(sorted(value)) if isinstance(value, set) else value}"
                    for name, value in parsed.items())


def write_conllu(sentences: list[Sentence], upos: list[list[str]] | None = None,
                 xpos: list[list[str]] | None = None,
                 feats: list[list[str]] | None = None) -> str:
    """CoNLL-U text of ``sentences`` with (predicted) tags; unknown columns are ``_``."""
    out = io.StringIO()
    for index, sentence in enumerate(sentences):
        if sentence.sent_id:
            out.write(f"# sent_id = {sentence.sent_id}\n")
        out.write(f"# text = {sentence.text or ' '.join(sentence.forms)}\n")
        tags_u = upos[index] if upos is not None else sentence.upos
        tags_x = xpos[index] if xpos is not None else sentence.xpos
        tags_f = feats[index] if feats is not None else sentence.feats
        for position, form in enumerate(sentence.forms):
            u = tags_u[position] if tags_u else NO_TAG
            x = tags_x[position] if tags_x else NO_TAG
            f = tags_f[position] if tags_f else NO_TAG
            out.write(f"{position + 1}\t{form}\t_\t{u}\t{x}\t{f}\t_\t_\t_\t_\n")
        out.write("\n")
    return out.getvalue()


# ---- locating and downloading ---------------------------------------------------------------


# Any treebank's files: UD names them <language>_<treebank>-ud-<split>.conllu.
FILE_GLOB = "*-ud-{split}.conllu"


def treebank_files(folder: str | Path) -> dict[str, Path]:
    """{split: path} of the UD files in ``folder`` (``*-ud-train.conllu`` and so on, of any
    treebank); a split without a file is absent. Two treebanks in one folder are refused."""
    folder, found = Path(folder), {}
    for split in SPLITS:
        matches = sorted(folder.glob(FILE_GLOB.format(split=split)))
        if len(matches) > 1:
            raise FileNotFoundError(
                f"{folder} holds the {split} files of several treebanks "
                f"({', '.join(m.name for m in matches)}); pass the files of one with "
                "--train, --dev and --test")
        if matches:
            found[split] = matches[0]
    return found


def locate(data: str | Path | None = None, release: str = DEFAULT_RELEASE) -> Path | None:
    """The treebank folder to use without downloading: ``data``, else ``$GATEDRNN_UD_DIR``,
    else the cached release; None when none of them holds the three files."""
    candidates = [Path(data)] if data is not None else [
        *([Path(os.environ["GATEDRNN_UD_DIR"])] if os.environ.get("GATEDRNN_UD_DIR") else []),
        cache_dir() / f"{TREEBANK}-{release}"]
    for folder in candidates:
        if folder.is_dir() and len(treebank_files(folder)) == len(SPLITS):
            return folder
    return None


def load_files(train: str | Path, dev: str | Path | None = None,
               test: str | Path | None = None, dev_fraction: float = 0.1,
               seed: int = 0) -> Treebank:
    """A treebank from its CoNLL-U files, whatever their names. Without ``dev``, a seeded
    ``dev_fraction`` of the training sentences is held out as dev (``source`` says so);
    without ``test``, test is empty."""
    sentences = read_conllu(train)
    source = str(train)
    if dev is None:
        if len(sentences) < 2:
            raise ConlluError(f"{train}: {len(sentences)} sentence(s); holding out dev needs "
                              "two or more (or give a dev file with --dev)")
        sentences, dev_sentences = hold_out(sentences, dev_fraction, seed)
        source += f" (dev: {len(dev_sentences)} of its sentences held out, seed {seed})"
    else:
        dev_sentences = read_conllu(dev)
    return Treebank(sentences, dev_sentences, read_conllu(test) if test is not None else [],
                    source=source)


def hold_out(sentences: list, fraction: float, seed: int = 0) -> tuple[list, list]:
    """(kept, held out): a seeded ``fraction`` of the sentences (at least one) held out as
    dev, both in their file order; any sentences, CoNLL-U's or a column file's."""
    order = list(range(len(sentences)))
    random.Random(seed).shuffle(order)
    held = set(order[:max(1, round(fraction * len(sentences)))])
    return ([s for i, s in enumerate(sentences) if i not in held],
            [s for i, s in enumerate(sentences) if i in held])


def load(data: str | Path | dict | None = None, release: str = DEFAULT_RELEASE,
         download: bool = True, show_progress: bool = True) -> Treebank:
    """A UD treebank from ``data``, a folder with its three ``*-ud-{train,dev,test}.conllu``
    files (any treebank), or {"train": FILE, "dev": FILE, "test": FILE} (dev and test
    optional: see ``load_files``); without it, UD English EWT from ``$GATEDRNN_UD_DIR``, else
    the cache, downloading the ``release`` tag's files from the treebank's GitHub repository
    if needed."""
    if isinstance(data, Treebank):
        return data
    if isinstance(data, dict):
        return load_files(**data)
    if data is None:
        data = locate(None, release)
    if data is not None:
        folder = Path(data)
        if not folder.is_dir():
            raise FileNotFoundError(
                f"{folder} is not a folder; pass the folder that holds a treebank's "
                f"{', '.join(FILE_GLOB.format(split=s) for s in SPLITS)} files")
    else:
        folder = download_release(release, show_progress=show_progress) if download else \
            cache_dir() / f"{TREEBANK}-{release}"
    paths = treebank_files(folder)
    missing = [FILE_GLOB.format(split=s) for s in SPLITS if s not in paths]
    if missing:
        raise FileNotFoundError(
            f"missing treebank file(s) in {folder}: no {', no '.join(missing)} (English EWT's: "
            f"{FILE_PATTERN.format(split='train')} and so on);"
            " pass a treebank's folder with --data, its files with --train, --dev and --test, "
            "or let gatedrnn download UD English EWT")
    return Treebank(**{split: read_conllu(path) for split, path in paths.items()},
                    source=str(folder))


def treebank_file_names(treebank: str, release: str = DEFAULT_RELEASE,
                        directory: Path | None = None, show_progress: bool = True
                        ) -> dict[str, str]:
    """{split: file name} of a UD treebank's .conllu files at ``release``: English EWT's are
    known; any other's are read from the repository's listing (GitHub's contents API, kept
    in the cache). A treebank with no such release is named in the error."""
    if treebank == TREEBANK:
        return {split: FILE_PATTERN.format(split=split) for split in SPLITS}
    url = LISTING_URL.format(treebank=treebank, release=release)
    try:
        listing = fetch(url, "listing.json", None, directory, show_progress=show_progress)
    except DownloadError as exc:
        raise DownloadError(f"no treebank {treebank} at release {release} could be listed "
                            f"({exc}); treebanks are named like UD_French-GSD, releases like "
                            f"{DEFAULT_RELEASE} (https://github.com/UniversalDependencies)") from exc
    names = [entry.get("name", "") for entry in json.loads(listing.read_text(encoding="utf-8"))]
    found = {split: name for split in SPLITS for name in names
             if name.endswith(f"-ud-{split}.conllu")}
    if not found:
        listing.unlink()  # not a treebank's listing: do not keep it as one
        raise DownloadError(f"{treebank} at {release} has no *-ud-*.conllu files")
    return found


def download_release(release: str = DEFAULT_RELEASE, directory: Path | None = None,
                     show_progress: bool = True, treebank: str = TREEBANK) -> Path:
    """The .conllu files of ``treebank`` (default UD English EWT; any UD treebank by its
    repository's name, e.g. ``UD_French-GSD``) at ``release`` (a tag such as ``r2.16``) in the
    cache; returns the folder. A treebank whose release has no train file (some are test
    only) downloads what it has.

    Files are verified against KNOWN_SHA256 where the release is listed there; otherwise the
    first download's checksums are recorded (checksums.json) and every later use is checked
    against them, so a file changed in the cache is caught.
    """
    folder = Path(directory) if directory else cache_dir() / f"{treebank}-{release}"
    folder.mkdir(parents=True, exist_ok=True)
    record_path = folder / "checksums.json"
    recorded = json.loads(record_path.read_text()) if record_path.exists() else {}
    known = KNOWN_SHA256.get(release, {}) if treebank == TREEBANK else {}
    for split, name in treebank_file_names(treebank, release, folder, show_progress).items():
        url = RAW_URL.format(treebank=treebank, release=release, file=name)
        expected = known.get(split)
        path = fetch(url, name, ("sha256", expected) if expected else None, folder,
                     show_progress=show_progress)
        actual = file_digest(path)
        wanted = expected or recorded.get(split)
        if wanted and actual != wanted:
            raise DownloadError(f"{path}: sha256 {actual} does not match {wanted}; delete the "
                                "file to download it again")
        recorded[split] = actual
    from ..files import write_json_atomic  # a crash must not lose the record
    write_json_atomic(record_path, recorded)
    return folder
