"""The named-entity task as the registry knows it (plain data, no torch: the command line
reads it). Its model kinds are the modules of ``kinds/``."""

from __future__ import annotations

from ..registry import Task, register_task
from .common import DEFAULT_OUT, TASK

ENTITIES = register_task(Task(
    name=TASK, noun="an entity tagger", default_out=DEFAULT_OUT,
    train_hint=f"train one with 'gatedrnn entities train --train FILE' (it writes "
               f"{DEFAULT_OUT}/best)",
    route="entities", answer="entities"), __package__)
