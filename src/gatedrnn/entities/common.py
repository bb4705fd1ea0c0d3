"""What every entities module agrees on: the task's name in a checkpoint and the default
output directory."""

from __future__ import annotations

from pathlib import Path

DEFAULT_OUT = Path("runs/entities")
TASK = "entities"
