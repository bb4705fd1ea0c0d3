"""Named entities end to end: column files of IOB2 tags in, a BiLSTM-CRF trained, entities out
as spans of tokens or of characters.

    from gatedrnn.entities import train, EntityRecognizer
    train({"train": "train.iob2", "dev": "dev.iob2"}, out="runs/entities")
    EntityRecognizer.load("runs/entities").entities(["Anders bor i København."])

One module per job (``data``, ``presets``, ``encoding``, ``training``, ``predict``,
``evaluation``). The names below are imported from them on first use, so that
``gatedrnn.entities.presets`` (plain data, read by the command line's help) loads without torch.
"""

from __future__ import annotations

from .._lazy import exports

# public name → the module that defines it
_WHERE = {
    **dict.fromkeys(["DEFAULT_OUT", "TASK"], "common"),
    **dict.fromkeys(["PRESETS", "Preset"], "presets"),
    **dict.fromkeys(["EntitySplits", "load_files", "download", "DATA_SETS"], "data"),
    **dict.fromkeys(["EntityVocab", "EntityData", "EntityBatch", "EntityTask", "encode",
                     "collate_entities"], "encoding"),
    **dict.fromkeys(["train", "read_splits"], "training"),
    **dict.fromkeys(["EntityRecognizer", "to_conll"], "predict"),
    **dict.fromkeys(["evaluate", "span_scores"], "evaluation"),
}

__all__ = sorted(_WHERE)
__getattr__, __dir__ = exports(__name__, _WHERE)
