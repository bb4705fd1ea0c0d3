"""Word-level language models end to end: presets, pretraining, perplexity, generation.

    from gatedrnn.lm import pretrain, evaluate_lm, sample
    pretrain("aclImdb_v1.tar.gz", out="runs/lm", preset="awd")
    evaluate_lm("runs/lm", data="aclImdb_v1.tar.gz")
    sample("runs/lm", "this movie was", words=30, temperature=0.8, top_k=40)

One module per job (``presets``, ``data``, ``training``, ``predict``, ``evaluation``);
``task`` declares the task to the registry and ``kinds/`` holds its model kind. The names below
are imported on first use, so ``gatedrnn.lm.presets`` (plain data, read by the command line's
help) loads without torch. A classifier fine-tuned from these models is the sentiment task's
(preset ``ulmfit``).
"""

from __future__ import annotations

from .._lazy import exports

# public name → the module that defines it
_WHERE = {
    **dict.fromkeys(["DEFAULT_OUT", "TASK", "TRAIN_HINT"], "common"),
    **dict.fromkeys(["PRESETS", "LanguageModelPreset", "DEFAULT_PRESET"], "presets"),
    **dict.fromkeys(["windows", "windows_set", "pretraining_texts", "held_out_count"], "data"),
    **dict.fromkeys(["pretrain", "LanguageModelTask"], "training"),
    "PretrainedLanguageModel": "predict",
    **dict.fromkeys(["SPLITS", "evaluate_lm", "load_language_model", "sample"], "evaluation"),
}

__all__ = sorted(_WHERE)
__getattr__, __dir__ = exports(__name__, _WHERE)
