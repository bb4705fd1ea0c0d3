"""Calibration measures and temperature scaling (gatedrnn.train.calibration), on synthetic
scores whose right answers are known."""

import math

import pytest
import torch

from gatedrnn.train import calibration


def overconfident_model(n=4000, classes=3, sharpen=3.0, seed=0):
    """Labels drawn from softmax(z), and a model that reports softmax(sharpen · z): calibrated
    exactly at temperature ``sharpen``."""
    generator = torch.Generator().manual_seed(seed)
    true_logits = torch.randn(n, classes, generator=generator) * 1.5
    labels = torch.multinomial(torch.softmax(true_logits, 1), 1, generator=generator).squeeze(1)
    return sharpen * true_logits, labels


def test_temperature_recovers_the_sharpening_and_lowers_the_nll():
    logits, labels = overconfident_model()
    temperature = calibration.fit_temperature(logits, labels)
    assert temperature == pytest.approx(3.0, rel=0.1)
    assert calibration.nll(logits, labels, temperature) < calibration.nll(logits, labels) - 0.1
    before = calibration.expected_calibration_error(torch.softmax(logits, 1), labels)
    after = calibration.expected_calibration_error(torch.softmax(logits / temperature, 1), labels)
    assert before > 0.1 and after < 0.03


def test_temperature_leaves_every_prediction_unchanged():
    logits, labels = overconfident_model(classes=5)
    temperature = calibration.fit_temperature(logits, labels)
    assert torch.equal((logits / temperature).argmax(1), logits.argmax(1))


def test_temperature_is_the_minimum_of_the_nll():
    logits, labels = overconfident_model(n=500, seed=1)
    temperature = calibration.fit_temperature(logits, labels)
    best = calibration.nll(logits, labels, temperature)
    for factor in (0.9, 0.99, 1.01, 1.1):
        assert calibration.nll(logits, labels, temperature * factor) >= best - 1e-12


def test_an_underconfident_model_gets_a_temperature_below_one():
    logits, labels = overconfident_model(sharpen=0.5)
    assert calibration.fit_temperature(logits, labels) == pytest.approx(0.5, rel=0.1)


def test_ece_by_hand():
    # two bins used: confidence 0.9 (right 2 of 4) and 0.6 (right 1 of 2)
    probabilities = torch.tensor([[0.9, 0.1]] * 4 + [[0.4, 0.6]] * 2)
    labels = torch.tensor([0, 0, 1, 1, 1, 0])
    expected = (4 * abs(0.5 - 0.9) + 2 * abs(0.5 - 0.6)) / 6
    assert calibration.expected_calibration_error(probabilities, labels) == pytest.approx(expected)
    bins = calibration.reliability_bins(probabilities, labels)
    assert [(b["count"], round(b["confidence"], 6), b["accuracy"]) for b in bins] == [
        (2, 0.6, 0.5), (4, 0.9, 0.5)]


def test_a_calibrated_model_has_a_small_ece():
    logits, labels = overconfident_model(n=20000, sharpen=1.0)
    assert calibration.expected_calibration_error(torch.softmax(logits, 1), labels) < 0.02


def test_brier_score_by_hand():
    probabilities = torch.tensor([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])
    labels = torch.tensor([0, 0, 0])
    assert calibration.brier_score(probabilities, labels) == pytest.approx((0 + 0.5 + 2) / 3)


def test_accuracy_coverage_keeps_the_most_confident():
    probabilities = torch.tensor([[0.95, 0.05], [0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.6, 0.4],
                                  [0.55, 0.45], [0.52, 0.48], [0.51, 0.49], [0.9, 0.1],
                                  [0.99, 0.01]])
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1, 0, 0])
    rows = calibration.accuracy_coverage(probabilities, labels, (1.0, 0.5))
    assert rows[0] == {"coverage": 1.0, "examples": 10, "accuracy": 0.6,
                       "min_confidence": pytest.approx(0.51)}
    assert rows[1] == {"coverage": 0.5, "examples": 5, "accuracy": 1.0,
                       "min_confidence": pytest.approx(0.8)}


def test_report_holds_every_measure():
    logits, labels = overconfident_model(n=300)
    report = calibration.report(torch.softmax(logits, 1), labels)
    assert set(report) >= {"ece", "brier", "nll", "accuracy", "reliability", "accuracy_coverage"}
    assert [r["coverage"] for r in report["accuracy_coverage"]] == [1.0, 0.9, 0.8, 0.7]
    assert sum(b["count"] for b in report["reliability"]) == 300
    assert math.isfinite(report["nll"])


@pytest.mark.parametrize("scores, labels, message", [
    (torch.zeros(3, 2), torch.tensor([0, 1]), "shape"),
    (torch.zeros(2, 2), torch.tensor([0, 2]), "labels must be in 0..1"),
    (torch.zeros(3), torch.tensor([0, 1, 0]), "shape"),
])
def test_bad_shapes_and_labels_are_refused(scores, labels, message):
    with pytest.raises(ValueError, match=message):
        calibration.fit_temperature(scores, labels)


def test_fitting_on_nothing_is_refused():
    with pytest.raises(ValueError, match="at least one"):
        calibration.fit_temperature(torch.zeros(0, 2), torch.zeros(0, dtype=torch.long))


def test_a_split_without_errors_keeps_temperature_one():
    # every example right: the NLL falls without bound as T → 0, which would make every
    # future prediction "certain"; the fit declines and says why
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, -1.0]])
    labels = torch.tensor([0, 1, 0])
    assert calibration.fit_temperature(logits, labels) == 1.0
    record = calibration.fit_and_report(logits, labels)
    assert record["temperature"] == 1.0 and "cannot be fitted" in record["note"]
    # one tie is an error the fit can learn from
    tied = torch.tensor([[1.0, 1.0]])
    assert calibration.has_errors(torch.cat([logits, tied]), torch.cat([labels,
                                                                       torch.tensor([0])]))
