"""Several text classifiers read as one model: the rules that combine their scores, the
stacking regression fitted on validation, and the ensemble directory that stores a combination
(and its temperature) like a checkpoint. Any number of classes; the members may be of any
kind (recurrent, linear, n-gram, ...), each with its own vocabulary and tokenizer."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import torch

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
# ... and with more than two classes each log-probability stays above log(1e-7)
LOG_PROBABILITY_FLOOR = math.log(1e-7)


class Ensemble:
    """Several classifiers read as one model.

    Each member keeps its own vocabulary, so checkpoints trained differently (another preset,
    another kind, pretrained vectors) combine freely. ``rule`` combines them: "mean" averages
    their probabilities, "log-odds" their log-probabilities (a confident member counts for
    more), "stacked" weighs each member's log-probabilities by ``weights`` and adds ``bias``
    (one per class; two classes may give one number, the positive class's, as a logistic
    regression over the members' log-odds), fitted on validation by ``fit_stack``.

    Calibrated as a whole (``temperature`` set: an ensemble directory): softmax(combined raw
    scores / temperature). Without a temperature (checkpoints listed on the command line) the
    members' own calibrated probabilities are averaged.
    """

    def __init__(self, members: list[Predictor], rule: str = "mean",
                 weights: list[float] | None = None, bias: float | list[float] = 0.0,
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
        for member in members:
            if getattr(member, "multi_label", False):
                raise ValueError(f"{member.source} gives several labels per text: an ensemble "
                                 "combines classifiers of one label per text")
        if rule == "stacked":
            per_class = isinstance(bias, (list, tuple))
            if (weights is None or len(weights) != len(members)
                    or (per_class and len(bias) != len(labels))
                    or (not per_class and len(labels) != 2)):
                raise ValueError(
                    f"a stacked ensemble needs one weight per member ({len(members)}) and one "
                    f"bias per class ({len(labels)}; one number with two classes), got weights "
                    f"{weights} and bias {bias}")
        if rule != "mean" and temperature is None:
            temperature = 1.0  # only "mean" has a member-calibrated reading
        self.members = members
        self.labels = labels
        self.rule = rule
        self.weights = None if weights is None else [float(w) for w in weights]
        self.bias = ([float(b) for b in bias] if isinstance(bias, (list, tuple))
                     else float(bias))
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

    def member_scores(self, texts: list[str], batch_size: int = 64, **options) -> torch.Tensor:
        """(members, N, classes): each member's raw log-probabilities."""
        return torch.stack([m.scores(texts, batch_size, **options) for m in self.members])

    def scores(self, texts: list[str], batch_size: int = 64, **options) -> torch.Tensor:
        """(N, classes) the members' raw scores combined by the rule (before the temperature)."""
        return combine_scores(self.member_scores(texts, batch_size, **options), self.rule,
                              self.weights, self.bias)

    def probabilities(self, texts: list[str], batch_size: int = 64, **options) -> torch.Tensor:
        if self.temperature is None:  # no fitted temperature: the members' own, averaged
            return torch.stack([m.probabilities(texts, batch_size, **options)
                                for m in self.members]).mean(0)
        return calibrated_probabilities(self.scores(texts, batch_size, **options),
                                        self.temperature)

    def known_shares(self, texts: list[str]) -> list[float | None]:
        """Each text's share of known tokens, averaged over the members that have a
        vocabulary (None where none has)."""
        shares = [m.known_shares(texts) for m in self.members if hasattr(m, "known_shares")]
        shares = [[s for s in column if s is not None] for column in zip(*shares)]
        return ([sum(c) / len(c) if c else None for c in shares] if shares
                else [None] * len(texts))

    def predict(self, texts: list[str] | str, batch_size: int = 64,
                min_confidence: float | None = None) -> list[dict]:
        return predictions(self, texts, batch_size, min_confidence)


def combine_scores(per_member: torch.Tensor, rule: str, weights: list[float] | None = None,
                   bias: float | list[float] = 0.0) -> torch.Tensor:
    """(members, N, classes) raw log-probabilities → the ensemble's (N, classes) scores."""
    if rule == "mean":
        return per_member.exp().mean(0).clamp_min(1e-38).log()
    if rule == "log-odds":
        return per_member.mean(0)
    if isinstance(bias, (list, tuple)):  # z_c = sum_m w_m log p_m(c) + b_c
        floored = per_member.double().clamp_min(LOG_PROBABILITY_FLOOR)
        z = torch.einsum("m,mnc->nc", torch.tensor(weights, dtype=torch.float64), floored)
        return (z + torch.tensor(bias, dtype=torch.float64)).float()
    # two classes, the regression over log-odds (clamped as where its weights were fitted)
    log_odds = (per_member[..., 1] - per_member[..., 0]).double().clamp(-LOG_ODDS_LIMIT,
                                                                        LOG_ODDS_LIMIT)
    z = torch.tensor(weights, dtype=torch.float64) @ log_odds + bias
    return torch.stack([torch.zeros_like(z), z], 1).float()


def fit_stack(per_member: torch.Tensor, labels: torch.Tensor,
              l2: float = 1.0) -> tuple[list[float], list[float]]:
    """The stacked rule's (weights, bias) on (members, N, classes) log-probabilities and their
    labels: a weight per member and a bias per class minimising the summed negative
    log-likelihood of softmax(sum_m w_m log p_m + b) plus l2/2 * |w|^2 (the penalty of
    scikit-learn's logistic regression at C = 1/l2; the bias is not penalised). Convex in
    (w, b): L-BFGS from the plain log-odds mean (w = 1/members, b = 0) reaches the optimum."""
    floored = per_member.double().clamp_min(LOG_PROBABILITY_FLOOR)
    members, _, classes = floored.shape
    weights = torch.full((members,), 1.0 / members, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(classes, dtype=torch.float64, requires_grad=True)
    target = torch.as_tensor(labels, dtype=torch.long)
    optimiser = torch.optim.LBFGS([weights, bias], lr=1.0, max_iter=200,
                                  tolerance_grad=1e-9, tolerance_change=1e-12,
                                  line_search_fn="strong_wolfe")

    def objective():
        optimiser.zero_grad()
        z = torch.einsum("m,mnc->nc", weights, floored) + bias
        loss = (torch.nn.functional.cross_entropy(z, target, reduction="sum")
                + 0.5 * l2 * weights.pow(2).sum())
        loss.backward()
        return loss

    optimiser.step(objective)
    centred = bias.detach() - bias.detach().mean()  # softmax ignores a shift; store the centred
    return weights.detach().tolist(), centred.tolist()


def save_ensemble(directory: str | Path, members: list[str | Path], rule: str = "mean",
                  weights: list[float] | None = None, bias: float | list[float] = 0.0,
                  calibration: dict | None = None, extra: dict | None = None, *,
                  task: str = TASK, labels: list[str] | None = None) -> Path:
    """Write an ensemble directory (config.json only: the members stay where they are, named
    relative to it when they can be) that loads like one checkpoint of ``task``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    names = []
    for member in members:
        resolved = resolve_checkpoint(member).resolve()
        names.append(os.path.relpath(resolved, directory.resolve()))
    config = {"format": checkpoint.FORMAT, "version": checkpoint.VERSION, "task": task,
              "model_type": "ensemble", "labels": list(labels) if labels else None,
              "members": names, "rule": rule, "weights": weights, "bias": bias,
              "calibration": calibration, **(extra or {})}
    loaded = Ensemble.load_directory(directory, json.loads(json.dumps(config)))  # refuse a
    config["labels"] = list(loaded.labels)                                      # broken one
    checkpoint.write_json_atomic(directory / "config.json", config)
    return directory


def choose_rule(per_member: torch.Tensor, labels: list[int], folds: int = 5,
                seed: int = 0) -> dict:
    """Each rule's validation accuracy over (members, N, classes) log-probabilities, and the
    rule to keep ("chosen"; ties go to the earlier rule in RULES). "mean" and "log-odds" fit
    nothing, so their accuracy is read directly; the stack's is cross-validated (fitted on the
    other folds, scored on each held-out fold), so it is not chosen for having seen the
    examples it is scored on. ``stacked_scores``: those held-out scores, on which a temperature
    for the stack can be fitted."""
    from sklearn.model_selection import StratifiedKFold

    target = torch.as_tensor(labels, dtype=torch.long)
    estimates = {rule: float((combine_scores(per_member, rule).argmax(1) == target)
                             .float().mean()) for rule in ("mean", "log-odds")}
    smallest = int(torch.bincount(target).min()) if len(target) else 0
    record = {"folds": None}
    if smallest >= 2:  # a stratified fold needs two examples of each class
        split = StratifiedKFold(min(folds, smallest), shuffle=True, random_state=seed)
        held_out = torch.zeros(per_member.shape[1:])
        for fit, held in split.split(target.numpy(), target.numpy()):
            weights, bias = fit_stack(per_member[:, fit], target[fit])
            held_out[held] = combine_scores(per_member[:, held], "stacked", weights, bias)
        estimates["stacked"] = float((held_out.argmax(1) == target).float().mean())
        record = {"folds": split.get_n_splits(), "stacked_scores": held_out}
    chosen = max(estimates, key=lambda rule: (estimates[rule], -RULES.index(rule)))
    return {"accuracy": estimates, "chosen": chosen, **record}


def build_ensemble(directory: str | Path, members: list[str | Path], texts: list[str],
                   labels: list[int], *, task: str = TASK, extra: dict | None = None,
                   log=print) -> dict:
    """Combine the checkpoints ``members`` into an ensemble directory, the rule chosen on the
    validation examples (texts, labels) by ``choose_rule``, the stack (when chosen) fitted on
    all of them, and a temperature for the whole fitted on scores it did not see (the stack's
    held-out ones). Returns the record stored in its config.json as ``selection``, and the
    saved ensemble's raw scores on those examples (what loading it would compute again)."""
    from ..train.calibration import fit_and_report

    loaded = [Predictor.load(m, calibrated=False) for m in members]
    ensemble = Ensemble(loaded, "log-odds")  # checks that the members agree on their labels
    per_member = ensemble.member_scores(texts)
    target = torch.as_tensor(labels, dtype=torch.long)
    chosen = choose_rule(per_member, labels)
    rule, weights, bias = chosen["chosen"], None, 0.0
    if rule == "stacked":
        weights, bias = fit_stack(per_member, target)
        scores = chosen["stacked_scores"]
    else:
        scores = combine_scores(per_member, rule)
    calibration = {**fit_and_report(scores, target), "split": "validation"}
    selection = {"rule": rule, "validation_accuracy": chosen["accuracy"],
                 "folds": chosen["folds"], "examples": len(texts)}
    save_ensemble(directory, members, rule, weights, bias, calibration,
                  {**(extra or {}), "selection": selection}, task=task, labels=ensemble.labels)
    log(f"ensemble of {len(members)}: rule {rule} chosen on {len(texts):,} validation examples "
        f"(" + ", ".join(f"{r} {a:.2%}" for r, a in chosen["accuracy"].items())
        + (f"; the stack cross-validated in {chosen['folds']} folds" if chosen["folds"] else "")
        + f"), temperature {calibration['temperature']:.3f}")
    return selection, combine_scores(per_member, rule, weights, bias)
