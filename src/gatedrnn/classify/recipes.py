"""The text-classification recipes: whole systems built by one command
(``gatedrnn classify train --recipe NAME``) into one directory that evaluate, predict and serve
load as one model. Plain data, importable without torch (the command line lists them).

A candidate is a preset's name, or ``PRESET@K`` for the same preset trained with the seed
K above the run's (another draw of its initialisation and order, on the same split): the
members an ensemble gains most from are equally good models that err differently."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Recipe:
    description: str
    measured: str                  # what it scored, and where it was measured
    candidates: tuple[str, ...]    # presets (or PRESET@K), trained in this order
    budget_minutes: float | None = None  # default time budget (None: none)
    # combine the candidates into an ensemble (rule chosen on validation) and keep it: each
    # candidate's validation figure is its best epoch's there (flattering), the ensemble's not
    ensemble: bool = False


RECIPES = {
    "fast": Recipe(
        "one BiLSTM (the bilstm preset)",
        "SST-5 40.54% test in 44 s, SUBJ 91.00% in 50 s, MPQA 83.68% in 20 s on 2 CPU cores "
        "(results/text_classification.json)", ("bilstm",)),
    "auto": Recipe(
        "within the budget: the linear model (TF-IDF + logistic regression), then a BiLSTM and "
        "a BiGRU (when unsure, try both), then their ensemble if time is left; a leaderboard "
        "on validation; the ensemble kept in OUT/best, or without one the most accurate",
        "not yet measured on the benchmark sets",
        ("linear", "bilstm", "bigru"), budget_minutes=15.0, ensemble=True),
    "best": Recipe(
        "no budget: the linear model, two BiLSTMs and two BiGRUs (seeds 0 and 1), and their "
        "ensemble (mean, log-odds or a stack fitted on validation, chosen by cross-validation "
        "there), kept in OUT/best",
        "not yet measured on the benchmark sets",
        ("linear", "bilstm", "bigru", "bilstm@1", "bigru@1"), ensemble=True),
}
DEFAULT_RECIPE = "auto"


def candidate_preset(candidate: str) -> tuple[str, int]:
    """``PRESET@K`` → (PRESET, K); a plain preset name → (name, 0)."""
    preset, _, offset = candidate.partition("@")
    return preset, int(offset or 0)


def recipe_help() -> str:
    return "; ".join(f"{name}: {r.description} ({r.measured})" for name, r in RECIPES.items())
