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
        return [options.get("member_preset", "fast"), options.get("linear_preset", "nbsvm"),
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
