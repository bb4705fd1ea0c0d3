"""Text classification on one's own data, in any language: labelled files in (CSV, TSV, JSON
Lines, a folder per class, fastText lines, Parquet), any labels, any number of classes, a
tokenizer for the language; a trained, calibrated classifier out.

    from gatedrnn.classify import train, Predictor
    train("questions.csv", out="runs/questions")             # columns detected, split drawn
    Predictor.load("runs/questions").predict(["How far is the moon?"])

``gatedrnn sentiment`` is IMDb's defaults over this package: its prediction, its recurrent
model kind and its training core are these. One module per job (``presets``, ``training``,
``building`` (a recipe), ``predict``, ``evaluation``); ``task`` declares the task to the
registry and ``kinds/`` holds its model kinds.
"""

from __future__ import annotations

from .._lazy import exports

# public name → the module that defines it
_WHERE = {
    **dict.fromkeys(["DEFAULT_OUT", "TASK", "MAX_TEXT_CHARS"], "common"),
    **dict.fromkeys(["PRESETS", "Preset", "DEFAULT_PRESET"], "presets"),
    **dict.fromkeys(["train", "fit_recurrent", "prepare"], "training"),
    "run_recipe": "building",
    **dict.fromkeys(["Predictor", "UNCERTAIN", "abstain", "load_classifier", "predictions"],
                    "predict"),
    **dict.fromkeys(["evaluate", "classification_report"], "evaluation"),
}

__all__ = sorted(_WHERE)
__getattr__, __dir__ = exports(__name__, _WHERE)
