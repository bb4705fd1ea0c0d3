"""Several sentiment checkpoints read as one model: the rules that combine their scores, and
the ensemble directory that stores a combination (and its temperature) like a checkpoint."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import torch

from ..data import imdb
from ..train import checkpoint
from .common import TASK
from .predict import (
    Predictor,
    calibrated_probabilities,
    checkpoint_temperature,
    predictions,
    resolve_checkpoint,
)

# How an Ensemble combines its members' raw log-probabilities into its own scores.
RULES = ("mean", "log-odds", "stacked")
LOG_ODDS_LIMIT = math.log((1 - 1e-7) / 1e-7)  # the stacking regression's inputs stay within


class Ensemble:
    """Several sentiment checkpoints read as one model.

    Each member keeps its own vocabulary, so checkpoints trained differently (another preset,
    pretrained vectors, a language-model start) combine freely. ``rule`` combines them:
    "mean" averages their probabilities, "log-odds" their log-probabilities (a confident
    member counts for more), "stacked" weighs their log-odds by ``weights`` (+ ``bias``), as
    a logistic regression fitted on validation (two classes only).

    Calibrated as a whole (``temperature`` set: an ensemble directory made by
    ``gatedrnn sentiment calibrate``): softmax(combined raw scores / temperature). Without a
    temperature (checkpoints listed on the command line) the members' own calibrated
    probabilities are averaged.
    """

    def __init__(self, members: list[Predictor], rule: str = "mean",
                 weights: list[float] | None = None, bias: float = 0.0,
                 temperature: float | None = None, source: str | None = None):
        if not members:
            raise ValueError("an ensemble needs at least one checkpoint")
        if rule not in RULES:
            raise ValueError(f"unknown ensemble rule {rule!r}; choose one of {', '.join(RULES)}")
        labels = members[0].labels
        for member in members[1:]:
            if member.labels != labels:
                raise ValueError(f"{member.source} predicts {member.labels}, "
                                 f"{members[0].source} predicts {labels}: they cannot be averaged")
        if rule == "stacked" and (len(labels) != 2 or weights is None
                                  or len(weights) != len(members)):
            raise ValueError(f"a stacked ensemble needs two classes and one weight per member "
                             f"({len(members)}), got {len(labels)} classes and weights {weights}")
        if rule != "mean" and temperature is None:
            temperature = 1.0  # only "mean" has a member-calibrated reading
        self.members = members
        self.labels = labels
        self.rule = rule
        self.weights = None if weights is None else [float(w) for w in weights]
        self.bias = float(bias)
        self.temperature = temperature
        self.source = source or " + ".join(m.source for m in members)

    @classmethod
    def load(cls, paths: list[str | Path], calibrated: bool = True) -> "Ensemble":
        """The checkpoints at ``paths``, their probabilities averaged."""
        return cls([Predictor.load(p, calibrated) for p in paths])

    @classmethod
    def load_directory(cls, directory: Path, config: dict, calibrated: bool = True) -> "Ensemble":
        """An ensemble directory: config.json names the members (paths relative to it), the
        rule, its weights and the temperature fitted for the whole."""
        members = []
        for name in config.get("members") or []:
            path = Path(name) if Path(name).is_absolute() else directory / name
            try:
                members.append(Predictor.load(path, calibrated=False))
            except checkpoint.CheckpointError as exc:
                raise checkpoint.CheckpointError(
                    f"{directory} is an ensemble whose member {name} cannot be loaded: {exc}"
                ) from exc
        if not members:
            raise checkpoint.CheckpointError(f"{directory}/config.json names no members")
        return cls(members, config.get("rule", "mean"), config.get("weights"),
                   config.get("bias", 0.0), checkpoint_temperature(config) if calibrated else 1.0,
                   source=str(directory))

    def scores(self, texts: list[str], batch_size: int = 64, **options) -> torch.Tensor:
        """(N, classes) the members' raw scores combined by the rule (before the temperature)."""
        per_member = torch.stack([m.scores(texts, batch_size, **options)
                                  for m in self.members])
        return combine_scores(per_member, self.rule, self.weights, self.bias)

    def probabilities(self, texts: list[str], batch_size: int = 64, **options) -> torch.Tensor:
        if self.temperature is None:  # no fitted temperature: the members' own, averaged
            return torch.stack([m.probabilities(texts, batch_size, **options)
                                for m in self.members]).mean(0)
        return calibrated_probabilities(self.scores(texts, batch_size, **options),
                                        self.temperature)

    def predict(self, texts: list[str] | str, batch_size: int = 64,
                min_confidence: float | None = None) -> list[dict]:
        return predictions(self, texts, batch_size, min_confidence)


def combine_scores(per_member: torch.Tensor, rule: str, weights: list[float] | None = None,
                   bias: float = 0.0) -> torch.Tensor:
    """(members, N, classes) raw log-probabilities → the ensemble's (N, classes) scores."""
    if rule == "mean":
        return per_member.exp().mean(0).clamp_min(1e-38).log()
    if rule == "log-odds":
        return per_member.mean(0)
    # clamped as where the weights are fitted (probabilities kept within 1e-7 of 0 and 1)
    log_odds = (per_member[..., 1] - per_member[..., 0]).double().clamp(-LOG_ODDS_LIMIT,
                                                                        LOG_ODDS_LIMIT)
    z = torch.tensor(weights, dtype=torch.float64) @ log_odds + bias
    return torch.stack([torch.zeros_like(z), z], 1).float()


def save_ensemble(directory: str | Path, members: list[str | Path], rule: str = "mean",
                  weights: list[float] | None = None, bias: float = 0.0,
                  calibration: dict | None = None, extra: dict | None = None) -> Path:
    """Write an ensemble directory (config.json only: the members stay where they are, named
    relative to it when they can be) that loads like one checkpoint."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    names = []
    for member in members:
        resolved = resolve_checkpoint(member).resolve()
        names.append(os.path.relpath(resolved, directory.resolve()))
    config = {"format": checkpoint.FORMAT, "version": checkpoint.VERSION, "task": TASK,
              "model_type": "ensemble", "labels": list(imdb.LABELS), "members": names,
              "rule": rule, "weights": weights, "bias": bias, "calibration": calibration,
              **(extra or {})}
    Ensemble.load_directory(directory, json.loads(json.dumps(config)))  # refuse a broken one
    checkpoint.write_json_atomic(directory / "config.json", config)
    return directory
