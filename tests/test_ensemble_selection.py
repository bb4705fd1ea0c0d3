"""How gatedrnn.sentiment.selection decides between the search's pick and the stack of all."""

import numpy as np
import pytest
import torch

from gatedrnn.sentiment import pipeline as imdb_pipeline
from gatedrnn.sentiment import selection as ensemble_selection


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


def test_a_small_validation_split_cross_validates_with_fewer_folds():
    """A fixture-sized split (4 reviews per class) cannot have 10 stratified folds: each
    procedure runs with as many as the smaller class allows; one review of a class is refused
    with the way out."""
    rng = np.random.default_rng(0)
    labels = np.array([0, 1] * 4)
    logits = synthetic_logits(labels, [0.5, 1.0], rng)
    assert 0 <= ensemble_selection.stack_accuracy(logits, labels) <= 1
    assert len(ensemble_selection.stack_validation_scores(logits, labels)) == len(labels)
    assert ensemble_selection.nested_estimates(logits, labels, inner_folds=10)["folds"] == 4
    assert ensemble_selection.nested_rule_estimates(logits, labels)["folds"] == 4
    with pytest.raises(ValueError, match="two reviews of each class.*larger validation split"):
        ensemble_selection.stack_accuracy(logits[:3], np.array([0, 1, 1]))
