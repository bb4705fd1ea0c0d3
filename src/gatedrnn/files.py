"""Files written so that a crash leaves the old version or the new one, never half of one:
a temporary file in the same directory, flushed to disk, renamed over the target; and log
files whose lines are whole records."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def fsync(path: Path) -> None:
    """Flush a file's (or a directory's entries') data to disk."""
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def write_json_atomic(path: str | Path, payload, default=None) -> None:
    """Write ``payload`` as JSON to ``path`` through a flushed temporary file and a rename
    (``default``: as json.dumps's, for values JSON has no type for)."""
    path = Path(path)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(json.dumps(payload, indent=2, default=default) + "\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def append_line(path: str | Path, line: str) -> None:
    """Append one line to a log file (metrics.jsonl), first cutting off a last line that a
    crash left unfinished, so every line stays a whole record; flushed to disk."""
    path = Path(path)
    with open(path, "a+b") as file:
        file.seek(0, os.SEEK_END)
        size = file.tell()
        if size:
            file.seek(max(0, size - 1))
            if file.read(1) != b"\n":  # an unfinished line: keep up to the last newline
                file.seek(0)
                kept = file.read().rsplit(b"\n", 1)[0]
                file.truncate(0)
                file.write(kept + b"\n" if kept else b"")
        file.write(line.rstrip("\n").encode("utf-8") + b"\n")
        file.flush()
        os.fsync(file.fileno())


def read_metrics(directory: str | Path) -> dict:
    path = Path(directory) / "metrics.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
