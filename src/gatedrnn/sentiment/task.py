"""The sentiment task as the registry knows it (plain data, no torch: the command line reads
it). Its model kinds are the modules of ``kinds/``."""

from __future__ import annotations

from ..registry import Task, register_task
from .common import DEFAULT_OUT, TASK

SENTIMENT = register_task(Task(
    name=TASK, noun="a sentiment classifier", default_out=DEFAULT_OUT,
    train_hint=f"train one with 'gatedrnn sentiment train --data PATH' (it writes "
               f"{DEFAULT_OUT}/best)",
    route="predict", answer="predict",
    # 'gatedrnn classify train --data imdb --recipe fast|best' builds these (IMDb's defaults)
    data_sets=("imdb",), recipes="recipes:RECIPES", build_recipe="pipeline:run_recipe"),
    __package__)
