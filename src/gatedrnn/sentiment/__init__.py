"""IMDb sentiment analysis end to end: presets and recipes, training, evaluation, prediction,
ensembles and the pipeline that builds the best measured system.

    from gatedrnn.sentiment import train, Predictor
    train(data="aclImdb_v1.tar.gz", preset="fast", out="runs/sentiment")
    Predictor.load("runs/sentiment").predict(["A wonderful film."])

One module per job (``presets``, ``recipes``, ``training``, ``teachers``, ``predict``,
``ensemble``, ``evaluation``, ``selection``, ``pipeline``); ``task`` declares the task to the
registry and ``kinds/`` holds one module per model kind (recurrent, ngram, docvec, ensemble). The names below are imported from
them on first use, so that ``gatedrnn.sentiment.presets`` and ``.recipes`` (plain data, read by
the command line's help) load without torch.
"""

from __future__ import annotations

from .._lazy import exports

# public name → the module that defines it
_WHERE = {
    **dict.fromkeys(["DEFAULT_OUT", "TASK", "TOKENIZER", "MAX_TEXT_CHARS"], "common"),
    **dict.fromkeys(["PRESETS", "Preset", "DEFAULT_PRESET", "CHAPTER_PRESET"], "presets"),
    **dict.fromkeys(["RECIPES", "Recipe"], "recipes"),
    **dict.fromkeys(["train", "train_word_vectors"], "training"),
    "teacher_probabilities": "teachers",
    **dict.fromkeys(["Predictor", "UNCERTAIN", "abstain", "calibrated_probabilities",
                     "encode_texts", "load", "resolve_checkpoint"], "predict"),
    "NgramPredictor": "kinds.ngram",
    "DocVectorPredictor": "kinds.docvec",
    **dict.fromkeys(["Ensemble", "RULES", "LOG_ODDS_LIMIT", "combine_scores", "save_ensemble"],
                    "ensemble"),
    **dict.fromkeys(["evaluate", "calibrate", "calibrate_checkpoint"], "evaluation"),
    **dict.fromkeys(["run_recipe", "run_pipeline", "PipelineOptions"], "pipeline"),
}

__all__ = sorted(_WHERE)
__getattr__, __dir__ = exports(__name__, _WHERE)
