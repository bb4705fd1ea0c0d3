"""The tagger recipes: each the best way we measured to spend a budget, built by one command
(``gatedrnn tagger train --recipe NAME``) into one directory that evaluate, predict, serve
and export load as one tagger (export: single taggers only).

Plain data, importable without torch (the command line lists these in its help).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Recipe:
    description: str
    measured: str      # test accuracy and wall time, and where they were measured
    preset: str
    members: int = 1   # > 1: that many taggers (seeds 0..) trained side by side, averaged

    def presets(self) -> list[str]:
        return [self.preset]


RECIPES = {
    "best": Recipe(
        "an ensemble of two bilstm taggers (seeds 0, 1) trained side by side, one core each, "
        "calibrated as a whole",
        "95.51% UPOS on EWT test, 16.9 min on 2 CPU cores", preset="bilstm", members=2),
    "single": Recipe(
        "one bilstm tagger (the preset; exportable to ONNX)",
        "95.37% UPOS on EWT test, 15.8 min on 2 CPU cores", preset="bilstm"),
    "smoke": Recipe(
        "two tiny taggers: checks a setup end to end in seconds; its accuracy means nothing",
        "not a model to use", preset="tiny", members=2),
}


def recipe_help() -> str:
    return "; ".join(f"{name}: {r.measured}" for name, r in RECIPES.items())
