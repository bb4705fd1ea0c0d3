"""Scoring a sentiment model and fitting its temperature: the text classifiers' evaluation
(gatedrnn.classify.evaluation)."""

from __future__ import annotations

from ..classify.evaluation import calibrate, calibrate_checkpoint, evaluate  # noqa: F401
