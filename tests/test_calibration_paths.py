"""The fitted temperature on every path a prediction takes: training writes it, and every
loader (Python, ensemble directories, the CLI, the HTTP server, explanations, ONNX) applies
it; --no-calibrate reads raw scores; --min-confidence abstains below its threshold."""

import json
import shutil

import pytest
import torch
from click.testing import CliRunner
from fastapi.testclient import TestClient

import gatedrnn
from gatedrnn.analysis.explain import explain
from gatedrnn.cli import main
from gatedrnn.sentiment import (UNCERTAIN, Ensemble, Predictor, abstain, calibrate_checkpoint,
                                save_ensemble)
from gatedrnn.serve.app import build
from gatedrnn.train import checkpoint

TEXTS = ["a great wonderful film", "awful boring plot", "it was fine"]
TEMPERATURE = 2.5


@pytest.fixture(scope="module")
def hot_checkpoint(trained_sentiment, tmp_path_factory):
    """A copy of the trained classifier whose stored temperature is 2.5."""
    out = tmp_path_factory.mktemp("calibrated") / "run"
    shutil.copytree(trained_sentiment, out)
    checkpoint.update_config(out / "best", calibration={"temperature": TEMPERATURE})
    return out


def raw_and_expected(path, texts=TEXTS):
    raw = Predictor.load(path, calibrated=False).scores(texts)
    return raw, torch.softmax(raw.double() / TEMPERATURE, 1).float()


def test_training_fits_and_stores_a_temperature(trained_sentiment):
    record = checkpoint.read_config(trained_sentiment / "best")["calibration"]
    assert record["temperature"] > 0 and record["split"] == "validation"
    assert record["nll_after"] <= record["nll_before"] + 1e-12
    assert Predictor.load(trained_sentiment).temperature == record["temperature"]


def test_every_python_load_path_applies_the_temperature(hot_checkpoint):
    raw, expected = raw_and_expected(hot_checkpoint)
    for model in (Predictor.load(hot_checkpoint), gatedrnn.load(hot_checkpoint),
                  Predictor.load(hot_checkpoint / "best")):
        assert model.temperature == TEMPERATURE
        torch.testing.assert_close(model.probabilities(TEXTS), expected)
    uncalibrated = gatedrnn.load(hot_checkpoint, calibrated=False)
    torch.testing.assert_close(uncalibrated.probabilities(TEXTS), torch.softmax(raw, 1))
    # the confidence predict() reports is the calibrated one, and the argmax is unchanged
    result = Predictor.load(hot_checkpoint).predict(TEXTS)
    assert [r["confidence"] for r in result] == pytest.approx(expected.max(1).values.tolist())
    assert [r["label"] for r in result] == [r["label"] for r in uncalibrated.predict(TEXTS)]


def test_explain_reports_the_calibrated_confidence(hot_checkpoint):
    _, expected = raw_and_expected(hot_checkpoint, TEXTS[:1])
    result = explain(Predictor.load(hot_checkpoint), TEXTS[0])
    assert result["confidence"] == pytest.approx(float(expected.max()), abs=1e-5)
    raw = explain(Predictor.load(hot_checkpoint, calibrated=False), TEXTS[0])
    assert raw["contributions"] == pytest.approx(result["contributions"])


def test_the_server_applies_the_temperature_and_abstains(hot_checkpoint):
    _, expected = raw_and_expected(hot_checkpoint)
    client = TestClient(build([hot_checkpoint]))
    body = client.post("/predict", json={"texts": TEXTS}).json()
    got = [p["confidence"] for p in body["predictions"]]
    assert got == pytest.approx(expected.max(1).values.tolist(), abs=1e-6)
    assert all("uncertain" not in p for p in body["predictions"])
    threshold = sorted(got)[1]  # the least confident text falls below it, the others not
    body = client.post("/predict", json={"texts": TEXTS, "min_confidence": threshold}).json()
    assert sum(p["label"] == UNCERTAIN for p in body["predictions"]) == 1
    assert client.post("/predict", json={"texts": TEXTS, "min_confidence": 1.5}).status_code \
        == 422
    raw = TestClient(build([hot_checkpoint], calibrated=False))
    raw_got = [p["confidence"] for p in raw.post("/predict", json={"texts": TEXTS}).json()[
        "predictions"]]
    assert raw_got != pytest.approx(got, abs=1e-4)


def test_onnx_export_carries_the_temperature(hot_checkpoint, tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    from gatedrnn.export import export_onnx, onnx_predictor, read_metadata

    info = export_onnx(hot_checkpoint, tmp_path / "m.onnx")
    assert float(read_metadata(tmp_path / "m.onnx")["temperature"]) == TEMPERATURE
    tokens, lengths = info["example"]
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"))
    (got,) = session.run(None, {"tokens": tokens.numpy(), "lengths": lengths.numpy()})
    model = Predictor.load(hot_checkpoint).model
    with torch.no_grad():
        expected = torch.softmax(model(tokens, lengths).double() / TEMPERATURE, 1).float()
    torch.testing.assert_close(torch.from_numpy(got), expected, atol=1e-5, rtol=1e-4)
    # served through onnxruntime: the same confidences as in PyTorch, temperature applied once
    _, calibrated = raw_and_expected(hot_checkpoint)
    torch.testing.assert_close(onnx_predictor(hot_checkpoint, tmp_path).probabilities(TEXTS),
                               calibrated, atol=1e-5, rtol=1e-4)
    export_onnx(hot_checkpoint, tmp_path / "raw.onnx", calibrated=False)
    assert float(read_metadata(tmp_path / "raw.onnx")["temperature"]) == 1.0


def test_the_tagger_temperature_round_trips_through_onnx(ud_treebank, tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    from gatedrnn.export import export_onnx, read_metadata
    from gatedrnn.tagging import Tagger, train

    train(ud_treebank, "tiny", tmp_path / "t", overrides={"epochs": 1}, show_progress=False,
          log=lambda m: None)
    checkpoint.update_config(tmp_path / "t" / "best",
                             calibration={"upos": {"temperature": 1.7},
                                          "xpos": {"temperature": 0.8}})
    tagger = Tagger.load(tmp_path / "t")
    assert tagger.temperature == {"upos": 1.7, "xpos": 0.8}
    info = export_onnx(tmp_path / "t", tmp_path / "t.onnx")
    meta = read_metadata(tmp_path / "t.onnx")
    assert float(meta["upos_temperature"]) == 1.7 and float(meta["xpos_temperature"]) == 0.8
    session = onnxruntime.InferenceSession(str(tmp_path / "t.onnx"))
    got = session.run(None, {i.name: a.numpy()
                             for i, a in zip(session.get_inputs(), info["example"])})
    with torch.no_grad():
        upos, xpos, _ = tagger.model(*info["example"])
    torch.testing.assert_close(torch.from_numpy(got[0]), upos / 1.7, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(torch.from_numpy(got[1]), xpos / 0.8, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("confidence, threshold, uncertain", [
    (0.8, 0.8, False),   # equal to the threshold: kept
    (0.7999, 0.8, True),
    (0.5, 0.0, False),   # 0 keeps everything
    (0.99, 1.0, True),   # 1 keeps only certainty
    (1.0, 1.0, False),
])
def test_min_confidence_boundaries(confidence, threshold, uncertain):
    result = {"label": "pos", "confidence": confidence, "probabilities": {}, "empty": False}
    out = abstain(result, threshold)
    assert out["uncertain"] is uncertain
    assert out["label"] == (UNCERTAIN if uncertain else "pos")
    assert out.get("best_guess") == ("pos" if uncertain else None)


@pytest.mark.parametrize("threshold", [-0.1, 1.01])
def test_min_confidence_out_of_range_is_refused(trained_sentiment, threshold):
    with pytest.raises(ValueError, match="min_confidence must be in"):
        Predictor.load(trained_sentiment).predict(TEXTS, min_confidence=threshold)
    done = CliRunner().invoke(main, ["sentiment", "predict", str(trained_sentiment),
                                     "--min-confidence", str(threshold), "x"])
    assert done.exit_code == 2 and "--min-confidence" in done.output


def test_cli_predict_abstains_and_reads_raw_scores(hot_checkpoint):
    runner = CliRunner()
    done = runner.invoke(main, ["sentiment", "predict", str(hot_checkpoint), "--jsonl",
                                "--min-confidence", "1", *TEXTS])
    assert done.exit_code == 0, done.output
    rows = [json.loads(line) for line in done.output.splitlines()]
    assert all(r["label"] == UNCERTAIN and r["best_guess"] in ("neg", "pos") for r in rows)
    calibrated = runner.invoke(main, ["sentiment", "predict", str(hot_checkpoint), "--jsonl",
                                      TEXTS[0]])
    raw = runner.invoke(main, ["sentiment", "predict", str(hot_checkpoint), "--jsonl",
                               "--no-calibrate", TEXTS[0]])
    _, expected = raw_and_expected(hot_checkpoint, TEXTS[:1])
    assert json.loads(calibrated.output)["confidence"] == pytest.approx(float(expected.max()))
    assert json.loads(raw.output)["confidence"] != pytest.approx(float(expected.max()))


def test_evaluate_reports_calibration_and_plots(hot_checkpoint, imdb_archive, tmp_path):
    done = CliRunner().invoke(main, ["sentiment", "evaluate", str(hot_checkpoint), "--data",
                                     str(imdb_archive), "--plot", str(tmp_path / "r.png"),
                                     "--json"])
    assert done.exit_code == 0, done.output
    report = json.loads(done.output[done.output.index("{"):])
    c = report["calibration"]
    assert c["temperature"] == TEMPERATURE and 0 <= c["ece"] <= 1 and "uncalibrated" in c
    assert [r["coverage"] for r in c["accuracy_coverage"]] == [1.0, 0.9, 0.8, 0.7]
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"
    text = CliRunner().invoke(main, ["sentiment", "evaluate", str(hot_checkpoint), "--data",
                                     str(imdb_archive)])
    assert "ECE" in text.output and "70% coverage" in text.output


def test_an_ensemble_is_calibrated_as_a_whole(trained_sentiment, hot_checkpoint, imdb_archive,
                                              tmp_path):
    runner = CliRunner()
    done = runner.invoke(main, ["sentiment", "calibrate", str(trained_sentiment),
                                str(hot_checkpoint), "--data", str(imdb_archive)])
    assert done.exit_code != 0 and "--out" in done.output
    done = runner.invoke(main, ["sentiment", "calibrate", str(trained_sentiment),
                                str(hot_checkpoint), "--data", str(imdb_archive),
                                "--out", str(tmp_path / "ens"), "--json"])
    assert done.exit_code == 0, done.output
    temperature = json.loads(done.output)["temperature"]
    ensemble = Predictor.load(tmp_path / "ens")
    assert isinstance(ensemble, Ensemble) and ensemble.temperature == temperature
    # the whole's temperature over the members' raw probabilities averaged
    members = [Predictor.load(p, calibrated=False) for p in (trained_sentiment, hot_checkpoint)]
    mean = torch.stack([m.probabilities(TEXTS) for m in members]).mean(0)
    expected = torch.softmax(mean.double().log() / temperature, 1).float()
    torch.testing.assert_close(ensemble.probabilities(TEXTS), expected, atol=1e-6, rtol=1e-5)
    served = TestClient(build([tmp_path / "ens"])).post("/predict", json={"texts": TEXTS})
    assert [p["confidence"] for p in served.json()["predictions"]] == pytest.approx(
        expected.max(1).values.tolist(), abs=1e-6)
    refused = runner.invoke(main, ["export", str(tmp_path / "ens"), "--onnx",
                                   str(tmp_path / "e.onnx")])
    assert refused.exit_code == 1 and "ensemble" in refused.output
    assert "Traceback" not in refused.output


def test_an_ensemble_directory_with_a_missing_member_is_a_clear_error(trained_sentiment,
                                                                      tmp_path):
    shutil.copytree(trained_sentiment, tmp_path / "m")
    save_ensemble(tmp_path / "ens", [tmp_path / "m", trained_sentiment],
                  calibration={"temperature": 1.3})
    shutil.rmtree(tmp_path / "m")
    with pytest.raises(checkpoint.CheckpointError, match="member .* cannot be loaded"):
        Predictor.load(tmp_path / "ens")


def test_a_broken_temperature_is_a_clear_error(trained_sentiment, tmp_path):
    shutil.copytree(trained_sentiment, tmp_path / "run")
    checkpoint.update_config(tmp_path / "run" / "best", calibration={"temperature": -1})
    with pytest.raises(checkpoint.CheckpointError, match="positive number"):
        Predictor.load(tmp_path / "run")
    assert Predictor.load(tmp_path / "run", calibrated=False).temperature == 1.0


def test_calibrating_a_checkpoint_again_lowers_its_validation_nll(trained_sentiment,
                                                                  imdb_archive, tmp_path):
    from gatedrnn.data import imdb

    shutil.copytree(trained_sentiment, tmp_path / "run")
    config = checkpoint.read_config(tmp_path / "run" / "best")
    valid = imdb.validation_split(imdb.load(imdb_archive).train, 0.1,
                                  config["validation_split_seed"],
                                  by=config["validation_split_by"])[1]
    record = calibrate_checkpoint(tmp_path / "run", [r.text for r in valid],
                                  [r.label for r in valid])
    assert record["nll_after"] <= record["nll_before"] + 1e-12
    assert checkpoint.read_config(tmp_path / "run" / "best")["calibration"] == record


# ---- the tagger ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tagger_ensemble(ud_treebank, tmp_path_factory):
    from gatedrnn.tagging import train_ensemble
    out = tmp_path_factory.mktemp("tagger_ensemble") / "ens"
    train_ensemble(ud_treebank, "tiny", out, members=2, jobs=1, overrides={"epochs": 1},
                   show_progress=False, log=lambda m: None)
    return out


def test_tagger_training_calibrates_each_member_and_the_whole(tagger_ensemble, ud_treebank):
    from gatedrnn.data import ud
    from gatedrnn.tagging import Tagger, TaggerEnsemble

    for member in ("member-1", "member-2"):
        record = checkpoint.read_config(tagger_ensemble / member / "best")["calibration"]
        assert record["upos"]["temperature"] > 0 and record["split"] == "dev"
    whole = checkpoint.read_config(tagger_ensemble)["calibration"]["upos"]["temperature"]
    ensemble = Tagger.load(tagger_ensemble)
    assert isinstance(ensemble, TaggerEnsemble) and ensemble.whole
    assert ensemble.temperature["upos"] == whole
    sentences = [s.forms for s in ud.load(ud_treebank).dev[:5]]
    raw = [Tagger.load(tagger_ensemble / m, calibrated=False)
           for m in ("member-1", "member-2")]
    mean = [(a.exp() + b.exp()) / 2 for a, b in zip(raw[0].scores(sentences)[0],
                                                    raw[1].scores(sentences)[0])]
    got = ensemble.probabilities(sentences)[0]
    for g, m in zip(got, mean):
        torch.testing.assert_close(g, torch.softmax(m.double().log() / whole, -1).float(),
                                   atol=1e-6, rtol=1e-5)
    tagged = ensemble.tag(sentences)
    assert [max(p.max(-1).values.tolist()) for p in got] == pytest.approx(
        [max(t["upos_confidence"]) for t in tagged], abs=1e-5)


def test_tagger_evaluate_and_calibrate_commands(tagger_ensemble, ud_treebank, tmp_path):
    runner = CliRunner()
    done = runner.invoke(main, ["tagger", "evaluate", str(tagger_ensemble / "member-1"),
                                "--data", str(ud_treebank), "--plot", str(tmp_path / "t.png"),
                                "--json"])
    assert done.exit_code == 0, done.output
    report = json.loads(done.output[done.output.index("{"):])
    c = report["calibration"]
    assert 0 <= c["ece"] <= 1 and "uncalibrated" in c and "xpos_ece" in c
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"
    shutil.copytree(tagger_ensemble / "member-2", tmp_path / "m2")
    config = checkpoint.read_config(tmp_path / "m2" / "best")
    del config["calibration"]
    checkpoint.write_json_atomic(tmp_path / "m2" / "best" / "config.json", config)
    done = runner.invoke(main, ["tagger", "calibrate", str(tmp_path / "m2"), "--data",
                                str(ud_treebank)])
    assert done.exit_code == 0 and "UPOS temperature" in done.output, done.output
    assert "calibration" in checkpoint.read_config(tmp_path / "m2" / "best")
    raw = runner.invoke(main, ["tagger", "evaluate", str(tmp_path / "m2"), "--data",
                               str(ud_treebank), "--no-calibrate", "--json"])
    assert json.loads(raw.output)["calibration"]["temperature"] == {"upos": 1.0, "xpos": 1.0}
