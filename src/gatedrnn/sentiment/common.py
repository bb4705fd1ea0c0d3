"""What every sentiment module agrees on: the task's name in a checkpoint, its tokenizer, the
default output directory and the longest text read."""

from __future__ import annotations

from pathlib import Path

from ..classify.common import MAX_TEXT_CHARS  # noqa: F401 (longer texts are cut, with a warning)

DEFAULT_OUT = Path("runs/sentiment")
TASK = "sentiment"
TOKENIZER = "basic_english"
