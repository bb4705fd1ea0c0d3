"""What every tagging module agrees on: the task's name in a checkpoint, the default output
directory, the padding target and the longest word read."""

from __future__ import annotations

from pathlib import Path

DEFAULT_OUT = Path("runs/tagger")
TASK = "tagger"
IGNORE = -100       # target of padded positions: cross_entropy skips it
MAX_WORD_CHARS = 30  # longer words (URLs) keep their first and last 15 characters
