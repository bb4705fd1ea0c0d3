"""The text-classification task as the registry knows it (plain data, no torch: the command
line reads it). Its model kinds are the modules of ``kinds/``."""

from __future__ import annotations

from ..registry import Task, register_task
from .common import DEFAULT_OUT, TASK

TEXT_CLASSIFICATION = register_task(Task(
    name=TASK, noun="a text classifier", default_out=DEFAULT_OUT,
    train_hint=f"train one with 'gatedrnn classify train --data FILE' (it writes "
               f"{DEFAULT_OUT}/best)",
    route="predict", answer="predict"), __package__)
