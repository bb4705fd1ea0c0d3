"""The Large Movie Review Dataset (IMDb, Maas et al. 2011): download, read, split.

Reads straight from the ``.tar.gz`` (one sequential pass, a few seconds) or from an extracted
``aclImdb/`` folder, so nothing is ever half-extracted. Layout:
``aclImdb/{train,test}/{pos,neg}/<id>_<stars>.txt`` and ``aclImdb/train/unsup/<id>_0.txt``;
line ``id`` of ``aclImdb/<split>/urls_<kind>.txt`` is the IMDb page of that review's film, which
a film-disjoint validation split needs (train and test share one film of their 3,456 and
3,581; a split of reviews puts reviews of one film on both sides).
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
_URLS = re.compile(r"(?:^|/)aclImdb/(train|test)/urls_(pos|neg|unsup)\.txt$")
_FILM = re.compile(r"/title/(tt\d+)")
SPLIT_BY = ("review", "film")  # what a validation split keeps whole


@dataclass
class Review:
    id: int
    stars: int      # 1–4 negative, 7–10 positive, 0 unlabelled
    label: int      # 0 negative, 1 positive, -1 unlabelled
    text: str
    film: str = ""  # IMDb title id (tt0453418) from urls_*.txt; "" where the data set has none


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


def _films(lines: list[str]) -> list[str]:
    """Film id per line of a urls_*.txt (line i = review id i); "" where a line names none."""
    return [match.group(1) if (match := _FILM.search(line)) else "" for line in lines]


def _set_films(data: Imdb, urls: dict[tuple[str, str], list[str]]) -> None:
    for (split, kind), films in urls.items():
        if kind == "unsup" and split != "train":
            continue  # the unlabelled reviews are train's only
        target = data.unsup if kind == "unsup" else getattr(data, split)
        label = -1 if kind == "unsup" else LABELS.index(kind)
        for review in target:
            if review.label == label and review.id < len(films):
                review.film = films[review.id]


def _read_archive(path: Path, unsup: bool) -> Imdb:
    data = Imdb()
    urls = {}
    try:
        with tarfile.open(path, mode="r:*") as archive:
            for member in archive:
                match = _MEMBER.search(member.name)
                if member.isfile() and (listing := _URLS.search(member.name)):
                    text = archive.extractfile(member).read().decode("utf-8", errors="replace")
                    urls[listing.groups()] = _films(text.splitlines())
                    continue
                if not member.isfile() or not match:
                    continue
                split, kind, review_id, stars = match.groups()
                if kind == "unsup" and not unsup:
                    continue
                handle = archive.extractfile(member)
                _add(data, split, kind, review_id, stars, handle.read())
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        detail = " ".join(str(exc).split())  # tarfile's reasons span lines; one line here
        raise DatasetError(f"{path} is truncated or corrupt ({type(exc).__name__}: {detail}). "
                           "Delete it and download it again (official URL: " + URL + ")") from exc
    _set_films(data, urls)
    return data


def _read_folder(path: Path, unsup: bool) -> Imdb:
    root = path / "aclImdb" if (path / "aclImdb").is_dir() else path
    missing = [f"{s}/{k}" for s in ("train", "test") for k in LABELS
               if not (root / s / k).is_dir()]
    if missing:
        raise DatasetError(f"{root} is not an aclImdb folder: missing {', '.join(missing)}")
    data = Imdb()
    urls = {}
    kinds = [("train", "pos"), ("train", "neg"), ("test", "pos"), ("test", "neg")]
    if unsup:
        kinds.append(("train", "unsup"))
    for split, kind in kinds:
        for file in (root / split / kind).glob("*.txt"):
            match = _MEMBER.search(file.as_posix())
            if match:
                _add(data, split, kind, match.group(3), match.group(4), file.read_bytes())
        listing = root / split / f"urls_{kind}.txt"
        if listing.is_file():
            urls[split, kind] = _films(listing.read_text("utf-8", errors="replace").splitlines())
    _set_films(data, urls)
    return data


def validation_split(reviews: list[Review], fraction: float = 0.1, seed: int = 0, *,
                     by: str = "review") -> tuple[list[Review], list[Review]]:
    """Stratified, seeded split of training reviews into (train, validation).

    ``by="review"`` draws reviews; ``by="film"`` draws whole films (IMDb's urls_*.txt), so no
    film has reviews on both sides, as between IMDb's train and test: a model that learns a
    film's names and plot scores on validation as it will on test (with a split by review,
    BiLSTMs scored 0.7-1.0 point higher on validation than on test). Films are taken in a
    seeded order while they fit each label's share, so the labels stay balanced.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"validation fraction must be in (0, 1), got {fraction}")
    if by not in SPLIT_BY:
        raise ValueError(f"a validation split is drawn by {' or '.join(SPLIT_BY)}, not {by!r}")
    rng = random.Random(seed)
    if by == "film":
        return _split_by_film(reviews, fraction, rng)
    train, valid = [], []
    for label in (0, 1):
        group = [r for r in reviews if r.label == label]
        rng.shuffle(group)
        cut = round(len(group) * fraction)
        valid += group[:cut]
        train += group[cut:]
    return train, valid


def _split_by_film(reviews: list[Review], fraction: float, rng: random.Random):
    unknown = sum(not r.film for r in reviews)
    if unknown:
        raise DatasetError(f"{unknown} of {len(reviews)} reviews have no film (the data set "
                           "lacks aclImdb/train/urls_pos.txt and urls_neg.txt); split by "
                           "review instead, or use the complete official archive")
    films: dict[str, list[Review]] = {}
    for review in sorted(reviews, key=lambda r: (r.label, r.id)):
        films.setdefault(review.film, []).append(review)
    order = sorted(films)
    rng.shuffle(order)
    room = {label: round(sum(r.label == label for r in reviews) * fraction) for label in (0, 1)}
    train, valid = [], []
    for film in order:
        group = films[film]
        need = {label: sum(r.label == label for r in group) for label in (0, 1)}
        if all(need[label] <= room[label] for label in (0, 1)) and any(room.values()):
            valid += group
            for label in (0, 1):
                room[label] -= need[label]
        else:
            train += group
    if not valid or not train:
        raise DatasetError(f"{len(films)} film(s) cannot be split into train and validation "
                           f"with fraction {fraction}; split by review instead")
    return train, valid
