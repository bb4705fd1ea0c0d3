"""Tasks and model kinds: the one place that knows which code reads which checkpoint.

A *task* (sentiment classification, tagging, language modelling) is a package of gatedrnn with a
``task.py`` that declares it (plain data, no torch) and a ``kinds/`` folder with one module per
*model kind* (a recurrent classifier, an n-gram model, an ensemble, ...). Each kind module
registers itself with :func:`register_kind`: how a checkpoint of that kind is recognised from
its config.json, how it is loaded, whether and how it exports to ONNX, whether it can be
explained. Nothing else in gatedrnn switches on a task or model-kind string: ``gatedrnn.load``,
the server, ``export``, ``explain`` and the command line ask the registry.

    from gatedrnn import registry
    model = registry.load("runs/sentiment")         # whatever task and kind it is
    registry.kind_of(model).task                    # "sentiment"

Adding a kind is one new module in a task's ``kinds/``; adding a task is one new package with
a ``task.py`` (docs/layout.md walks through both). The registry finds them by looking, on first
use: it imports no task at import time, so the command line stays fast.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

PACKAGE = __name__.rpartition(".")[0]  # "gatedrnn"
# The kind of every gated-RNN model: a recurrent encoder, trained by epochs through the Trainer
# (what a language model can pretrain). Presets name their kind; this says which they can
# without importing any task (the command line lists such presets in its help).
RECURRENT = "recurrent"


def is_recurrent(kind_name: str) -> bool:
    """Is a preset of this kind a gated RNN (an encoder a language model can start)?"""
    return kind_name == RECURRENT


@dataclass(frozen=True)
class Task:
    """What a task declares about itself (``<package>/task.py``)."""

    name: str              # as config.json writes it ("task": ...)
    noun: str              # for messages: "a sentiment classifier"
    default_out: Path      # where its training writes by default
    train_hint: str        # how to make a checkpoint of it, for errors
    # The HTTP route that serves it ("predict", "tag"; None: not served) and the method of a
    # loaded model that answers it (a batch of inputs in, one result per input out).
    route: str | None = None
    answer: str | None = None
    # Built-in data sets whose recipes this task owns (sentiment: "imdb"): text classification
    # on such a set builds the task's own recipe of the asked name, where it has one. Both
    # "module:attribute", relative to the task's package: the recipes (plain data, a dict by
    # name) and the function that builds one, (name, data, out, seed=, show_progress=, log=).
    data_sets: tuple[str, ...] = ()
    recipes: str | None = None
    build_recipe: str | None = None
    package: str = ""      # filled in by register_task: the package that declared it


@dataclass(frozen=True)
class OnnxGraph:
    """A loaded model as ONNX export needs it: a torch module, example inputs that exercise
    every dynamic axis, and the names, axes and metadata to write."""

    module: Any
    example: tuple
    inputs: list[str]
    outputs: list[str]
    axes: dict
    metadata: dict


@dataclass(frozen=True)
class ModelKind:
    """How one kind of checkpoint of one task is recognised, loaded and exported."""

    task: str
    name: str
    # (checkpoint directory, its config, calibrated) → the loaded model
    load: Callable[[Path, dict, bool], Any]
    # does a config.json of this task hold this kind? (default: "model_type" names it,
    # "recurrent" when absent, as checkpoints before model_type existed were)
    matches: Callable[[dict], bool] | None = None
    # the loaded model → its OnnxGraph; None: not exportable, and ``not_exportable`` says
    # what the checkpoint is instead and what to do (a text, or made from directory and config)
    onnx: Callable[[Any], OnnxGraph] | None = None
    not_exportable: str | Callable[[Path, dict], str] = ""
    # (loaded model, .onnx path) → the same model answering from onnxruntime (gatedrnn serve
    # --onnx); None: it is served by PyTorch
    onnx_runtime: Callable[[Any, Path], Any] | None = None
    # gate and contribution explanations (gatedrnn explain, /explain)
    explains: bool = False
    # the kind's own training, for kinds not trained by epochs through the Trainer (fitted in
    # one go): called with the task's train() arguments; None: the task's Trainer path
    train: Callable[..., dict] | None = None
    model_class: type | None = None  # the class load returns (kind_of reads it)

    def recognises(self, config: dict) -> bool:
        if self.matches is not None:
            return bool(self.matches(config))
        return config.get("model_type", RECURRENT) == self.name


_TASKS: dict[str, Task] = {}
_KINDS: dict[str, dict[str, ModelKind]] = {}
_discovered = False


def register_task(task: Task, package: str) -> Task:
    """Declare a task (called by ``<package>/task.py``)."""
    task = Task(**{**task.__dict__, "package": package})
    _TASKS[task.name] = task
    _KINDS.setdefault(task.name, {})
    return task


def register_kind(task: str, name: str, **options) -> Callable:
    """Decorator for a kind's loader, ``(directory, config, calibrated) → model``::

        @register_kind("sentiment", "ngram", model_class=NgramPredictor)
        def load(directory, config, calibrated): ...
    """

    def register(load: Callable) -> Callable:
        _KINDS.setdefault(task, {})[name] = ModelKind(task, name, load, **options)
        return load

    return register


def _import_task_declarations() -> None:
    """Import ``gatedrnn.<package>.task`` for every package that has one."""
    root = importlib.import_module(PACKAGE)
    for package in sorted(p.name for p in pkgutil.iter_modules(root.__path__) if p.ispkg):
        if importlib.util.find_spec(f"{PACKAGE}.{package}.task") is not None:
            importlib.import_module(f"{PACKAGE}.{package}.task")


def _discover() -> None:
    """Import every task's declaration and the modules of its ``kinds/`` (once)."""
    global _discovered
    if _discovered:
        return
    _import_task_declarations()
    for declared in list(_TASKS.values()):
        try:
            found = importlib.util.find_spec(f"{declared.package}.kinds")
        except ModuleNotFoundError:
            found = None
        if found is None:
            continue  # a task declared from elsewhere registers its kinds itself
        kinds_package = importlib.import_module(f"{declared.package}.kinds")
        for module in sorted(m.name for m in pkgutil.iter_modules(kinds_package.__path__)):
            importlib.import_module(f"{kinds_package.__name__}.{module}")
    _discovered = True


def tasks() -> dict[str, Task]:
    """Every declared task, by name (imports only the plain-data ``task.py`` modules)."""
    if not _TASKS:
        _import_task_declarations()
    return dict(_TASKS)


def task(name: str) -> Task:
    known = tasks()
    if name not in known:
        raise KeyError(f"unknown task {name!r}; known: {', '.join(sorted(known))}")
    return known[name]


@dataclass(frozen=True)
class DataSetRecipes:
    """The recipes a task owns for one of its built-in data sets."""

    task: str
    names: tuple[str, ...]
    build: Callable[..., dict]


def data_set_recipes(data_set: str) -> DataSetRecipes | None:
    """The recipes of the task that owns built-in data set ``data_set`` (None: no task owns
    it, and the generic ones apply)."""
    for declared in tasks().values():
        if data_set in declared.data_sets and declared.recipes and declared.build_recipe:
            return DataSetRecipes(declared.name, tuple(_attribute(declared, declared.recipes)),
                                  _attribute(declared, declared.build_recipe))
    return None


def _attribute(declared: Task, where: str) -> Any:
    module, _, attribute = where.partition(":")
    return getattr(importlib.import_module(f"{declared.package}.{module}"), attribute)


def kinds(task_name: str | None = None) -> list[ModelKind]:
    """The registered kinds (of one task, or all)."""
    _discover()
    return [k for t, by_name in _KINDS.items() if task_name in (None, t)
            for k in by_name.values()]


def kind(task_name: str, name: str) -> ModelKind:
    """The kind ``name`` of task ``task_name``."""
    _discover()
    known = _KINDS.get(task_name, {})
    if name not in known:
        raise KeyError(f"no model kind {name!r} in task {task_name!r}; known: "
                       f"{', '.join(sorted(known)) or 'none'}")
    return known[name]


def kind_for(config: dict, where: str | Path = "checkpoint") -> ModelKind:
    """The kind whose checkpoint ``config`` describes (``where`` names it in errors)."""
    from .train.checkpoint import CheckpointError

    _discover()
    name = config.get("task")
    if name not in _KINDS:
        raise CheckpointError(f"{where}: unknown task {name!r}; this gatedrnn reads "
                              f"{', '.join(sorted(_KINDS))} checkpoints")
    for kind in _KINDS[name].values():
        if kind.recognises(config):
            return kind
    raise CheckpointError(f"{where}: a {name} checkpoint of a kind this gatedrnn does not know "
                          f"(model_type {config.get('model_type')!r}); upgrade gatedrnn")


def kind_of(model: Any) -> ModelKind:
    """The kind a loaded model belongs to: its class's, or else its nearest registered parent
    class's (an OnnxPredictor is a recurrent classifier)."""
    _discover()
    by_class = {k.model_class: k for k in kinds() if k.model_class is not None}
    for cls in type(model).__mro__:
        if cls in by_class:
            return by_class[cls]
    raise TypeError(f"{type(model).__name__} is not a registered model kind")


def open_checkpoint(path: str | Path, task_name: str | None = None) -> tuple[Path, dict,
                                                                             ModelKind]:
    """The checkpoint directory behind ``path`` (a training output means its best/), its
    config and its kind; with ``task_name``, refused unless it is of that task."""
    from .train import checkpoint

    directory = checkpoint.resolve(path)
    if task_name is not None:
        wanted = task(task_name)
        if not directory.exists():
            raise checkpoint.CheckpointError(f"no checkpoint at {directory}; "
                                             f"{wanted.train_hint}")
        config = checkpoint.read_config(directory)
        if config.get("task") != task_name:
            raise checkpoint.CheckpointError(
                f"{directory} is a {config.get('task')!r} checkpoint, not {wanted.noun}")
    else:
        config = checkpoint.read_config(directory)
    return directory, config, kind_for(config, directory)


def load(path: str | Path, task: str | None = None, calibrated: bool = True,
         **options) -> Any:
    """The model at ``path``, whatever its task and kind (``task``: refuse any other task).
    ``calibrated=False``: raw scores, without the temperature fitted after training;
    ``options`` go to the kind's loader (a tagger's ``device``)."""
    from .train import checkpoint

    directory, config, kind = open_checkpoint(path, task)
    with checkpoint.building(directory):
        return kind.load(directory, config, calibrated, **options)
