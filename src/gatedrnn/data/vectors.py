"""Pretrained word vectors: word2vec (text and binary), GloVe and fastText ``.vec`` files.

    vectors = load_vectors("glove.6B.100d.txt", keep=set(vocab.itos))
    weights, stats = embedding_matrix(vectors, vocab.itos, counts=token_counts)

Formats (``format="auto"`` tells them apart by suffix and first line):
  word2vec         text; a header line "<count> <dim>", then "<word> <v1> ... <vdim>" per line
  fasttext         fastText's ``.vec``: the word2vec text format
  glove            text without a header
  word2vec-binary  the header line, then per word its bytes, a space and dim float32 (little
                   endian), optionally followed by a newline (``.bin``)
Any of them may be gzip-compressed (``.gz``). Our own vectors, trained on the IMDb reviews with
gensim (``train_word2vec``), are written in the word2vec text format.
"""

from __future__ import annotations

import gzip
import os
import time
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

FORMATS = ("auto", "word2vec", "fasttext", "glove", "word2vec-binary")


class VectorsError(ValueError):
    """A word-vector file that cannot be read; the message names the file and line."""


@dataclass
class WordVectors:
    words: list[str]
    vectors: np.ndarray          # (len(words), dim) float32
    source: str = ""
    undecodable: int = 0         # words whose bytes were not UTF-8 (decoded with U+FFFD)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.words)

    def index(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.words)}

    def neighbours(self, word: str, k: int = 10) -> list[tuple[str, float]]:
        """The ``k`` words with the highest cosine similarity to ``word``."""
        row = self.index().get(word)
        if row is None:
            raise KeyError(f"{word!r} has no vector in {self.source or 'these vectors'}")
        unit = self.vectors / np.maximum(np.linalg.norm(self.vectors, axis=1, keepdims=True),
                                         1e-12)
        similarity = unit @ unit[row]
        similarity[row] = -np.inf
        best = np.argsort(-similarity)[:k]
        return [(self.words[i], float(similarity[i])) for i in best]


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def detect_format(path: str | Path) -> str:
    """``word2vec-binary`` for ``.bin``; otherwise ``word2vec`` if the first line is a
    "<count> <dim>" header, else ``glove``."""
    path = Path(path)
    name = path.name[:-3] if path.suffix == ".gz" else path.name
    if name.endswith(".bin"):
        return "word2vec-binary"
    with _open(path) as f:
        first = f.readline(1 << 20).split()
    if len(first) == 2 and all(part.isdigit() for part in first):
        return "word2vec"
    return "glove"


def load_vectors(path: str | Path, format: str = "auto", *, keep: set[str] | None = None,
                 max_words: int | None = None) -> WordVectors:
    """Read a word-vector file.

    ``keep``: only words in this set (or whose lowercased form is in it) are kept — how a
    multi-GB file is read into the memory of a 25k-word vocabulary. ``max_words``: stop after
    that many lines (files list frequent words first).
    """
    path = Path(path)
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    if not path.is_file():
        raise FileNotFoundError(f"no word-vector file at {path}")
    if format == "auto":
        format = detect_format(path)
    try:
        if format == "word2vec-binary":
            words, rows, bad = _read_binary(path, keep, max_words)
        else:
            words, rows, bad = _read_text(path, format == "glove", keep, max_words)
    except (EOFError, gzip.BadGzipFile, OSError) as error:
        raise VectorsError(f"{path}: cannot be read ({error}); the file may be truncated or "
                           f"corrupt — download it again") from None
    if not rows and not words:
        raise VectorsError(f"{path}: no vectors found" + (" for the kept words" if keep else ""))
    vectors = np.stack(rows).astype(np.float32, copy=False) if rows else np.zeros((0, 0),
                                                                                  np.float32)
    if bad:
        warnings.warn(f"{path}: {bad} word(s) were not valid UTF-8 and were decoded with "
                      f"replacement characters", stacklevel=2)
    return WordVectors(words, vectors, str(path), bad)


def _wanted(word: str, keep: set[str] | None) -> bool:
    return keep is None or word in keep or word.lower() in keep


def _read_text(path: Path, glove: bool, keep, max_words):
    words, rows, bad = [], [], 0
    expected_count = dim = None
    read = 0  # vector lines
    with _open(path) as f:
        for number, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                line = raw.decode("utf-8", errors="replace")
                bad += 1
            parts = line.rstrip("\r\n").rstrip(" ").split(" ")
            if number == 1 and not glove:
                if len(parts) != 2 or not all(p.isdigit() for p in parts):
                    raise VectorsError(f"{path}:1: expected a '<count> <dim>' header, got "
                                       f"{line[:60]!r}; for a file without one use "
                                       f"format='glove'")
                expected_count, dim = int(parts[0]), int(parts[1])
                continue
            if not line.strip():
                continue
            if dim is None:
                dim = len(parts) - 1
                if dim < 1:
                    raise VectorsError(f"{path}:{number}: expected a word and its numbers")
            if len(parts) < dim + 1:
                raise VectorsError(f"{path}:{number}: expected a word and {dim} numbers, found "
                                   f"{len(parts) - 1} value(s); the file may be truncated")
            word = " ".join(parts[:-dim])  # a few fastText tokens contain spaces
            if _wanted(word, keep):
                try:
                    rows.append(np.asarray(parts[-dim:], dtype=np.float32))
                except ValueError:
                    raise VectorsError(f"{path}:{number}: the vector of {word!r} has a value "
                                       f"that is not a number") from None
                words.append(word)
            read += 1
            if max_words and read >= max_words:
                return words, rows, bad
    if expected_count is not None and read < expected_count:
        raise VectorsError(f"{path}: the header announces {expected_count} vectors but the file "
                           f"has {read}; it is truncated — download it again")
    return words, rows, bad


def _read_binary(path: Path, keep, max_words):
    words, rows, bad = [], [], 0
    with _open(path) as f:
        header = f.readline().split()
        if len(header) != 2 or not all(p.isdigit() for p in header):
            raise VectorsError(f"{path}: expected a '<count> <dim>' header line in a word2vec "
                               f"binary file")
        count, dim = int(header[0]), int(header[1])
        width = 4 * dim
        total = min(count, max_words) if max_words else count
        for number in range(total):
            word_bytes = bytearray()
            while True:
                ch = f.read(1)
                if not ch:
                    raise VectorsError(f"{path}: the file ends inside vector {number + 1} of "
                                       f"{count}; it is truncated — download it again")
                if ch == b" ":
                    break
                if ch != b"\n" or word_bytes:  # a newline may end the previous vector
                    word_bytes += ch
            data = f.read(width)
            if len(data) < width:
                raise VectorsError(f"{path}: the file ends inside vector {number + 1} of "
                                   f"{count}; it is truncated — download it again")
            try:
                word = word_bytes.decode("utf-8")
            except UnicodeDecodeError:
                word = word_bytes.decode("utf-8", errors="replace")
                bad += 1
            if _wanted(word, keep):
                words.append(word)
                rows.append(np.frombuffer(data, dtype="<f4").copy())
    return words, rows, bad


def embedding_matrix(vectors: WordVectors, itos: list[str], *, counts: Counter | None = None,
                     seed: int = 0, padding_idx: int | None = 0) -> tuple[torch.Tensor, dict]:
    """A (len(itos), dim) embedding initialisation and coverage statistics.

    A vocabulary token takes the vector of the same word, else of its lowercased form. Tokens
    without one are drawn from a normal distribution with the found vectors' standard deviation
    (so they are on the same scale); the padding row is zero. With ``counts`` (token → frequency
    in the training text) the statistics include the share of running tokens covered and the
    most frequent tokens that have no vector.
    """
    index = vectors.index()
    lowered: dict[str, int] = {}
    for i, word in enumerate(vectors.words):
        lowered.setdefault(word.lower(), i)
    rows = np.empty(len(itos), dtype=np.int64)
    exact = by_lowercase = 0
    for t, token in enumerate(itos):
        i = index.get(token)
        if i is not None:
            exact += 1
        else:
            i = lowered.get(token.lower())
            by_lowercase += i is not None
        rows[t] = -1 if i is None else i
    found = rows >= 0
    generator = np.random.default_rng(seed)
    scale = float(vectors.vectors[rows[found]].std()) if found.any() else 0.1
    weights = generator.normal(0.0, scale, size=(len(itos), vectors.dim)).astype(np.float32)
    weights[found] = vectors.vectors[rows[found]]
    if padding_idx is not None:
        weights[padding_idx] = 0.0
    specials = {t for t in itos if t.startswith("<") and t.endswith(">")}
    missing = [t for t, ok in zip(itos, found) if not ok and t not in specials]
    stats = {"source": vectors.source, "dim": vectors.dim, "vocab_size": len(itos),
             "found": int(found.sum()), "found_exact": exact, "found_lowercased": by_lowercase,
             "missing": len(missing), "type_coverage": float(found.sum()) / max(1, len(itos)),
             "undecodable_words_in_file": vectors.undecodable}
    if counts:
        covered = sum(c for t, c in counts.items() if t in index or t.lower() in lowered)
        stats["token_coverage"] = covered / max(1, sum(counts.values()))
        stats["most_frequent_missing"] = sorted(missing, key=lambda t: -counts.get(t, 0))[:20]
    else:
        stats["most_frequent_missing"] = missing[:20]
    return torch.from_numpy(weights), stats


def save_word2vec_text(vectors: WordVectors, path: str | Path) -> Path:
    """Write ``vectors`` in the word2vec text format (atomically: a temporary file renamed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(f"{len(vectors)} {vectors.dim}\n")
        for word, row in zip(vectors.words, vectors.vectors):
            if " " in word or "\n" in word:
                continue  # cannot be written unambiguously; our tokenizer never makes these
            f.write(word + " " + " ".join(f"{v:.5g}" for v in row) + "\n")
    os.replace(tmp, path)
    return path


def epoch_reporter(progress=None):
    """A gensim callback that calls ``progress(epoch, seconds since training began)`` after
    each epoch (gensim must be installed)."""
    from gensim.models.callbacks import CallbackAny2Vec

    class _Report(CallbackAny2Vec):
        def __init__(self):
            self.epoch, self.started = 0, time.perf_counter()

        def on_epoch_end(self, model):
            self.epoch += 1
            if progress is not None:
                progress(self.epoch, time.perf_counter() - self.started)

    return _Report()


def train_word2vec(texts: Iterable[list[str]], *, dim: int = 128, window: int = 5,
                   min_count: int = 5, epochs: int = 5, skip_gram: bool = True,
                   negative: int = 5, workers: int = 2, seed: int = 0,
                   progress=None) -> WordVectors:
    """Word2vec (gensim) on tokenised texts; ``progress(epoch, seconds)`` after each epoch."""
    try:
        from gensim.models import Word2Vec
    except ImportError:
        raise ImportError("training word vectors needs gensim: pip install 'gatedrnn[vectors]' "
                          "(or pip install gensim)") from None

    sentences = texts if isinstance(texts, list) else list(texts)
    model = Word2Vec(sentences=sentences, vector_size=dim, window=window, min_count=min_count,
                     sg=int(skip_gram), negative=negative, workers=workers, seed=seed,
                     epochs=epochs, callbacks=[epoch_reporter(progress)])
    words = list(model.wv.index_to_key)
    return WordVectors(words, np.asarray(model.wv.vectors, dtype=np.float32),
                       f"word2vec ({'skip-gram' if skip_gram else 'CBOW'}, dim {dim}, "
                       f"window {window}, {epochs} epochs)")
