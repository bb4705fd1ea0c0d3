"""The ``gatedrnn`` command: one module per command group (``experiments``, ``classify``,
``sentiment``, ``embeddings``, ``lm``, ``tagger``, ``serving``), the root group in ``root``
and the options and helpers they share in ``options``.

These modules import only click and the standard library at the top: torch, numpy and the
package's heavy modules are imported inside the commands that run them, so that --help,
--version, shell completion and argument errors answer at once (a test checks that importing
this package and asking every command for --help loads no torch).
"""

from __future__ import annotations

from . import (  # noqa: F401 (each registers its commands)
    classify, embeddings, entities, experiments, lm, sentiment, serving, tagger)
from .root import main

__all__ = ["main"]
