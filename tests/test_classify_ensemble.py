"""The text classifiers' ensemble: N classes, the stacking regression fitted from its maths,
the rule chosen on validation by cross-validation, and the best recipe that builds it."""

import json

import pytest
import torch
from click.testing import CliRunner

import gatedrnn
from gatedrnn.classify.ensemble import (
    Ensemble,
    choose_rule,
    combine_scores,
    fit_stack,
)
from gatedrnn.cli import main
from test_classify import CUES, questions, write_csv


def log_probabilities(members: int, n: int, classes: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(members, n, classes, generator=generator).log_softmax(-1)


def test_the_stack_over_two_classes_is_the_logistic_regression_over_log_odds():
    from sklearn.linear_model import LogisticRegression

    per_member = log_probabilities(3, 400, 2)
    log_odds = (per_member[..., 1] - per_member[..., 0]).T.numpy()
    labels = torch.tensor((log_odds @ [2.0, -0.5, 0.0] + 0.3 > 0).astype(int))
    flipped = torch.rand(400, generator=torch.Generator().manual_seed(1)) < 0.15
    labels = torch.where(flipped, 1 - labels, labels)  # noise, so the optimum is finite
    weights, bias = fit_stack(per_member, labels)
    reference = LogisticRegression(C=1.0, tol=1e-10, max_iter=10_000).fit(log_odds, labels)
    assert weights == pytest.approx(reference.coef_[0].tolist(), abs=1e-4)
    assert bias[1] - bias[0] == pytest.approx(float(reference.intercept_[0]), abs=1e-4)
    # the per-class form and the two-class form of the stored stack give the same scores
    general = combine_scores(per_member, "stacked", weights, bias).log_softmax(-1)
    binary = combine_scores(per_member, "stacked", weights,
                            bias[1] - bias[0]).log_softmax(-1)
    assert torch.allclose(general, binary, atol=1e-5)


def test_the_stack_is_at_its_optimum_with_any_number_of_classes():
    per_member = log_probabilities(2, 300, 5, seed=2)
    labels = torch.randint(0, 5, (300,), generator=torch.Generator().manual_seed(3))
    weights, bias = fit_stack(per_member, labels)
    w = torch.tensor(weights, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(bias, dtype=torch.float64, requires_grad=True)
    z = torch.einsum("m,mnc->nc", w, per_member.double()) + b
    loss = torch.nn.functional.cross_entropy(z, labels, reduction="sum") + 0.5 * w.pow(2).sum()
    loss.backward()
    assert w.grad.abs().max() < 1e-4 and b.grad.abs().max() < 1e-4
    assert sum(bias) == pytest.approx(0.0, abs=1e-9)  # stored centred


def test_validation_chooses_the_stack_when_averaging_would_let_a_loud_member_win():
    generator = torch.Generator().manual_seed(4)
    labels = torch.randint(0, 3, (600,), generator=generator)
    quiet_but_right = 0.05 * torch.nn.functional.one_hot(labels, 3).float()
    loud_noise = 5 * torch.randn(600, 3, generator=generator)
    per_member = torch.stack([quiet_but_right.log_softmax(-1), loud_noise.log_softmax(-1)])
    chosen = choose_rule(per_member, labels.tolist())
    assert chosen["accuracy"]["log-odds"] < 0.5  # the noise decides an average
    assert chosen["chosen"] == "stacked" and chosen["accuracy"]["stacked"] > 0.95
    assert chosen["folds"] == 5 and chosen["stacked_scores"].shape == (600, 3)


def test_an_ensemble_refuses_members_that_disagree_on_classes_or_take_several_labels():
    class Member:
        def __init__(self, labels, multi_label=False):
            self.labels, self.source, self.multi_label = labels, str(labels), multi_label

    with pytest.raises(ValueError, match="cannot be averaged"):
        Ensemble([Member(["a", "b"]), Member(["a", "c"])])
    with pytest.raises(ValueError, match="several labels per text"):
        Ensemble([Member(["a", "b"], multi_label=True)])
    with pytest.raises(ValueError, match="one bias per class"):
        Ensemble([Member(["a", "b", "c"])], "stacked", [1.0], 0.5)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_the_best_recipe_builds_an_ensemble_that_loads_serves_and_explains(tmp_path):
    from fastapi.testclient import TestClient

    from gatedrnn.classify.building import run_recipe
    from gatedrnn.export import export_onnx
    from gatedrnn.train.checkpoint import CheckpointError
    from gatedrnn.serve.app import build

    train = write_csv(tmp_path / "train.csv", questions(25, 21))
    test = write_csv(tmp_path / "test.csv", questions(6, 22))
    out = tmp_path / "best"
    report = run_recipe("best", train, out, test=test, show_progress=False, log=lambda m: None)
    board = report["leaderboard"]
    assert list(board) == ["linear", "bilstm", "bigru", "bilstm@1", "bigru@1", "ensemble"]
    assert board["ensemble"]["members"] == list(board)[:5]
    assert board["ensemble"]["rule"] in ("mean", "log-odds", "stacked")
    seeds = [json.loads((out / "candidates" / c / "best" / "config.json").read_text())
             ["fit"]["seed"] for c in ("bilstm", "bilstm@1")]
    assert seeds == [0, 1]
    assert report["chosen"] == "ensemble"  # kept in OUT/best, its members named from there
    kept_in_out = gatedrnn.load(out)
    assert isinstance(kept_in_out, Ensemble) and len(kept_in_out.members) == 5
    # an ensemble written elsewhere loads like any checkpoint too
    from gatedrnn.classify.ensemble import save_ensemble
    built = json.loads((out / "candidates" / "ensemble" / "config.json").read_text())
    assert built["labels"] == sorted(CUES) and built["calibration"]["temperature"] > 0
    kept = save_ensemble(tmp_path / "kept", [out / "candidates" / c / "best"
                                             for c in board["ensemble"]["members"]],
                         built["rule"], built["weights"], built["bias"], built["calibration"],
                         task="text-classifier", labels=built["labels"])
    model = gatedrnn.load(kept)
    assert isinstance(model, Ensemble)
    answer = model.predict(["Where is the famous river?"])[0]
    assert set(answer["probabilities"]) == set(CUES) and answer["label"] == "LOC"
    assert sum(answer["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert 0 < answer["known_tokens"] <= 1
    served = TestClient(build([kept])).post("/predict", json={"texts": ["Who wrote it?"]})
    assert set(served.json()["predictions"][0]["probabilities"]) == set(CUES)
    with pytest.raises(CheckpointError, match="ensemble of 5 checkpoints"):
        export_onnx(kept, tmp_path / "e.onnx")
    explained = CliRunner().invoke(main, ["explain", str(kept), "Who invented the engine?"])
    assert explained.exit_code == 0, explained.output


def test_a_multi_label_recipe_trains_only_the_candidates_that_learn_several_labels(tmp_path):
    from gatedrnn.classify.building import run_recipe
    from test_classify import topics

    train = write_csv(tmp_path / "train.csv", topics(60, 23), header=("text", "labels"))
    report = run_recipe("auto", train, tmp_path / "multi", multi_label=True,
                        show_progress=False, log=lambda m: None)
    board = report["leaderboard"]
    assert board["linear"] == {"skipped": "it takes one label per text"}
    assert "ensemble" not in board
    assert all("valid_micro_f1" in board[c] for c in ("bilstm", "bigru"))
    assert report["chosen"] in ("bilstm", "bigru") and "micro-F1" in report["why"]
    config = json.loads((tmp_path / "multi" / "best" / "config.json").read_text())
    assert config["multi_label"] and len(config["thresholds"]) == 3
