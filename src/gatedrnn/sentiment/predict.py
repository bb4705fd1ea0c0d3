"""Predicting with a sentiment classifier: the text classifiers' prediction
(gatedrnn.classify.predict), with IMDb's defaults."""

from __future__ import annotations

from pathlib import Path

from ..classify.predict import (  # noqa: F401 (the sentiment package's public names)
    UNCERTAIN,
    Predictor,
    WholeTextPredictor,
    abstain,
    calibrated_probabilities,
    checkpoint_labels,
    checkpoint_temperature,
    encode_texts,
    load_classifier,
    predictions,
    resolve_checkpoint,
)
from .common import DEFAULT_OUT, TASK


def load(path: str | Path = DEFAULT_OUT, calibrated: bool = True) -> Predictor:
    """``gatedrnn.sentiment.load(path).predict([...])``: a sentiment checkpoint only."""
    return load_classifier(path, calibrated, TASK)
