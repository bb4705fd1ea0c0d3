"""Scoring a text classifier on labelled texts (accuracy, macro-F1, per-class figures, the
confusion matrix, calibration) and fitting its temperature."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from ..train import checkpoint
from .predict import Predictor, calibrated_probabilities, resolve_checkpoint


def evaluate(predictor: Predictor, texts: list[str], labels: list[int],
             batch_size: int = 128, crops: int = 1, crop_length: int = 400,
             keep_raw_report: bool = False) -> dict:
    """``predictor``: a Predictor, or anything with its interface (an Ensemble).
    Accuracy, loss, macro-F1 (the mean of the classes' F1, each class counting alike),
    per-class precision/recall/F1, the confusion matrix, and calibration:
    ECE, Brier score, the reliability bins and the accuracy–coverage curve, and the raw
    scores' ECE, Brier and NLL where a temperature applies (their whole report too with
    ``keep_raw_report``, as ``calibration.raw_report``; ``crops``: see ``Predictor.scores``)."""
    from ..train import calibration

    if not texts:
        raise ValueError("nothing to evaluate: no texts")
    temperature = getattr(predictor, "temperature", None)
    scores = None
    if temperature is None:  # an ad-hoc ensemble: its members' calibrated probabilities
        probabilities = predictor.probabilities(texts, batch_size, crops=crops,
                                                crop_length=crop_length)
    else:  # one pass: the raw scores serve both the calibrated and the raw report
        scores = predictor.scores(texts, batch_size, crops=crops, crop_length=crop_length)
        probabilities = calibrated_probabilities(scores, temperature)
    target = torch.tensor(labels)
    loss = F.nll_loss(torch.log(probabilities.clamp_min(1e-12)), target).item()
    predicted = probabilities.argmax(1)
    k = len(predictor.labels)
    confusion = torch.zeros(k, k, dtype=torch.long)
    for t, p in zip(target.tolist(), predicted.tolist()):
        confusion[t, p] += 1
    per_class = {}
    for i, name in enumerate(predictor.labels):
        tp = int(confusion[i, i])
        precision = tp / max(1, int(confusion[:, i].sum()))
        recall = tp / max(1, int(confusion[i].sum()))
        f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
        per_class[name] = {"precision": precision, "recall": recall, "f1": f1,
                           "support": int(confusion[i].sum())}
    accuracy = float((predicted == target).float().mean())
    report = calibration.report(probabilities, target)
    if temperature not in (None, 1.0):  # what the raw scores would have scored
        raw = F.softmax(scores, dim=1)
        raw_report = calibration.report(raw, target)
        report["uncalibrated"] = {key: value for key, value in raw_report.items()
                                  if key in ("ece", "brier", "nll")}
        if keep_raw_report:
            report["raw_report"] = raw_report
    report["temperature"] = temperature
    macro_f1 = sum(c["f1"] for c in per_class.values()) / len(per_class)
    return {"accuracy": accuracy, "macro_f1": macro_f1, "loss": loss, "count": len(texts),
            "per_class": per_class,
            "confusion_matrix": {"labels": predictor.labels, "rows_true_cols_predicted":
                                 confusion.tolist()},
            "calibration": report, "checkpoint": predictor.source}


def calibrate(predictor: Predictor, texts: list[str], labels: list[int],
              batch_size: int = 128) -> dict:
    """Fit the predictor's temperature on (texts, labels) — the validation split — from its
    raw scores, set it, and return the record a checkpoint keeps (``calibration``)."""
    from ..train import calibration

    if not texts:
        raise ValueError("nothing to calibrate on: no texts")
    record = calibration.fit_and_report(predictor.scores(texts, batch_size),
                                        torch.tensor(labels))
    predictor.temperature = record["temperature"]
    return record


def calibrate_checkpoint(path: str | Path, texts: list[str], labels: list[int],
                         split: str = "validation") -> dict:
    """Fit the temperature of the checkpoint at ``path`` on (texts, labels) and store it in
    its config.json (atomically); returns the record."""
    directory = resolve_checkpoint(path)
    record = {**calibrate(Predictor.load(directory, calibrated=False), texts, labels),
              "split": split}
    checkpoint.update_config(directory, calibration=record)
    return record


def evaluate_multi_label(predictor: Predictor, texts: list[str], label_sets: list,
                         batch_size: int = 128) -> dict:
    """Several labels per text: subset accuracy (every class decided right), micro-F1 (over
    all class decisions), macro-F1 (the classes' F1, each counting alike) and per-class
    precision/recall/F1, the classes given where their probability reaches their threshold."""
    if not texts:
        raise ValueError("nothing to evaluate: no texts")
    probabilities = predictor.probabilities(texts, batch_size)
    decided = probabilities >= torch.tensor(predictor.thresholds)
    truth = torch.tensor([[label in labels for label in predictor.labels]
                          for labels in label_sets])
    per_class, tp_all, fp_all, fn_all = {}, 0, 0, 0
    for k, name in enumerate(predictor.labels):
        tp = int((decided[:, k] & truth[:, k]).sum())
        fp = int((decided[:, k] & ~truth[:, k]).sum())
        fn = int((~decided[:, k] & truth[:, k]).sum())
        tp_all, fp_all, fn_all = tp_all + tp, fp_all + fp, fn_all + fn
        precision, recall = tp / max(1, tp + fp), tp / max(1, tp + fn)
        per_class[name] = {"precision": precision, "recall": recall,
                           "f1": 2 * tp / max(1, 2 * tp + fp + fn),
                           "support": int(truth[:, k].sum()),
                           "threshold": predictor.thresholds[k]}
    return {"accuracy": float((decided == truth).all(1).float().mean()),
            "micro_f1": 2 * tp_all / max(1, 2 * tp_all + fp_all + fn_all),
            "macro_f1": sum(c["f1"] for c in per_class.values()) / len(per_class),
            "count": len(texts), "per_class": per_class, "multi_label": True,
            "checkpoint": predictor.source}
