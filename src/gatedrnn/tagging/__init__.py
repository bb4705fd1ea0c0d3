"""Part-of-speech tagging on UD treebanks end to end: encoding, training, evaluation, prediction.

    from gatedrnn.tagging import train, Tagger
    train(data="../shared/data/ud_english_ewt", out="runs/tagger")
    Tagger.load("runs/tagger").tag([["The", "cat", "sat", "."]])

One module per job (``presets``, ``recipes``, ``encoding``, ``training``, ``predict``,
``evaluation``, ``text``). The names below are imported from them on first use, so that
``gatedrnn.tagging.presets`` and ``.recipes`` (plain data, read by the command line's help) load
without torch.
"""

from __future__ import annotations

from .._lazy import exports

# public name → the module that defines it
_WHERE = {
    **dict.fromkeys(["DEFAULT_OUT", "TASK", "IGNORE", "MAX_WORD_CHARS"], "common"),
    **dict.fromkeys(["PRESETS", "Preset"], "presets"),
    **dict.fromkeys(["RECIPES", "Recipe"], "recipes"),
    **dict.fromkeys(["TaggerVocab", "TaggedData", "TaggingBatch", "TaggingTask", "encode",
                     "collate_sentences"], "encoding"),
    **dict.fromkeys(["train", "train_ensemble", "train_recipe"], "training"),
    **dict.fromkeys(["Tagger", "TaggerEnsemble", "load_taggers", "gold_scores", "load"],
                    "predict"),
    **dict.fromkeys(["calibrate", "calibrate_checkpoint", "evaluate", "calibration_report",
                     "evaluate_raw_text"], "evaluation"),
    "tokenize": "text",
}

__all__ = sorted(_WHERE)
__getattr__, __dir__ = exports(__name__, _WHERE)
