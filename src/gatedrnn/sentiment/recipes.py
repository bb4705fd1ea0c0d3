"""The sentiment recipes: whole systems, each built by one command (``gatedrnn sentiment train
--recipe NAME``) into one directory that predict, evaluate, serve and explain load as one
model. A preset is one model and how it trains; a recipe is the best way we measured to spend
a budget, which may train several models and combine them.

Plain data, importable without torch (the command line lists these in its help). Each
``measured`` figure comes from the run named beside it (README, docs/results.md).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Recipe:
    description: str
    measured: str                  # test accuracy and wall time, and where they were measured
    preset: str | None = None      # one model, trained by sentiment.train with this preset
    pipeline: dict | None = None   # several, by sentiment.pipeline (PipelineOptions fields)

    def presets(self) -> list[str]:
        """Every preset the recipe trains with."""
        if self.preset:
            return [self.preset]
        options = self.pipeline or {}
        members = [options.get("member_preset", "fast")] if options.get("members", 2) else []
        linear = options.get("linear_preset", "nbsvm")
        ulmfit = ["ulmfit"] if options.get("ulmfit_lm_preset") else []
        return [*members, *([linear] if linear else []), *ulmfit,
                *options.get("doc_vector_presets", ("dv-ngram", "dv-trigram"))]


RECIPES = {
    "best": Recipe(
        "the best measured system: word2vec vectors, then two BiLSTMs (fast preset from the "
        "vectors), an NBSVM and two document-vector models (dv-ngram, dv-trigram), then an "
        "NBSVM taught by their best average; the final ensemble (a stack of all six, chosen "
        "by nested cross-validation on validation) calibrated as a whole",
        "93.02% / 93.08% / 92.96% test in three fresh runs, 43-67 min on 2 CPU cores",
        pipeline={"members": 2, "rounds": 0, "doc_vector_presets": ("dv-ngram", "dv-trigram")}),
    "fast": Recipe(
        "one BiLSTM, the fast preset (the default of 'sentiment train')",
        "90.38% test, about 7 min on 2 CPU cores", preset="fast"),
    "ulmfit": Recipe(
        "ULMFiT from the archive: a forward and a backward AWD-LSTM-style language model "
        "(lm preset awd) pretrained side by side on the 50,000 unlabelled + 25,000 training "
        "reviews, each fine-tuned into a classifier (preset ulmfit), the two combined as "
        "validation chooses (mean, log-odds or stacked) and calibrated as a whole",
        "90.08% test, 48 min on 2 CPU cores (below the fast preset: LM pretraining at this "
        "scale does not pay yet)", pipeline={
            "members": 0, "word_vectors": None, "linear_preset": None,
            "doc_vector_presets": (), "ensemble_teacher": False, "ulmfit_lm_preset": "awd"}),
    "smoke": Recipe(
        "the best recipe's steps at toy sizes (tiny BiLSTMs, small word vectors, dv-ngram "
        "only), to check a setup end to end: seconds on a small archive such as the tests' "
        "fixture (on the full IMDb its steps still read all 100,000 reviews); its accuracy "
        "means nothing",
        "not a model to use", pipeline={
            "members": 2, "member_preset": "tiny", "rounds": 0,
            "doc_vector_presets": ("dv-ngram",),
            "word_vectors": {"dim": 16, "epochs": 1, "min_count": 1}}),
}
DEFAULT_RECIPE = "best"


def recipe_help() -> str:
    """One line per recipe for --help: name, what it builds, what it measured."""
    return "; ".join(f"{name}: {r.measured}" for name, r in RECIPES.items())
