"""The text-classification recipes: whole systems built by one command
(``gatedrnn classify train --recipe NAME``) into one directory that evaluate, predict and serve
load as one model. Plain data, importable without torch (the command line lists them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Recipe:
    description: str
    measured: str                  # what it scored, and where it was measured
    candidates: tuple[str, ...]    # presets, trained in this order; the best on validation kept
    budget_minutes: float | None = None  # default time budget (None: none)


RECIPES = {
    "fast": Recipe(
        "one BiLSTM (the bilstm preset)",
        "SST-5 40.54% test in 44 s, SUBJ 91.00% in 50 s, MPQA 83.68% in 20 s on 2 CPU cores "
        "(results/text_classification.json)", ("bilstm",)),
    "auto": Recipe(
        "within the budget: the linear model (TF-IDF + logistic regression), then a BiLSTM and "
        "a BiGRU (when unsure, try both); a leaderboard on validation, and the most accurate "
        "kept in OUT/best", "not yet measured on the benchmark sets",
        ("linear", "bilstm", "bigru"), budget_minutes=15.0),
}
DEFAULT_RECIPE = "auto"


def recipe_help() -> str:
    return "; ".join(f"{name}: {r.description} ({r.measured})" for name, r in RECIPES.items())
