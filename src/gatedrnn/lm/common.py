"""What every language-model module agrees on: the task's name in a checkpoint, the default
output directory and how to make one."""

from __future__ import annotations

from pathlib import Path

# What a language model's checkpoint says it is (config.json "task"): pretraining writes it,
# a classifier that starts from the model checks it (the registry).
TASK = "language-model"

DEFAULT_OUT = Path("runs/lm")
TRAIN_HINT = "train one with 'gatedrnn lm pretrain --data PATH'"
