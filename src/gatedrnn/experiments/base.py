"""What every experiment returns, and the small helpers they share."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from .runner import Settings

CHAPTER = Settings(steps=100, batch_size=32, lr=1e-3, init="default")
"""The chapter's exact setting: Adam 1e-3, 100 steps, batch 32, torch's default initialisation."""


def fair_settings(quick: bool) -> Settings:
    """Each model's best fair chance: more steps, a higher rate, clipping, chrono init (gated
    cells; a vanilla RNN has no gate to initialise and keeps the default)."""
    return Settings(steps=300 if quick else 1000, batch_size=32, lr=3e-3, init="chrono", clip=1.0)


def adjust(training: Settings, overrides: dict | None) -> Settings:
    """A copy of ``training`` with some fields replaced (e.g. ``{"steps": 5}`` for a smoke test)."""
    return Settings(**{**training.__dict__, **(overrides or {})})


def for_mode(training: Settings, mode: str) -> Settings:
    """The settings for one cell kind: chrono/forget-bias only apply to gated cells."""
    if mode == "RNN" and training.init != "default":
        return Settings(**{**training.__dict__, "init": "default"})
    return training


@dataclass
class ExperimentResult:
    name: str
    description: str
    columns: list[str]
    rows: list[dict]
    figures: list[str] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict:
        return {"name": self.name, "description": self.description, "columns": self.columns,
                "rows": self.rows, "figures": self.figures, "settings": self.settings,
                "seconds": self.seconds}

    def markdown(self) -> str:
        head = "| " + " | ".join(self.columns) + " |"
        rule = "|" + "|".join("---" for _ in self.columns) + "|"
        body = ["| " + " | ".join(_fmt(row.get(c, "")) for c in self.columns) + " |"
                for row in self.rows]
        return "\n".join([head, rule, *body])


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e-2 and value != 0 else f"{value:.3f}"
    return str(value)


def mean_std(values: list[float]) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def pm(values: list[float], scale: float = 1.0, digits: int = 1) -> str:
    """'mean ± std' text, e.g. accuracies in percent."""
    mean, std = mean_std(values)
    return f"{mean * scale:.{digits}f} ± {std * scale:.{digits}f}"


def progress(total: int, description: str, enabled: bool):
    return tqdm(total=total, desc=description, unit="run", disable=not enabled, leave=False,
                dynamic_ncols=True)


def ensure_dir(path) -> Path:
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    return directory
