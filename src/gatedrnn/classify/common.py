"""What every classification module agrees on: the task's name in a checkpoint, the default
output directory and the longest text read."""

from __future__ import annotations

from pathlib import Path

from ..data.labelled import MAX_TEXT_CHARS  # noqa: F401 (longer texts are cut, with a count)

TASK = "text-classifier"
DEFAULT_OUT = Path("runs/classify")
