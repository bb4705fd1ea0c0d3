"""Bad input, fuzzed: every reader and entry point gets inputs Hypothesis draws (truncated and
bit-flipped archives, wrong layouts, non-UTF-8 and huge reviews, mutated CoNLL-U lines, damaged
or foreign checkpoint files, random vector files; random command lines in reliability_fuzz_cli).
Each case must load,
or fail with the reader's own error: one line that names the problem, no traceback, and no
existing file changed. ``fuzz(reader, examples, context)`` counts the cases and their outcomes;
any other exception fails the run (Hypothesis then reports the smallest input that causes it).
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
import tempfile
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatedrnn.data import imdb, ud
from gatedrnn.data.vectors import VectorsError, load_vectors
from gatedrnn.train.checkpoint import CheckpointError


def digest(path: Path) -> str:
    """One hash over every file under ``path``: "no file changed" is an equality."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return hashlib.sha256(b"".join(p.name.encode() + p.read_bytes() for p in files)).hexdigest()


def one_clear_line(exc: Exception) -> str:
    message = str(exc).strip()
    assert message and "\n" not in message and "Traceback" not in message, repr(message)
    return type(exc).__name__


def mutate(data, raw: bytes) -> bytes:
    """Truncate, flip bytes, or splice random bytes into ``raw``."""
    kind = data.draw(st.sampled_from(["truncate", "flip", "splice"]))
    at = st.integers(0, max(0, len(raw) - 1))
    if kind == "truncate":
        return raw[:data.draw(at)]
    out = bytearray(raw)
    if kind == "flip":
        for i in data.draw(st.lists(at, min_size=1, max_size=8)):
            out[i] ^= 0xFF
        return bytes(out)
    i = data.draw(at)
    return raw[:i] + data.draw(st.binary(min_size=1, max_size=64)) + raw[i:]


def odd_members(data) -> list[tuple[str, bytes]]:
    """IMDb-like members: empty, 1 MB, non-UTF-8 reviews, misnamed and misplaced files."""
    names = data.draw(st.lists(st.sampled_from(
        ["aclImdb/train/pos/1_9.txt", "aclImdb/train/neg/2_1.txt", "aclImdb/test/pos/3_8.txt",
         "aclImdb/test/neg/4_2.txt", "aclImdb/train/unsup/5_0.txt", "aclImdb/train/pos/x.txt",
         "aclImdb/train/urls_pos.txt", "aclImdb/README", "other/test/pos/6_7.txt"]),
        max_size=9, unique=True))
    bodies = st.sampled_from([b"", b"\xff\xfe bad", b"good film " * 100_000, b"\x00\x01",
                              "fine \u00e9".encode()])
    return [(name, data.draw(bodies)) for name in names]


def load_imdb(path: Path) -> str:
    before = digest(path)
    try:
        imdb.load(path, download=False, show_progress=False)
        outcome = "loaded"
    except imdb.DatasetError as exc:
        outcome = one_clear_line(exc)
    assert digest(path) == before
    return outcome


def imdb_archive(data, context, work: Path) -> str:
    """A damaged copy of the fixture archive, or one built with odd members."""
    if data.draw(st.booleans()):
        raw = mutate(data, context["imdb_archive"].read_bytes())
    else:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for name, body in odd_members(data):
                info = tarfile.TarInfo(name)
                info.size = len(body)
                tar.addfile(info, io.BytesIO(body))
        raw = buffer.getvalue()
    path = work / "aclImdb_v1.tar.gz"
    path.write_bytes(raw)
    return load_imdb(path)


def imdb_folder(data, context, work: Path) -> str:
    """An extracted folder with odd members (the archive's layout, or not)."""
    for name, body in odd_members(data):
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_bytes(body)
    return load_imdb(work)


def conllu(data, context, work: Path) -> str:
    lines = context["conllu"].splitlines()
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(lines) - 1))
        columns = lines[i].split("\t")
        edit = data.draw(st.sampled_from(["drop", "duplicate", "text", "column", "delete"]))
        if edit == "drop" and len(columns) > 1:
            columns.pop(data.draw(st.integers(0, len(columns) - 1)))
        elif edit == "duplicate":
            columns.append(columns[-1])
        elif edit == "column":
            columns[data.draw(st.integers(0, len(columns) - 1))] = data.draw(st.text(max_size=5))
        elif edit == "delete":
            columns = []
        else:
            columns = [data.draw(st.text(max_size=20))]
        lines[i] = "\t".join(columns)
    try:
        ud.parse_conllu("\n".join(lines), "fuzz.conllu")
        return "parsed"
    except ud.ConlluError as exc:
        return one_clear_line(exc)


def checkpoint_files(data, context, work: Path, task: str) -> str:
    """A trained checkpoint with one file damaged, replaced or edited."""
    directory = work / "checkpoint"
    shutil.copytree(context[task], directory)
    name = data.draw(st.sampled_from(["config.json", "model.safetensors", "vocab.json"]))
    path = directory / name
    edit = data.draw(st.sampled_from(["mutate", "json", "foreign", "delete"]))
    if edit == "json" and name != "model.safetensors":  # a key removed, or of another type
        document = json.loads(path.read_text(encoding="utf-8"))
        key = data.draw(st.sampled_from(sorted(document)))
        document[key] = data.draw(st.one_of(st.none(), st.integers(), st.text(max_size=5),
                                            st.lists(st.integers(), max_size=3)))
        document = {k: v for k, v in document.items() if v is not None}
        path.write_text(json.dumps(document), encoding="utf-8")
    elif edit == "foreign":  # the file of another task's checkpoint
        shutil.copy(context["tagger" if task == "sentiment" else "sentiment"] / name, path)
    elif edit == "delete":
        path.unlink()
    else:
        path.write_bytes(mutate(data, path.read_bytes()))
    before = digest(directory)
    from gatedrnn.sentiment import Predictor
    from gatedrnn.tagging import Tagger
    try:
        if task == "sentiment":
            Predictor.load(directory).predict(["A fine film."])
        else:
            Tagger.load(directory).tag([["A", "fine", "film", "."]])
        outcome = "loaded"
    except CheckpointError as exc:
        outcome = one_clear_line(exc)
    assert digest(directory) == before
    return outcome


def vectors(data, context, work: Path) -> str:
    path = work / "vectors.vec"
    path.write_bytes(data.draw(st.one_of(
        st.binary(max_size=200),
        st.lists(st.text(alphabet="ab 0123456789.-e\t", max_size=30), max_size=6).map(
            lambda lines: "\n".join(lines).encode()))))
    try:
        load_vectors(path)
        return "loaded"
    except VectorsError as exc:
        return one_clear_line(exc)


READERS = {
    "IMDb archive": imdb_archive, "IMDb folder": imdb_folder, "CoNLL-U": conllu,
    "sentiment checkpoint": lambda d, c, w: checkpoint_files(d, c, w, "sentiment"),
    "tagger checkpoint": lambda d, c, w: checkpoint_files(d, c, w, "tagger"),
    "word vectors": vectors,
}


def fuzz(reader: str, examples: int, context: dict, readers: dict = READERS) -> dict:
    """Feed ``reader`` ``examples`` drawn cases (the same ones every run); returns the count
    of each outcome."""
    outcomes = Counter()

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def check(data):
        with tempfile.TemporaryDirectory() as work:
            outcomes[readers[reader](data, context, Path(work))] += 1

    check()
    return {"cases": sum(outcomes.values()), "crashed": 0, "outcomes": dict(outcomes)}
