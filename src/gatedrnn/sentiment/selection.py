"""Which way of building the final ensemble to trust, decided on the validation split alone.

The pipeline can search every combination of its models under every rule and keep the one
validation scores highest, or stack all of its models at once (a logistic regression over
their log-odds). The search's winning score is optimistic: out of hundreds of candidates
within a few tenths of a point of each other on 2,500 reviews, the top one is partly the one
validation's noise favours. Nested cross-validation measures each procedure on reviews it
did not use: validation is cut into folds; for each, the procedure is run on the other folds
(the search choosing its combination there, the stack fitting its weights there) and what it
produced is scored on the held-out fold. The procedure with the higher nested score is the
one whose result the pipeline reports as final. Test is never read here.

Every fold count is capped by the smaller class's count on the reviews split, so a small
validation split (a fixture, a --limit run) still cross-validates (with fewer folds).
"""

from __future__ import annotations

import itertools

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict, cross_val_score

PROCEDURES = ("search", "stack-all")
# How an ensemble's members are combined: their probabilities averaged, their log-odds
# averaged (a confident member counts for more), or a logistic regression over their log-odds
# fitted on the validation split (weights per member; its validation accuracy is that of
# 10-fold cross-validation, so it is chosen on reviews it was not fitted on).
RULES = ("mean", "log-odds", "stacked")


def stacker() -> LogisticRegression:
    """The stacking rule's regression over the members' log-odds. Newton's method reaches the
    regularised optimum that the default solver (lbfgs) stops near, in far less time on a
    few thousand reviews: the nested search fits thousands of them."""
    return LogisticRegression(C=1.0, solver="newton-cholesky")


def _folds(labels: np.ndarray, wanted: int, random_state: int) -> StratifiedKFold:
    """``wanted`` stratified folds, fewer if a class has fewer reviews than that (at least 2)."""
    smallest = int(np.bincount(np.asarray(labels, dtype=int)).min()) if len(labels) else 0
    if smallest < 2:
        raise ValueError(f"cross-validation needs two reviews of each class or more, got "
                         f"{np.bincount(np.asarray(labels, dtype=int)).tolist()} per class: "
                         "use a larger validation split")
    return StratifiedKFold(min(wanted, smallest), shuffle=True, random_state=random_state)


def stack_accuracy(features: np.ndarray, labels: np.ndarray, folds: int = 10) -> float:
    """The stacking rule's validation accuracy: cross-validated, on reviews it was not
    fitted on (the same folds for every candidate)."""
    split = _folds(labels, folds, 0)
    return float(cross_val_score(stacker(), features, labels, cv=split).mean())


def stack_validation_scores(features: np.ndarray, labels: np.ndarray,
                            folds: int = 10) -> np.ndarray:
    """The stack's log-odds on each validation review from a regression fitted on the other
    folds (the folds of stack_accuracy): what a temperature is fitted on, since the stack's
    own fit has seen every validation review."""
    split = _folds(labels, folds, 0)
    return cross_val_predict(stacker(), features, labels, cv=split, method="decision_function")


def combine(rule: str, logits: np.ndarray, fit_logits: np.ndarray | None = None,
            fit_labels: np.ndarray | None = None) -> np.ndarray:
    """Labels from the members' log-odds (reviews × members) combined by ``rule``; "stacked"
    is fitted on (fit_logits, fit_labels)."""
    if rule == "mean":  # probabilities averaged: positive where the mean exceeds one half
        return (1 / (1 + np.exp(-logits))).mean(1) > 0.5
    if rule == "log-odds":
        return logits.mean(1) > 0
    return stacker().fit(fit_logits, fit_labels).predict(logits).astype(bool)


def _search(logits: np.ndarray, labels: np.ndarray, inner_folds: int) -> tuple[str, tuple]:
    """The (rule, members) the pipeline's search keeps on these reviews: the highest accuracy,
    stacking scored by cross-validation, the first of equals in the pipeline's order."""
    best, best_score = None, -1.0
    every_subset = [members for size in range(2, logits.shape[1] + 1)
                    for members in itertools.combinations(range(logits.shape[1]), size)]
    for rule in RULES:
        for members in every_subset:
            chosen = logits[:, members]
            if rule == "stacked":
                score = stack_accuracy(chosen, labels, inner_folds)
            else:
                score = float((combine(rule, chosen) == labels).mean())
            if score > best_score:
                best, best_score = (rule, members), score
    return best


def nested_estimates(logits: np.ndarray, labels: np.ndarray, folds: int = 5,
                     inner_folds: int = 10) -> dict:
    """Each procedure's accuracy by nested cross-validation on (logits: reviews × models of
    validation log-odds, labels), and which one scores higher ("chosen"; ties go to
    stack-all, the one that chooses nothing)."""
    if logits.shape[1] < 2:
        raise ValueError("nested_estimates needs two models or more to combine")
    correct = {procedure: 0 for procedure in PROCEDURES}
    outer = _folds(labels, folds, 1)
    for fit, held in outer.split(logits, labels):
        rule, members = _search(logits[fit], labels[fit], inner_folds)
        found = combine(rule, logits[held][:, members], logits[fit][:, members], labels[fit])
        correct["search"] += int((found == labels[held]).sum())
        stacked = combine("stacked", logits[held], logits[fit], labels[fit])
        correct["stack-all"] += int((stacked == labels[held]).sum())
    estimates = {procedure: n / len(labels) for procedure, n in correct.items()}
    chosen = "search" if estimates["search"] > estimates["stack-all"] else "stack-all"
    return {**estimates, "chosen": chosen, "folds": outer.get_n_splits()}


def nested_rule_estimates(logits: np.ndarray, labels: np.ndarray, folds: int = 5) -> dict:
    """Each rule over every model, scored on held-out validation folds (the stack fitted on
    the others), and the best ("chosen"; ties to the earlier rule in RULES): how a pool of
    models is combined when nothing is searched but the rule."""
    correct = {rule: 0 for rule in RULES}
    split = _folds(labels, folds, 1)
    for fit, held in split.split(logits, labels):
        for rule in RULES:
            found = combine(rule, logits[held], logits[fit], labels[fit])
            correct[rule] += int((found == labels[held]).sum())
    estimates = {rule: n / len(labels) for rule, n in correct.items()}
    chosen = max(RULES, key=lambda rule: (estimates[rule], -RULES.index(rule)))
    return {**estimates, "chosen": chosen, "folds": split.get_n_splits()}
