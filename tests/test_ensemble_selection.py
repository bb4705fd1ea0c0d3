"""How benchmarks/ensemble_selection.py decides between the search's pick and the stack of all."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import ensemble_selection  # noqa: E402
import imdb_pipeline  # noqa: E402


def synthetic_logits(labels: np.ndarray, noises: list[float], rng) -> np.ndarray:
    """One column of log-odds per model: the label's sign plus Gaussian noise (a model of pure
    noise where the noise is infinite)."""
    sign = 2.0 * labels - 1
    return np.stack([rng.normal(size=len(labels)) if noise == np.inf
                     else sign + noise * rng.normal(size=len(labels)) for noise in noises], 1)


def test_the_nested_search_keeps_what_the_pipeline_keeps():
    rng = np.random.default_rng(0)
    labels = {"valid": rng.integers(0, 2, 300), "test": rng.integers(0, 2, 300)}
    noises = [1.0, 1.5, 2.0, np.inf]
    logits = {split: synthetic_logits(y, noises, rng) for split, y in labels.items()}
    members = {f"m{k}": {split: torch.stack([1 - torch.sigmoid(torch.tensor(z[:, k])),
                                             torch.sigmoid(torch.tensor(z[:, k]))], 1)
                         for split, z in logits.items()} for k in range(len(noises))}
    ensembles = imdb_pipeline.every_ensemble(
        members, {split: torch.tensor(y) for split, y in labels.items()})
    candidates = [(rule, names, result) for rule, table in ensembles.items()
                  for names, result in table.items()]
    rule, names, _ = max(candidates, key=lambda c: c[2]["valid"])
    found_rule, found = ensemble_selection._search(logits["valid"], labels["valid"], 10)
    assert (found_rule, " + ".join(f"m{k}" for k in found)) == (rule, names)


def test_nested_estimate_removes_the_search_s_optimism():
    # Models of pure noise: every combination is right half the time on new reviews, yet the
    # one out of 3 × 26 candidates that 150 reviews score highest scores well above half
    # there, for its luck; the nested estimate of the search sees only held-out reviews
    rng = np.random.default_rng(0)
    own_scores, nested_scores = [], []
    for _ in range(10):
        labels = rng.integers(0, 2, 150)
        logits = synthetic_logits(labels, [np.inf] * 5, rng)
        rule, members = ensemble_selection._search(logits, labels, 3)
        chosen = logits[:, members]
        if rule == "stacked":
            own = ensemble_selection.stack_accuracy(chosen, labels, 3)
        else:
            own = (ensemble_selection.combine(rule, chosen) == labels).mean()
        own_scores.append(own)
        nested_scores.append(
            ensemble_selection.nested_estimates(logits, labels, inner_folds=3)["search"])
    assert np.mean(own_scores) > 0.55
    assert abs(np.mean(nested_scores) - 0.5) < 0.025


def test_equal_procedures_go_to_the_stack_of_all():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 200)
    column = synthetic_logits(labels, [0.0], rng)
    # two copies of a perfect model: every candidate, and the stack, is right everywhere
    nested = ensemble_selection.nested_estimates(np.hstack([column, column]), labels)
    assert nested["search"] == nested["stack-all"]
    assert nested["chosen"] == "stack-all"
    assert set(nested) == {"search", "stack-all", "chosen", "folds"}


def test_one_model_is_refused():
    with pytest.raises(ValueError, match="two models or more"):
        ensemble_selection.nested_estimates(np.zeros((10, 1)), np.zeros(10, dtype=int))
