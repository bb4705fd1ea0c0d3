"""Several sentiment checkpoints read as one model: the text classifiers' ensemble
(gatedrnn.classify.ensemble), written as a sentiment checkpoint with IMDb's labels."""

from __future__ import annotations

from pathlib import Path

from ..classify.ensemble import (  # noqa: F401 (the sentiment package's public names)
    LOG_ODDS_LIMIT,
    RULES,
    Ensemble,
    combine_scores,
)
from ..classify.ensemble import save_ensemble as _save_ensemble
from ..data import imdb
from .common import TASK


def save_ensemble(directory: str | Path, members: list[str | Path], rule: str = "mean",
                  weights: list[float] | None = None, bias: float = 0.0,
                  calibration: dict | None = None, extra: dict | None = None) -> Path:
    """Write a sentiment ensemble directory (config.json only: the members stay where they
    are, named relative to it when they can be) that loads like one checkpoint."""
    return _save_ensemble(directory, members, rule, weights, bias, calibration, extra,
                          task=TASK, labels=list(imdb.LABELS))
