"""What every sentiment module agrees on: the task's name in a checkpoint, its tokenizer, the
default output directory and the longest text read."""

from __future__ import annotations

from pathlib import Path

DEFAULT_OUT = Path("runs/sentiment")
TASK = "sentiment"
TOKENIZER = "basic_english"
MAX_TEXT_CHARS = 1_000_000  # longer texts are cut, with a warning, before tokenising
