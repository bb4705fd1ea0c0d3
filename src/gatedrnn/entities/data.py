"""Named-entity data: column files of IOB2 tags (UNER's ``.iob2``, CoNLL-2003's layout) read
into train, dev and test sentences, and the Universal NER Danish set by download.

    splits = load_files("train.iob2", "dev.iob2", "test.iob2")
    splits = load_files("train.iob2")        # dev: a seeded tenth of train, held out
    splits = load("uner-danish")              # downloaded once to the cache, checksum verified
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..data.columns import ColumnsError, ColumnsReport, TaggedSentence, read_columns
from ..data.download import cache_dir, fetch
from ..data.ud import hold_out

# Universal NER (Mayhew et al. 2024), by name: the repository, the commit read, and each
# file's sha256 (the copies these checksums were taken from are the ones the benchmark reads).
DATA_SETS = {
    "uner-danish": {
        "url": "https://raw.githubusercontent.com/UniversalNER/UNER_Danish-DDT/"
               "983c4cdc09f8/{file}",
        "files": {
            "train": ("da_ddt-ud-train.iob2",
                      "a24064c7d27d22b0a7d7baf9035918aac6f120774ef0cd7ef5b00e77e7f8c330"),
            "dev": ("da_ddt-ud-dev.iob2",
                    "3049c10b8523323de5eea5552213f09ef906656775dd8ecaafd95debc5697a0a"),
            "test": ("da_ddt-ud-test.iob2",
                     "de86e081dccbc58dbab96c22e53b0d42bdfdd074031bf0d5e7569754efd53269"),
        },
    },
}


@dataclass
class EntitySplits:
    train: list[TaggedSentence]
    dev: list[TaggedSentence]
    test: list[TaggedSentence] = field(default_factory=list)
    source: str = ""
    reports: list[ColumnsReport] = field(default_factory=list)


def load_files(train: str | Path, dev: str | Path | None = None,
               test: str | Path | None = None, dev_fraction: float = 0.1, seed: int = 0,
               repair: bool = True) -> EntitySplits:
    """The splits from their column files. Without ``dev``, a seeded ``dev_fraction`` of the
    training sentences is held out (``source`` says so); without ``test``, test is empty."""
    sentences, report = read_columns(train, repair=repair)
    reports = [report]
    source = str(train)
    if dev is None:
        if len(sentences) < 2:
            raise ColumnsError(f"{train}: {len(sentences)} sentence(s); holding out dev needs "
                               "two or more (or give a dev file with --dev)")
        sentences, dev_sentences = hold_out(sentences, dev_fraction, seed)
        source += f" (dev: {len(dev_sentences)} of its sentences held out, seed {seed})"
    else:
        dev_sentences, dev_report = read_columns(dev, repair=repair)
        reports.append(dev_report)
    test_sentences = []
    if test is not None:
        test_sentences, test_report = read_columns(test, repair=repair)
        reports.append(test_report)
    return EntitySplits(sentences, dev_sentences, test_sentences, source, reports)


def download(name: str, show_progress: bool = True) -> dict[str, Path]:
    """The files of data set ``name`` (see DATA_SETS), downloaded once into the cache."""
    if name not in DATA_SETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(DATA_SETS)}, "
                         "or give your own files with --train, --dev and --test")
    spec = DATA_SETS[name]
    directory = cache_dir() / name
    return {split: fetch(spec["url"].format(file=file), file, ("sha256", digest), directory,
                         show_progress)
            for split, (file, digest) in spec["files"].items()}


def load(name: str, show_progress: bool = True) -> EntitySplits:
    """A named data set's splits, downloaded if needed."""
    return load_files(**download(name, show_progress))
