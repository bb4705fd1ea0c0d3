"""Checkpoints written by an older gatedrnn (tests/fixtures/checkpoints, made before the task
registry by tests/fixtures/make_old_checkpoints.py) still load, predict, serve and export, and
give the predictions that version gave."""

import json
import shutil
from pathlib import Path

import pytest
import torch

import gatedrnn

FIXTURES = Path(__file__).parent / "fixtures" / "checkpoints"
RECORD = json.loads((FIXTURES / "expected.json").read_text(encoding="utf-8"))
EXPECTED = RECORD["expected"]
SENTIMENT = ["sentiment-recurrent", "sentiment-ngram", "sentiment-docvec", "sentiment-ensemble"]
TAGGERS = ["tagger", "tagger-ensemble"]


def same_predictions(got: list[dict], expected: list[dict]) -> None:
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g["label"] == e["label"] and g["empty"] == e["empty"]
        for label, p in e["probabilities"].items():
            assert g["probabilities"][label] == pytest.approx(p, abs=1e-5)


@pytest.mark.parametrize("name", SENTIMENT)
def test_old_sentiment_checkpoints_predict_as_they_did(name):
    model = gatedrnn.load(FIXTURES / name)
    same_predictions(model.predict(RECORD["texts"]), EXPECTED[name])


@pytest.mark.parametrize("name", TAGGERS)
def test_old_tagger_checkpoints_tag_as_they_did(name):
    tagged = gatedrnn.load(FIXTURES / name).tag(RECORD["sentences"])
    for got, expected in zip(tagged, EXPECTED[name]):
        assert got["upos"] == expected["upos"] and got["xpos"] == expected["xpos"]
        assert got["upos_confidence"] == pytest.approx(expected["upos_confidence"], abs=1e-5)


def test_old_language_model_samples_and_scores_as_it_did():
    from gatedrnn.lm import evaluate_lm, sample

    path = FIXTURES / "lm-forward"
    expected = EXPECTED["lm-forward"]
    assert sample(path, RECORD["prompt"], words=8, seed=0) == expected["sample"]
    perplexity = evaluate_lm(path, texts=RECORD["texts"][:3], show_progress=False)["perplexity"]
    assert perplexity == pytest.approx(expected["perplexity"], rel=1e-5)
    # the registry loads it like any checkpoint
    loaded = gatedrnn.load(path)
    assert loaded.sample(RECORD["prompt"], words=8, seed=0) == expected["sample"]
    assert loaded.perplexity(RECORD["texts"][:3])["perplexity"] == pytest.approx(
        expected["perplexity"], rel=1e-5)


def test_old_checkpoints_serve_side_by_side():
    from fastapi.testclient import TestClient

    from gatedrnn.serve.app import build

    client = TestClient(build([FIXTURES / "sentiment-ensemble", FIXTURES / "tagger"]))
    health = client.get("/health").json()
    assert [m["task"] for m in health["models"]] == ["sentiment", "tagger"]
    answer = client.post("/predict", json={"texts": RECORD["texts"][:2]}).json()
    same_predictions(answer["predictions"], EXPECTED["sentiment-ensemble"][:2])
    tagged = client.post("/tag", json={"tokens": RECORD["sentences"]}).json()
    assert [s["upos"] for s in tagged["sentences"]] == [s["upos"] for s in EXPECTED["tagger"]]


@pytest.mark.parametrize("name", ["sentiment-recurrent", "tagger"])
def test_old_checkpoints_export_to_onnx_with_parity(name, tmp_path):
    pytest.importorskip("onnxruntime")
    from gatedrnn.export import check_parity, export_onnx

    info = export_onnx(FIXTURES / name, tmp_path / "model.onnx")
    assert check_parity(info["path"], info["graph"], [info["example"]]) < 1e-4


def test_an_old_ensemble_directory_still_finds_its_members_after_a_move(tmp_path):
    # members are named relative to the ensemble: the tree moves as a whole
    moved = tmp_path / "moved"
    shutil.copytree(FIXTURES, moved)
    same_predictions(gatedrnn.load(moved / "sentiment-ensemble").predict(RECORD["texts"]),
                     EXPECTED["sentiment-ensemble"])
    assert torch.is_tensor(gatedrnn.load(moved / "tagger-ensemble").probabilities(
        RECORD["sentences"])[0][0])
