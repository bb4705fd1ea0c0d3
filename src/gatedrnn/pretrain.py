"""Language-model pretraining of a sentiment encoder: ``gatedrnn.lm.pretrain`` with a
sentiment preset's encoder shape as a bidirectional LM, or with a language-model preset.

    from gatedrnn.pretrain import pretrain
    pretrain("aclImdb_v1.tar.gz", out="runs/lm", preset="fast")     # the fast preset's encoder
    pretrain("aclImdb_v1.tar.gz", out="runs/lm", preset="awd")      # = gatedrnn.lm.pretrain
    train("aclImdb_v1.tar.gz", preset="fast", init_from="runs/lm")  # gatedrnn.sentiment

The language model itself (presets, data, training, perplexity, sampling) is ``gatedrnn.lm``;
this module only knows how a sentiment preset becomes an LM shape, which the lm package (below
sentiment in the layers) cannot.
"""

from __future__ import annotations

from pathlib import Path

from .lm import presets as lm_presets
from .lm.common import DEFAULT_OUT, TASK  # noqa: F401 (public names of this module)
from .lm.data import held_out_count, pretraining_texts, windows  # noqa: F401
from .lm.training import LanguageModelTask  # noqa: F401
from .lm.training import pretrain as pretrain_language_model
from .models.language_model import ENCODER_FIELDS
from .registry import is_recurrent

# One pass over ~21M tokens; chosen for the fast preset's encoder (benchmarks/imdb_ablation.py).
DEFAULT_FIT = {"epochs": 1, "batch_size": 64, "lr": 3e-3, "clip": 1.0, "scheduler": "onecycle",
               "eval_batch_size": 128}
SENTIMENT_BPTT = 200


def pretrain(data=None, out: str | Path = DEFAULT_OUT, *, preset: str = "fast",
             direction: str | None = None, **options) -> dict:
    """Train a language model: a language-model preset's (forward unless ``direction`` says
    "backward"), or a bidirectional one with the encoder of sentiment preset ``preset``.
    ``options``: those of ``gatedrnn.lm.pretrain``."""
    if preset in lm_presets.PRESETS:
        return pretrain_language_model(data, out, preset=preset, direction=direction,
                                       **options)
    return pretrain_language_model(data, out, preset=preset, direction=direction,
                                   shape=sentiment_encoder_shape(preset, direction), **options)


def sentiment_encoder_shape(preset: str, direction: str | None = None
                            ) -> lm_presets.LanguageModelPreset:
    """A bidirectional LM preset shaped as sentiment preset ``preset``'s encoder."""
    from .sentiment.presets import PRESETS

    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose a language-model preset "
                         f"({', '.join(lm_presets.PRESETS)}) or a sentiment preset "
                         f"({', '.join(PRESETS)})")
    chosen = PRESETS[preset]
    if not is_recurrent(chosen.kind):
        recurrent = [name for name, p in PRESETS.items() if is_recurrent(p.kind)]
        raise ValueError(f"preset {preset} has no recurrent encoder to pretrain; choose one "
                         f"of {', '.join(recurrent)}")
    if direction is not None:
        raise ValueError(f"the sentiment preset {preset} pretrains a bidirectional LM; "
                         f"direction is for the language-model presets "
                         f"({', '.join(lm_presets.PRESETS)})")
    return lm_presets.LanguageModelPreset(
        f"a bidirectional LM with the encoder of sentiment preset {preset}", chosen.vocab_size,
        SENTIMENT_BPTT, {k: v for k, v in chosen.model.items() if k in ENCODER_FIELDS},
        DEFAULT_FIT)


__all__ = ["DEFAULT_OUT", "LanguageModelTask", "TASK", "held_out_count", "pretrain",
           "pretraining_texts", "sentiment_encoder_shape", "windows"]
