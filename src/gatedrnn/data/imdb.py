"""The Large Movie Review Dataset (IMDb, Maas et al. 2011): download, read, split.

Reads straight from the ``.tar.gz`` (one sequential pass, a few seconds) or from an extracted
``aclImdb/`` folder, so nothing is ever half-extracted. Layout:
``aclImdb/{train,test}/{pos,neg}/<id>_<stars>.txt`` and ``aclImdb/train/unsup/<id>_0.txt``.
"""

from __future__ import annotations

import random
import re
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from .download import cache_dir, fetch

URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
ARCHIVE = "aclImdb_v1.tar.gz"
MD5 = "7c2ac02c03563afcf9b574c7e56c153a"  # the official archive (84,125,825 bytes)
LABELS = ("neg", "pos")  # label index 0 = negative, 1 = positive
_MEMBER = re.compile(r"(?:^|/)aclImdb/(train|test)/(pos|neg|unsup)/(\d+)_(\d+)\.txt$")


@dataclass
class Review:
    id: int
    stars: int      # 1–4 negative, 7–10 positive, 0 unlabelled
    label: int      # 0 negative, 1 positive, -1 unlabelled
    text: str


@dataclass
class Imdb:
    train: list[Review] = field(default_factory=list)
    test: list[Review] = field(default_factory=list)
    unsup: list[Review] = field(default_factory=list)
    source: str = ""


class DatasetError(RuntimeError):
    """The data set is missing, incomplete or corrupt; the message says how to fix it."""


def load(path: str | Path | None = None, *, download: bool = True, unsup: bool = False,
         show_progress: bool = True) -> Imdb:
    """Read IMDb from ``path`` (the archive, an ``aclImdb/`` folder or its parent), or from the
    cache, downloading the official archive if ``download`` and it is not there yet."""
    if path is None:
        cached = cache_dir() / ARCHIVE
        if not cached.exists() and not download:
            raise DatasetError(f"IMDb is not in the cache ({cached}); pass --data PATH to the "
                               "archive or folder, or allow the download")
        path = fetch(URL, ARCHIVE, ("md5", MD5), show_progress=show_progress)
    path = Path(path).expanduser()
    if not path.exists():
        raise DatasetError(f"{path} does not exist; pass the aclImdb_v1.tar.gz archive or the "
                           "extracted aclImdb/ folder")
    data = _read_archive(path, unsup) if path.is_file() else _read_folder(path, unsup)
    data.source = str(path)
    for split in ("train", "test"):
        reviews = getattr(data, split)
        counts = [sum(r.label == k for r in reviews) for k in (0, 1)]
        if min(counts) == 0:
            raise DatasetError(f"{path}: the {split} split has {counts[0]} negative and "
                               f"{counts[1]} positive reviews; the data set is incomplete "
                               "(expected aclImdb/{split}/pos and neg)")
    for split in ("train", "test", "unsup"):
        getattr(data, split).sort(key=lambda r: (r.label, r.id))  # independent of file order
    return data


def _add(data: Imdb, split: str, kind: str, review_id: str, stars: str, raw: bytes) -> None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        # A few bytes that are not UTF-8 must not lose a review: keep it, mark the bytes.
        text = raw.decode("utf-8", errors="replace")
    label = -1 if kind == "unsup" else LABELS.index(kind)
    target = data.unsup if kind == "unsup" else getattr(data, split)
    target.append(Review(int(review_id), int(stars), label, text))


def _read_archive(path: Path, unsup: bool) -> Imdb:
    data = Imdb()
    try:
        with tarfile.open(path, mode="r:*") as archive:
            for member in archive:
                match = _MEMBER.search(member.name)
                if not member.isfile() or not match:
                    continue
                split, kind, review_id, stars = match.groups()
                if kind == "unsup" and not unsup:
                    continue
                handle = archive.extractfile(member)
                _add(data, split, kind, review_id, stars, handle.read())
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise DatasetError(f"{path} is truncated or corrupt ({type(exc).__name__}: {exc}). "
                           "Delete it and download it again (official URL: " + URL + ")") from exc
    return data


def _read_folder(path: Path, unsup: bool) -> Imdb:
    root = path / "aclImdb" if (path / "aclImdb").is_dir() else path
    missing = [f"{s}/{k}" for s in ("train", "test") for k in LABELS
               if not (root / s / k).is_dir()]
    if missing:
        raise DatasetError(f"{root} is not an aclImdb folder: missing {', '.join(missing)}")
    data = Imdb()
    kinds = [("train", "pos"), ("train", "neg"), ("test", "pos"), ("test", "neg")]
    if unsup:
        kinds.append(("train", "unsup"))
    for split, kind in kinds:
        for file in (root / split / kind).glob("*.txt"):
            match = _MEMBER.search(file.as_posix())
            if match:
                _add(data, split, kind, match.group(3), match.group(4), file.read_bytes())
    return data


def validation_split(reviews: list[Review], fraction: float = 0.1, seed: int = 0
                     ) -> tuple[list[Review], list[Review]]:
    """Stratified, seeded split of training reviews into (train, validation)."""
    if not 0 < fraction < 1:
        raise ValueError(f"validation fraction must be in (0, 1), got {fraction}")
    rng = random.Random(seed)
    train, valid = [], []
    for label in (0, 1):
        group = [r for r in reviews if r.label == label]
        rng.shuffle(group)
        cut = round(len(group) * fraction)
        valid += group[:cut]
        train += group[cut:]
    return train, valid
