"""Public names of a package that live in its submodules, imported on first use: the command
line reads a package's plain-data modules (presets, recipes) without loading torch."""

from __future__ import annotations

import importlib
import sys


def exports(package: str, where: dict[str, str]):
    """``__getattr__`` and ``__dir__`` for ``package``: ``where`` maps each public name to the
    submodule that defines it."""

    def __getattr__(name: str):
        if name in where:
            value = getattr(importlib.import_module(f".{where[name]}", package), name)
            setattr(sys.modules[package], name, value)  # later lookups skip this function
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__
