"""Recipes: `train --recipe NAME` builds a whole measured system into one directory that the
other commands accept as one model; run end to end through the command line on the fixtures."""

import json

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from gatedrnn.cli import main
from gatedrnn.sentiment.recipes import RECIPES as SENTIMENT_RECIPES
from gatedrnn.tagging.recipes import RECIPES as TAGGER_RECIPES


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def smoke_sentiment(tmp_path_factory, imdb_archive):
    out = tmp_path_factory.mktemp("recipe") / "smoke"
    report = json.loads(run("sentiment", "train", "--recipe", "smoke", "--data", imdb_archive,
                            "--out", out, "--json"))
    return out, report


def test_the_smoke_recipe_builds_the_best_recipes_steps_into_one_model(smoke_sentiment):
    out, report = smoke_sentiment
    assert report["recipe"] == "smoke"
    assert set(report["rows"]) == {"member-0", "member-1", "nbsvm", "dv-ngram", "nbsvm-ensemble"}
    final = report["final_by_nested_cv"]
    assert final["calibration"]["directory"] == str(out.resolve())
    assert json.loads((out / "config.json").read_text())["model_type"] == "ensemble"
    assert json.loads((out / "recipe.json").read_text())["final_by_nested_cv"] == final
    # every member lives under OUT/steps, named relative to OUT: the directory can move
    for member in json.loads((out / "config.json").read_text())["members"]:
        assert member.startswith("steps/")


def test_a_recipe_directory_evaluates_predicts_explains_and_serves_as_one_model(
        smoke_sentiment, imdb_archive):
    out, report = smoke_sentiment
    evaluated = json.loads(run("sentiment", "evaluate", out, "--data", imdb_archive, "--json"))
    assert evaluated["accuracy"] == pytest.approx(report["final_by_nested_cv"]["test"])
    assert evaluated["checkpoint"] == str(out)
    lines = run("sentiment", "predict", out, "--jsonl", "A wonderful film.").splitlines()
    predicted = json.loads(lines[-1])
    assert predicted["label"] in ("pos", "neg")
    explained = json.loads(run("explain", out, "A wonderful film.", "--json"))
    assert explained["label"] == predicted["label"]
    assert explained["confidence"] == pytest.approx(predicted["confidence"], abs=1e-6)
    assert explained["explained_member"]["of"] == 5  # one recurrent member's gates
    from gatedrnn.serve.app import build
    client = TestClient(build([out]))
    served = client.post("/predict", json={"texts": ["A wonderful film."]}).json()
    assert served["predictions"][0]["confidence"] == pytest.approx(predicted["confidence"],
                                                                   abs=1e-6)
    assert client.post("/explain", json={"text": "A wonderful film."}).status_code == 200


def test_a_recipe_ensemble_is_refused_by_export_with_the_way_out(smoke_sentiment, tmp_path):
    out, _ = smoke_sentiment
    result = CliRunner().invoke(main, ["export", str(out), "--onnx", str(tmp_path / "m.onnx")])
    assert result.exit_code == 1
    assert "ensemble of 5 checkpoints" in result.output and "gatedrnn serve" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "m.onnx").exists()


def test_a_rerun_reuses_every_finished_step(smoke_sentiment, imdb_archive):
    out, report = smoke_sentiment
    again = json.loads(run("sentiment", "train", "--recipe", "smoke", "--data", imdb_archive,
                           "--out", out, "--json"))
    trained = [name for name in report["steps"] if name != "evaluation"]
    assert again["reused_steps"] == trained
    assert again["final_by_nested_cv"]["test"] == report["final_by_nested_cv"]["test"]


def test_a_recipe_refuses_the_options_it_fixes(imdb_archive, tmp_path):
    result = CliRunner().invoke(main, ["sentiment", "train", "--recipe", "best", "--epochs", "1",
                                       "--preset", "tiny", "--data", str(imdb_archive),
                                       "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "--preset, --epochs cannot change it" in result.output
    assert not (tmp_path / "x").exists()
    result = CliRunner().invoke(main, ["sentiment", "train", "--recipe", "best", "--hidden-size",
                                       "512", "--data", str(imdb_archive),
                                       "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "--hidden-size cannot change it" in result.output


def test_a_pipeline_recipe_refuses_another_seed(imdb_archive, tmp_path):
    result = CliRunner().invoke(main, ["sentiment", "train", "--recipe", "smoke", "--seed", "3",
                                       "--data", str(imdb_archive), "--out", str(tmp_path / "x")])
    assert result.exit_code == 1 and "seeds it was measured with" in result.output
    assert not (tmp_path / "x").exists()


def test_a_step_cut_short_resumes_where_it_stopped(tmp_path):
    """A member killed mid-training left OUT/last with its training state: the rerun of its
    step calls it with resume=True instead of starting the member again."""
    from gatedrnn.sentiment.pipeline import WORD_VECTORS, classifier
    from gatedrnn.train.side_by_side import Call
    call = classifier("imdb.tar.gz", "fast", tmp_path / "member-0")
    assert call.resumed() == call
    (tmp_path / "member-0" / "last").mkdir(parents=True)
    (tmp_path / "member-0" / "last" / "training.pt").write_bytes(b"state")
    assert call.resumed().arguments == {**call.arguments, "resume": True}
    vectors = Call(WORD_VECTORS, {"data": "imdb.tar.gz", "out": str(tmp_path / "w.vec")})
    assert vectors.resumed() == vectors


def test_a_failed_step_names_its_call_and_log(tmp_path, imdb_archive):
    """A step that fails stops the pipeline with its call, its error and the log's path; what
    finished before stays for the rerun."""
    from gatedrnn.sentiment.pipeline import classifier, run_steps
    quiet = {"log": lambda m: None}
    ok = {"ok": classifier(imdb_archive, "tiny", tmp_path / "ok", overrides={"epochs": 1})}
    assert not run_steps("ok", ok, tmp_path, 1, **quiet).get("reused")
    assert (tmp_path / "ok.step.json").exists() and (tmp_path / "ok" / "best").is_dir()
    broken = {"broken": classifier(imdb_archive, "tiny", tmp_path / "broken",
                                   init_from=str(tmp_path / "missing"))}
    with pytest.raises(RuntimeError, match=r"broken .gatedrnn.sentiment.training:train. failed: "
                                           r"CheckpointError: no checkpoint at .*broken\.log; run "
                                           r"it again to resume"):
        run_steps("broken", broken, tmp_path, 1, **quiet)
    assert not (tmp_path / "broken.step.json").exists()
    assert run_steps("ok", ok, tmp_path, 1, **quiet)["reused"]


def test_a_tagger_recipe_trains_an_ensemble_that_loads_as_one_tagger(tmp_path, ud_treebank):
    out = tmp_path / "tagger"
    summary = json.loads(run("tagger", "train", "--recipe", "smoke", "--data", ud_treebank,
                             "--out", out, "--json"))
    assert summary["recipe"] == "smoke" and len(summary["ensemble"]) == 2
    evaluated = json.loads(run("tagger", "evaluate", out, "--data", ud_treebank, "--json"))
    assert 0 <= evaluated["upos_accuracy"] <= 1
    from gatedrnn.data import ud
    tagged = ud.parse_conllu(run("tagger", "predict", out, "The cat sat."))
    assert tagged[0].forms == ["The", "cat", "sat", "."] and len(tagged[0].upos) == 4
    from gatedrnn.serve.app import build
    served = TestClient(build([out])).post("/tag", json={"texts": ["The cat sat."]})
    assert served.status_code == 200
    assert served.json()["sentences"][0]["upos"] == tagged[0].upos
    result = CliRunner().invoke(main, ["export", str(out), "--onnx", str(tmp_path / "t.onnx")])
    assert result.exit_code == 1 and "ensemble of 2 taggers" in result.output


def test_every_recipe_names_its_measured_figures_in_help():
    for group, recipes in (("sentiment", SENTIMENT_RECIPES), ("tagger", TAGGER_RECIPES)):
        output = " ".join(run(group, "train", "--help").split())
        for name, recipe in recipes.items():
            assert name in output and " ".join(recipe.measured.split()) in output
