"""Is a printed confidence a promise kept? Calibration measured, and fixed by temperature.

A classifier is calibrated when, of the predictions it makes with confidence p, a fraction p
is right. Networks trained to a low cross-entropy are often over-confident (Guo et al. 2017,
"On Calibration of Modern Neural Networks"); the cheapest fix that works is *temperature
scaling*: one scalar T divides the logits before the softmax, fitted on held-out data by
minimising the negative log-likelihood. It changes no argmax, so accuracy stays the same.

    T = fit_temperature(validation_logits, validation_labels)
    calibrated = torch.softmax(test_logits / T, dim=-1)
    report(calibrated, test_labels)  # ECE, Brier score, NLL, reliability bins, coverage curve

"Logits" here are any scores whose softmax gives the model's probabilities: log-probabilities
are logits up to a per-row constant, which the softmax ignores.
"""

from __future__ import annotations

import math

import torch

ECE_BINS = 15
COVERAGES = (1.0, 0.9, 0.8, 0.7)
# The search interval of the inverse temperature 1/T: T from 0.01 to 100.
_INVERSE_T_RANGE = (0.01, 100.0)


def nll(logits: torch.Tensor, labels: torch.Tensor, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of ``labels`` under softmax(logits / temperature)."""
    logits, labels = _checked(logits, labels)
    return float(torch.nn.functional.cross_entropy(logits.double() / temperature, labels))


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The temperature T > 0 that minimises the NLL of softmax(logits / T) on (logits, labels).

    The NLL is convex in the inverse temperature β = 1/T (a log-sum-exp of linear functions of
    β minus a linear one), so a golden-section search on log β finds its minimum to within
    1e-6 relative without gradients or a learning rate to tune.

    When every example is already predicted right, the NLL keeps falling as T → 0: the fit
    would declare every future prediction certain. That says nothing about calibration (the
    held-out set is too small or too easy), so the temperature stays 1.
    """
    logits, labels = _checked(logits, labels)
    if len(labels) == 0:
        raise ValueError("fit_temperature needs at least one example, got none")
    if not has_errors(logits, labels):
        return 1.0
    scores = logits.double()

    def loss(log_beta: float) -> float:
        return float(torch.nn.functional.cross_entropy(scores * math.exp(log_beta), labels))

    low, high = (math.log(b) for b in _INVERSE_T_RANGE)
    ratio = (math.sqrt(5) - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    loss_a, loss_b = loss(a), loss(b)
    while high - low > 1e-6:
        if loss_a < loss_b:
            high, b, loss_b = b, a, loss_a
            a = high - ratio * (high - low)
            loss_a = loss(a)
        else:
            low, a, loss_a = a, b, loss_b
            b = low + ratio * (high - low)
            loss_b = loss(b)
    return 1.0 / math.exp((low + high) / 2)


def has_errors(logits: torch.Tensor, labels: torch.Tensor) -> bool:
    """Whether a temperature can be fitted: some example is predicted wrong (a tie counts as
    wrong), so the NLL has a finite minimiser."""
    top = logits.max(1).values
    right = logits.gather(1, labels.unsqueeze(1)).squeeze(1)
    runner_up = logits.scatter(1, labels.unsqueeze(1), float("-inf")).max(1).values
    return bool(((right < top) | (right <= runner_up)).any())


def expected_calibration_error(probabilities: torch.Tensor, labels: torch.Tensor,
                               bins: int = ECE_BINS) -> float:
    """ECE: the gap between confidence and accuracy, averaged over ``bins`` equal-width bins
    of the top-class confidence, each weighted by its share of the examples."""
    return sum(b["count"] * abs(b["accuracy"] - b["confidence"])
               for b in reliability_bins(probabilities, labels, bins)) / max(1, len(labels))


def reliability_bins(probabilities: torch.Tensor, labels: torch.Tensor,
                     bins: int = ECE_BINS) -> list[dict]:
    """Per non-empty bin of top-class confidence ((lo, hi], the first [0, hi]): its bounds,
    the number of examples, their mean confidence and their accuracy."""
    probabilities, labels = _checked(probabilities, labels)
    confidence, predicted = probabilities.double().max(1)
    correct = (predicted == labels).double()
    # bin k holds (k/bins, (k+1)/bins]; a confidence of exactly 0 falls in the first
    index = (torch.ceil(confidence * bins).long() - 1).clamp(0, bins - 1)
    result = []
    for k in range(bins):
        inside = index == k
        count = int(inside.sum())
        if count:
            result.append({"low": k / bins, "high": (k + 1) / bins, "count": count,
                           "confidence": float(confidence[inside].mean()),
                           "accuracy": float(correct[inside].mean())})
    return result


def brier_score(probabilities: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean over examples of Σ_k (p_k − 1[k = label])²: 0 is perfect, 2 the worst (Brier's
    original multi-class form; for two classes it is twice the (p_pos − y)² form)."""
    probabilities, labels = _checked(probabilities, labels)
    truth = torch.nn.functional.one_hot(labels, probabilities.shape[1]).double()
    return float(((probabilities.double() - truth) ** 2).sum(1).mean())


def accuracy_coverage(probabilities: torch.Tensor, labels: torch.Tensor,
                      coverages=COVERAGES) -> list[dict]:
    """Accuracy on the most confident fraction of examples, for each coverage in ``coverages``,
    with the confidence threshold that keeps that fraction (``--min-confidence`` at that value
    labels the rest uncertain; ties at the threshold may keep a few more)."""
    probabilities, labels = _checked(probabilities, labels)
    confidence, predicted = probabilities.double().max(1)
    order = torch.argsort(confidence, descending=True, stable=True)
    correct = (predicted == labels)[order].double()
    rows = []
    for coverage in coverages:
        if not 0 < coverage <= 1:
            raise ValueError(f"coverage must be in (0, 1], got {coverage}")
        kept = max(1, round(coverage * len(labels)))
        rows.append({"coverage": coverage, "examples": kept,
                     "accuracy": float(correct[:kept].mean()),
                     "min_confidence": float(confidence[order[kept - 1]])})
    return rows


def report(probabilities: torch.Tensor, labels: torch.Tensor, bins: int = ECE_BINS) -> dict:
    """ECE, Brier score, NLL, accuracy, the reliability bins and the accuracy–coverage curve."""
    probabilities, labels = _checked(probabilities, labels)
    picked = probabilities.double().gather(1, labels.unsqueeze(1)).clamp_min(1e-300)
    return {"ece": expected_calibration_error(probabilities, labels, bins),
            "ece_bins": bins, "brier": brier_score(probabilities, labels),
            "nll": float(-picked.log().mean()),
            "accuracy": float((probabilities.argmax(1) == labels).double().mean()),
            "reliability": reliability_bins(probabilities, labels, bins),
            "accuracy_coverage": accuracy_coverage(probabilities, labels)}


def fit_and_report(logits: torch.Tensor, labels: torch.Tensor) -> dict:
    """Fit the temperature on (logits, labels) and say what it did there: the record a
    checkpoint keeps (``calibration`` in its config)."""
    temperature = fit_temperature(logits, labels)
    identifiable = has_errors(logits, labels)
    before = torch.softmax(logits.double(), dim=1)
    after = torch.softmax(logits.double() / temperature, dim=1)
    return {"temperature": temperature, "examples": len(labels),
            "nll_before": nll(logits, labels), "nll_after": nll(logits, labels, temperature),
            "ece_before": expected_calibration_error(before, labels),
            "ece_after": expected_calibration_error(after, labels),
            **({} if identifiable else {"note": "no example was predicted wrong: the "
                                        "temperature cannot be fitted, and stays 1"})}


def _checked(scores: torch.Tensor, labels) -> tuple[torch.Tensor, torch.Tensor]:
    labels = torch.as_tensor(labels, dtype=torch.long)
    if scores.dim() != 2 or scores.shape[0] != labels.shape[0]:
        raise ValueError(f"expected scores of shape (N, classes) and N labels, got "
                         f"{tuple(scores.shape)} and {tuple(labels.shape)}")
    if len(labels) and not 0 <= int(labels.min()) <= int(labels.max()) < scores.shape[1]:
        raise ValueError(f"labels must be in 0..{scores.shape[1] - 1}, got "
                         f"{int(labels.min())}..{int(labels.max())}")
    return scores, labels
