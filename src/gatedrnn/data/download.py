"""Fetch a data file once: official URL, checksum, cache directory, atomic write, progress bar."""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

CHUNK = 1 << 20


def cache_dir() -> Path:
    """``$GATEDRNN_DATA_DIR``, else the platform's user cache (``$XDG_CACHE_HOME/gatedrnn``)."""
    explicit = os.environ.get("GATEDRNN_DATA_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "gatedrnn"


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


class DownloadError(RuntimeError):
    """A download failed or its checksum did not match; nothing was left in the cache."""


def fetch(url: str, filename: str, checksum: tuple[str, str] | None = None,
          directory: Path | None = None, show_progress: bool = True) -> Path:
    """Return the cached copy of ``url``, downloading it first if needed.

    ``checksum`` is ``(algorithm, hex digest)``. The file is written to a temporary name in the
    cache directory and renamed only once complete and verified, so an interrupted or corrupt
    download never looks like a good one.
    """
    directory = Path(directory) if directory else cache_dir()
    target = directory / filename
    if target.exists():
        return target
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=directory)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                response = urllib.request.urlopen(url, timeout=60)  # noqa: S310 (fixed https URL)
            except (urllib.error.URLError, OSError) as exc:
                raise DownloadError(
                    f"could not download {url}: {exc}. If this machine is offline, download the "
                    f"file elsewhere and pass its path with --data, or place it at {target}"
                ) from exc
            with response:
                total = int(response.headers.get("Content-Length") or 0) or None
                with tqdm(total=total, unit="B", unit_scale=True, desc=filename,
                          disable=not show_progress, leave=False) as bar:
                    while block := response.read(CHUNK):
                        out.write(block)
                        bar.update(len(block))
        if checksum:
            algorithm, expected = checksum
            actual = file_digest(tmp, algorithm)
            if actual != expected:
                raise DownloadError(f"{url}: {algorithm} checksum {actual} does not match the "
                                    f"expected {expected}; the download is corrupt, try again")
        os.replace(tmp, target)
        return target
    finally:
        if tmp.exists():
            tmp.unlink()
