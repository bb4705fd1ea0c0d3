"""The language-modelling task as the registry knows it (plain data, no torch: the command
line reads it). Its model kinds are the modules of ``kinds/``."""

from __future__ import annotations

from ..registry import Task, register_task
from .common import DEFAULT_OUT, TASK, TRAIN_HINT

LANGUAGE_MODELLING = register_task(Task(
    name=TASK, noun="a pretrained language model", default_out=DEFAULT_OUT,
    train_hint=TRAIN_HINT), __package__)
