"""The HTTP API (every endpoint, error paths included), explanations, the terminal view and ONNX
export, on checkpoints trained on the test fixtures."""

import json
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
from click.testing import CliRunner
from fastapi.testclient import TestClient

from gatedrnn.analysis.explain import explain
from gatedrnn.cli import main
from gatedrnn.sentiment import Predictor
from gatedrnn.serve.app import MAX_CHARS, MAX_TEXTS, build


@pytest.fixture(scope="module")
def trained_tagger_dir(ud_treebank, tmp_path_factory):
    from gatedrnn.tagging import train
    out = tmp_path_factory.mktemp("serve_tagger")
    train(ud_treebank, "tiny", out, overrides={"epochs": 2}, show_progress=False,
          log=lambda m: None)
    return out


@pytest.fixture(scope="module")
def client(trained_sentiment, trained_tagger_dir):
    return TestClient(build([trained_sentiment, trained_tagger_dir]))


def test_health_lists_the_models(client):
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert sorted(m["task"] for m in body["models"]) == ["sentiment", "tagger"]


def test_predict_returns_labels_and_probabilities(client, trained_sentiment):
    response = client.post("/predict", json={"texts": ["a great wonderful film", "   "]})
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert len(predictions) == 2
    for p in predictions:
        assert p["label"] in ("neg", "pos")
        assert sum(p["probabilities"].values()) == pytest.approx(1, abs=1e-5)
    assert predictions[1]["empty"] is True
    expected = Predictor.load(trained_sentiment).predict(["a great wonderful film"])[0]
    assert predictions[0]["confidence"] == pytest.approx(expected["confidence"], abs=1e-6)


@pytest.mark.parametrize("body, status, message", [
    ({"texts": []}, 422, "at least one"),
    ({"texts": ["x"] * (MAX_TEXTS + 1)}, 413, "limit"),
    ({"texts": ["x" * (MAX_CHARS + 1)]}, 413, "characters"),
    ({"texts": "not a list"}, 422, "invalid request"),
    ({"text": "wrong field"}, 422, "texts"),
    ({"texts": ["fine"], "model": "nope"}, 404, "no model named 'nope' answers /predict"),
])
def test_predict_errors_are_json_with_a_reason(client, body, status, message):
    response = client.post("/predict", json=body)
    assert response.status_code == status
    assert message in response.json()["error"]


def test_malformed_json_is_a_422_with_a_json_error(client):
    response = client.post("/predict", content=b"{not json",
                           headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert "error" in response.json()


def test_tag_raw_and_tokenised(client):
    raw = client.post("/tag", json={"texts": ["the dog sees a cat. She likes the fish."]})
    assert raw.status_code == 200, raw.text
    sentences = raw.json()["sentences"]
    assert [s["tokens"] for s in sentences] == [["the", "dog", "sees", "a", "cat", "."],
                                                ["She", "likes", "the", "fish", "."]]
    assert all(len(s["upos"]) == len(s["tokens"]) for s in sentences)
    given = client.post("/tag", json={"tokens": [["the", "cat", "."]]})
    assert given.status_code == 200 and given.json()["sentences"][0]["tokens"] == ["the", "cat",
                                                                                    "."]
    for bad in ({}, {"texts": ["a"], "tokens": [["a"]]}, {"tokens": [["a", ""]]}):
        response = client.post("/tag", json=bad)
        assert response.status_code == 422 and "error" in response.json()


def test_explain_returns_tokens_contributions_and_gates(client):
    response = client.post("/explain", json={"text": "A great film, truly wonderful.",
                                             "units": 3})
    assert response.status_code == 200, response.text
    body = response.json()
    n = len(body["tokens"])
    assert n == 7 and len(body["contributions"]) == n and len(body["known"]) == n
    assert body["gate_names"] == ["f", "i", "o"]
    assert set(body["gates"]) == {"l0", "l0_reverse"}
    for gates in body["gates"].values():
        assert all(len(v) == n and all(0 <= x <= 1 for x in v) for v in gates.values())
    assert len(body["units"]) == 3 and all(len(u["values"]) == n for u in body["units"])
    too_long = client.post("/explain", json={"text": "x" * (MAX_CHARS + 1)})
    assert too_long.status_code == 413


def test_unknown_routes_answer_json(client):
    response = client.get("/nowhere")
    assert response.status_code == 404 and "error" in response.json()


def test_the_page_and_its_assets_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and 'id="analyse"' in page.text
    assert "http" not in page.text.replace("http-equiv", "")  # no CDN: works offline
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/openapi.json").json()["paths"].keys() >= {"/predict", "/tag", "/explain"}


def test_concurrent_requests_agree_with_sequential_ones(client):
    texts = [f"review {i}: {'great' if i % 2 else 'awful'} film" for i in range(24)]
    expected = [client.post("/predict", json={"texts": [t]}).json() for t in texts]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda t: client.post("/predict", json={"texts": [t]}).json(),
                            texts))
    assert got == expected


def test_without_checkpoints_it_says_how_to_train_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code != 0 and "gatedrnn sentiment train" in result.output


# ---- explanations -----------------------------------------------------------------------


def test_contributions_are_gradient_times_input_of_the_decision_score(trained_sentiment):
    """Scaling one token's embedding by (1 + ε) changes the score by ε × its contribution."""
    predictor = Predictor.load(trained_sentiment)
    text = "a great film with a terrible ending"
    result = explain(predictor, text)
    model = predictor.model
    ids = torch.tensor([predictor.vocab.encode(result["tokens"])])
    lengths = torch.tensor([ids.shape[1]])

    @torch.no_grad()
    def score(scale_index, factor):
        embedded = model.embedding(ids).detach().clone()
        embedded[0, scale_index] *= factor
        logits, _, _ = model.from_embeddings(embedded, lengths)
        return float(logits[0, 1] - logits[0, 0])

    eps = 1e-3
    for index in (1, 5):
        change = (score(index, 1 + eps) - score(index, 1 - eps)) / (2 * eps)
        assert change == pytest.approx(result["contributions"][index], rel=1e-2, abs=1e-4)
    assert result["label"] == predictor.predict([text])[0]["label"]


def test_cli_explain_prints_colours_and_a_gate_summary(trained_sentiment):
    runner = CliRunner()
    result = runner.invoke(main, ["explain", str(trained_sentiment), "a great film"],
                           color=True)
    assert result.exit_code == 0, result.output
    assert "\x1b[" in result.output and "LSTM l0:" in result.output
    empty = runner.invoke(main, ["explain", str(trained_sentiment), "   ", "--json"])
    assert empty.exit_code == 0, empty.output
    body = json.loads(empty.output)
    assert body["tokens"] == [] and body["units"] == [] and body["label"] in ("neg", "pos")


# ---- ONNX -------------------------------------------------------------------------------


def test_onnx_classifier_matches_pytorch_for_any_batch_and_length(trained_sentiment, tmp_path):
    pytest.importorskip("onnxruntime")
    from gatedrnn.export import check_parity, export_onnx
    info = export_onnx(trained_sentiment, tmp_path / "c.onnx")
    assert not info["graph"].training
    torch.manual_seed(0)
    vocab = info["graph"].model.config.vocab_size
    cases = [(torch.randint(1, vocab, (b, t)), torch.randint(1, t + 1, (b,)))
             for b, t in ((1, 1), (2, 9), (7, 40), (16, 3))]
    assert check_parity(tmp_path / "c.onnx", info["graph"], cases) <= 1e-4


def test_onnx_tagger_matches_pytorch(trained_tagger_dir, tmp_path):
    pytest.importorskip("onnxruntime")
    from gatedrnn.data.ud import Sentence
    from gatedrnn.export import check_parity, export_onnx
    from gatedrnn.tagging import Tagger, collate_sentences, encode
    info = export_onnx(trained_tagger_dir, tmp_path / "t.onnx")
    tagger = Tagger.load(trained_tagger_dir)
    sentences = [Sentence("the big dog sees she".split(), [], []), Sentence(["zebra"], [], []),
                 Sentence("a red cat likes the unseenword fish .".split(), [], [])]
    batches = [collate_sentences(encode(sentences, tagger.vocab), idx, tagger.vocab).inputs()
               for idx in ([0, 1, 2], [1], [2, 0])]
    assert check_parity(tmp_path / "t.onnx", info["graph"], batches) <= 1e-4


def test_cli_export_checks_parity_and_rejects_non_checkpoints(trained_sentiment, tmp_path):
    pytest.importorskip("onnxruntime")
    runner = CliRunner()
    result = runner.invoke(main, ["export", str(trained_sentiment), "--onnx",
                                  str(tmp_path / "m.onnx")])
    assert result.exit_code == 0, result.output
    assert "max |difference|" in result.output and (tmp_path / "m.onnx").exists()
    not_a_checkpoint = tmp_path / "empty"
    not_a_checkpoint.mkdir()
    failed = runner.invoke(main, ["export", str(not_a_checkpoint), "--onnx",
                                  str(tmp_path / "x.onnx")])
    assert failed.exit_code != 0 and "config.json" in failed.output
    assert not (tmp_path / "x.onnx").exists()


def test_copied_checkpoint_loads_under_another_name(trained_sentiment, tmp_path):
    copy = tmp_path / "other"
    shutil.copytree(trained_sentiment, copy)
    names = [m["name"] for m in TestClient(build([trained_sentiment, copy])).get(
        "/health").json()["models"]]
    assert len(set(names)) == 2


@pytest.mark.parametrize("mode, names", [("GRU", ["r", "z"]), ("RNN", [])])
def test_explain_other_cells_and_two_layers(mode, names):
    from gatedrnn.data.text import Vocab
    from gatedrnn.models.classifier import ClassifierConfig, SentimentClassifier
    torch.manual_seed(0)
    vocab = Vocab(["<pad>", "<unk>", "good", "bad", "film"])
    model = SentimentClassifier(ClassifierConfig(vocab_size=5, embedding_dim=4, hidden_size=3,
                                                 num_layers=2, mode=mode, pooling="max"))
    result = explain(Predictor(model, vocab, ["neg", "pos"]), "good film, bad", units=2)
    assert result["gate_names"] == names and result["attention"] is None
    assert set(result["gates"]) == {"l0", "l0_reverse", "l1", "l1_reverse"}
    assert result["known"] == [True, True, False, True]
    assert len(result["units"]) == 2


def test_onnx_backend_serves_the_same_predictions(trained_sentiment):
    pytest.importorskip("onnxruntime")
    texts = ["a great wonderful film", "awful", "", "x " * 300]
    with TestClient(build([trained_sentiment], onnx=True)) as onnx_client:
        served = onnx_client.post("/predict", json={"texts": texts}).json()["predictions"]
        explained = onnx_client.post("/explain", json={"text": "a great film"})
    expected = Predictor.load(trained_sentiment).predict(texts)
    for got, want in zip(served, expected):
        assert got["label"] == want["label"] and got["empty"] == want["empty"]
        for label, p in want["probabilities"].items():
            assert got["probabilities"][label] == pytest.approx(p, abs=1e-4)
    assert explained.status_code == 200 and len(explained.json()["contributions"]) == 3
