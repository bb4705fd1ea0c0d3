"""How the IMDb pipeline (gatedrnn.sentiment.pipeline) combines an ensemble's members, and
how the benchmark script turns its flags into the pipeline's options."""

import sys
from pathlib import Path

import pytest
import torch

from gatedrnn.sentiment import pipeline as imdb_pipeline
from gatedrnn.sentiment.pipeline import PipelineOptions
from gatedrnn.sentiment.selection import stacker

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import imdb_pipeline as pipeline_script  # noqa: E402


def two_class(p_positive):
    p = torch.tensor(p_positive, dtype=torch.float32)
    return torch.stack([1 - p, p], 1)


def test_mean_and_log_odds_differ_where_one_member_is_sure_and_wrong():
    labels = {"valid": torch.tensor([1]), "test": torch.tensor([0])}
    # On valid, probabilities averaged: (0.99 + 0.001 + 0.6) / 3 = 0.53, positive (right);
    # log-odds averaged: (4.60 − 6.91 + 0.41) / 3 < 0, negative (wrong).
    # On test: 0.6, 0.3, 0.4 average 0.43 and log-odds −0.08: both negative (right).
    members = [{"valid": two_class([v]), "test": two_class([t])}
               for v, t in ((0.99, 0.6), (0.001, 0.3), (0.6, 0.4))]
    assert imdb_pipeline.combined_accuracy("mean", members, labels) == {"valid": 1.0,
                                                                        "test": 1.0}
    assert imdb_pipeline.combined_accuracy("log-odds", members, labels) == {"valid": 0.0,
                                                                            "test": 1.0}


def test_log_odds_survive_certain_probabilities():
    odds = imdb_pipeline.log_odds(two_class([0.0, 1.0, 0.5]))
    assert torch.isfinite(odds).all() and odds[0] < 0 < odds[1] and odds[2] == 0


def test_stacking_weighs_the_informative_member():
    generator = torch.Generator().manual_seed(0)
    labels = {split: torch.randint(0, 2, (n,), generator=generator)
              for split, n in (("valid", 400), ("test", 400))}

    def member(noise):
        out = {}
        for split, y in labels.items():
            z = (2 * y - 1).double() + noise * torch.randn(len(y), generator=generator,
                                                           dtype=torch.double)
            out[split] = two_class(torch.sigmoid(z).tolist())
        return out

    informative, noisy = member(0.8), member(4.0)
    stacked = imdb_pipeline.combined_accuracy("stacked", [informative, noisy], labels)
    weight_informative, weight_noisy = stacked["weights"]
    assert weight_informative > 3 * abs(weight_noisy)
    alone = imdb_pipeline.combined_accuracy("mean", [informative, informative], labels)
    assert stacked["test"] == pytest.approx(alone["test"], abs=0.02)
    assert stacked["valid"] == pytest.approx(alone["valid"], abs=0.03)


def test_students_train_adversarially_from_the_round_asked_for():
    _, options = pipeline_script.parse_arguments(
        ["--data", "d", "--work", "w", "--student-epochs", "2", "--adversarial", "0.3",
         "--adversarial-from", "2"])
    assert imdb_pipeline._student_options(options, 1) == {"overrides": {"epochs": 2}}
    assert imdb_pipeline._student_options(options, 2) == {
        "overrides": {"epochs": 2, "adversarial": 0.3}}
    _, every_round = pipeline_script.parse_arguments(["--data", "d", "--work", "w",
                                                      "--adversarial", "0.3"])
    assert imdb_pipeline._student_options(every_round, 1) == {"overrides": {"adversarial": 0.3}}


def _commands(tmp_path, monkeypatch, options):
    """Every library call the pipeline's training steps would make, by step: the function's
    name and its arguments (train/side_by_side.Call)."""
    seen = {}

    def record(name, calls, work, threads, log=print):
        seen[name] = {label: {"function": c.function, **c.arguments}
                      for label, c in calls.items()}
        return {"seconds": 0.0}

    monkeypatch.setattr(imdb_pipeline, "run_steps", record)
    imdb_pipeline.train_models("data.tar.gz", tmp_path, options, log=lambda m: None)
    return seen


def test_members_train_adversarially_only_from_round_zero(tmp_path, monkeypatch):
    seen = _commands(tmp_path, monkeypatch, PipelineOptions(rounds=0, adversarial=0.3,
                                                            adversarial_from=0))
    assert seen["members"]["member-0"]["overrides"] == {"adversarial": 0.3}
    assert "overrides" not in seen["members"]["nbsvm"]
    plain = _commands(tmp_path, monkeypatch, PipelineOptions())
    assert not any("overrides" in c for c in plain["members"].values())


@pytest.mark.parametrize("options, named", [
    (["--adversarial-from", "2"], "give adversarial too"),
    (["--adversarial", "0.3", "--adversarial-from", "3"], "names no round of rounds=2"),
    (["--adversarial", "0.3", "--rounds", "0"], "names no round of rounds=0: choose 0..0"),
    (["--doc-vectors-preset", "dv-trigram"], "give --doc-vectors too"),
    (["--doc-vectors", "--doc-vectors-preset", "dv-trigram", "dv-trigram"],
     "names a preset twice"),
])
def test_adversarial_rounds_that_cannot_apply_are_refused(options, named, capsys):
    with pytest.raises(SystemExit):
        pipeline_script.parse_arguments(["--data", "d", "--work", "w", *options])
    assert named in capsys.readouterr().err


def test_several_document_vector_presets_each_train_a_member(tmp_path, monkeypatch):
    _, options = pipeline_script.parse_arguments(
        ["--data", "d", "--work", "w", "--doc-vectors", "--doc-vectors-preset", "dv-ngram",
         "dv-trigram"])
    assert options.doc_vector_presets == ("dv-ngram", "dv-trigram")
    seen = _commands(tmp_path, monkeypatch, options)
    for preset in options.doc_vector_presets:
        call = seen[preset][preset]
        assert call["function"] == "gatedrnn.sentiment.training:train"
        assert call["preset"] == preset and call["split_seed"] == 0
    assert pipeline_script.parse_arguments(
        ["--data", "d", "--work", "w", "--doc-vectors"])[1].doc_vector_presets == ("dv-ngram",)
    assert pipeline_script.parse_arguments(["--data", "d", "--work", "w"])[1] \
        .doc_vector_presets == ()


def test_the_best_recipe_runs_the_best_measured_pipeline():
    """--recipe best is the pipeline run the README measured: no students, both doc-vector
    presets, the NBSVM taught by the ensemble, split by film."""
    from gatedrnn.sentiment.recipes import RECIPES
    _, measured = pipeline_script.parse_arguments(
        ["--data", "d", "--work", "w", "--rounds", "0", "--doc-vectors", "--doc-vectors-preset",
         "dv-ngram", "dv-trigram"])
    assert PipelineOptions(**RECIPES["best"].pipeline) == measured == PipelineOptions()


def test_semi_supervised_members_train_one_at_a_time_with_both_cores(tmp_path, monkeypatch):
    """semi_members: BiLSTMs of the semi preset from the pipeline's word vectors, on the
    shared split, each a step of its own with two threads, after the members; they join the
    models the ensembles are made of."""
    steps = []

    def record(name, calls, work, threads, log=print):
        steps.append((name, threads, {label: c.arguments for label, c in calls.items()}))
        return {"seconds": 0.0}

    monkeypatch.setattr(imdb_pipeline, "run_steps", record)
    _, names = imdb_pipeline.train_models("data.tar.gz", tmp_path,
                                          PipelineOptions(semi_members=2), log=lambda m: None)
    assert [(name, threads) for name, threads, _ in steps] == [
        ("vectors", 2), ("dv-ngram", 2), ("dv-trigram", 2), ("members", 1), ("semi-0", 2),
        ("semi-1", 2)]
    for k in range(2):
        call = steps[4 + k][2][f"semi-{k}"]
        assert call == {"data": "data.tar.gz", "preset": "semi",
                        "out": str(tmp_path / f"semi-{k}"),
                        "vectors": str(tmp_path / "word2vec.vec"), "seed": k, "split_seed": 0,
                        "split_by": "film"}
    assert names == ["member-0", "member-1", "nbsvm", "semi-0", "semi-1", "dv-ngram",
                     "dv-trigram"]


@pytest.mark.parametrize("rule", ["stacked", "mean"])
def test_the_final_ensemble_is_calibrated_whole_and_loads_as_one_model(rule, trained_sentiment,
                                                                       tmp_path):
    import shutil

    from gatedrnn.sentiment import Ensemble, Predictor, combine_scores

    generator = torch.Generator().manual_seed(0)
    labels = {split: torch.randint(0, 2, (n,), generator=generator)
              for split, n in (("valid", 400), ("test", 600))}
    probabilities = {}
    for k, name in enumerate(("a", "b")):
        shutil.copytree(trained_sentiment, tmp_path / name)
        # over-confident members: log-odds pushed 4× past what their accuracy supports
        probabilities[name] = {
            split: two_class(torch.sigmoid(4 * ((2 * y - 1) * 0.8 + torch.randn(
                len(y), generator=generator) * (1.0 + k))).tolist())
            for split, y in labels.items()}
    final = {"rule": rule, "members": "a + b"}
    result = imdb_pipeline.calibrate_final(final, probabilities, labels, tmp_path, "film")
    before, after = result["test"]["before"], result["test"]["after"]
    assert after["accuracy"] == before["accuracy"]
    if rule == "mean":
        assert result["temperature"] > 1.5 and after["ece"] < before["ece"]
    else:  # a logistic regression over the log-odds learns the members' scale: T stays near 1
        assert 0.8 < result["temperature"] < 1.25
    ensemble = Predictor.load(tmp_path / "final")
    assert isinstance(ensemble, Ensemble) and ensemble.rule == rule
    assert ensemble.temperature == result["temperature"]
    if rule == "stacked":
        # the directory's rule reproduces the stacking regression the pipeline scores
        features = {s: torch.stack([imdb_pipeline.log_odds(probabilities[n][s])
                                    for n in ("a", "b")], 1).numpy() for s in labels}
        fitted = stacker().fit(features["valid"], labels["valid"].numpy())
        per_member = torch.stack([probabilities[n]["test"].log() for n in ("a", "b")])
        z = combine_scores(per_member, "stacked", ensemble.weights, ensemble.bias)[:, 1]
        torch.testing.assert_close(z.double(), torch.from_numpy(
            fitted.decision_function(features["test"])), atol=1e-5, rtol=1e-5)


def test_ulmfit_members_fine_tune_from_their_own_direction_of_language_model(tmp_path,
                                                                           monkeypatch):
    options = PipelineOptions(members=0, word_vectors=None, linear_preset="nbsvm",
                              doc_vector_presets=(), ensemble_teacher=False,
                              ulmfit_lm_preset="awd", lm_snapshots=(0.25, 0.5))
    seen = _commands(tmp_path, monkeypatch, options)
    assert list(seen) == ["language-models", "ulmfit", "members"]
    for direction in ("forward", "backward"):
        lm = seen["language-models"][f"lm-{direction}"]
        assert lm["function"] == "gatedrnn.lm.training:pretrain"
        assert lm["direction"] == direction and lm["preset"] == "awd"
        assert lm["overrides"] == {"snapshots": [0.25, 0.5]}
        fine_tune = seen["ulmfit"][f"ulmfit-{direction}"]
        assert fine_tune["preset"] == "ulmfit"
        assert fine_tune["init_from"] == str(tmp_path / f"lm-{direction}")
        assert fine_tune["out"] == str(tmp_path / f"ulmfit-{direction}")
    assert list(seen["members"]) == ["nbsvm"]


@pytest.mark.parametrize("options, named", [
    ({"members": 2, "word_vectors": None}, "give word_vectors"),
    ({"semi_members": 1, "word_vectors": None}, "give word_vectors"),
    ({"semi_members": -1}, "must be >= 0"),
    ({"lm_snapshots": (0.5,)}, "needs ulmfit_lm_preset"),
    ({"ulmfit_lm_preset": "awd", "lm_snapshots": (0,)}, "above 0"),
])
def test_pipeline_options_that_cannot_apply_are_refused(options, named):
    base = {"members": 0, "word_vectors": None, "doc_vector_presets": (),
            "ensemble_teacher": False}
    with pytest.raises(ValueError, match=named):
        PipelineOptions(**{**base, **options})


@pytest.mark.parametrize("options", [
    PipelineOptions(),
    PipelineOptions(rounds=2, students=2, student_epochs=1, unlabelled=100, adversarial=0.3,
                    adversarial_from=0, taught_doc_vectors=True),
    PipelineOptions(members=0, word_vectors=None, linear_preset="nbsvm",
                    doc_vector_presets=(), ensemble_teacher=False, ulmfit_lm_preset="awd",
                    lm_snapshots=(0.5,)),
    PipelineOptions(semi_members=2),
])
def test_every_call_the_pipeline_makes_fits_its_function(tmp_path, monkeypatch, options):
    # the steps run library functions in other processes: a wrong keyword would only fail
    # there, after the steps before it had run
    import importlib
    import inspect

    for step in _commands(tmp_path, monkeypatch, options).values():
        for call in step.values():
            arguments = dict(call)
            module, name = arguments.pop("function").split(":")
            function = getattr(importlib.import_module(module), name)
            inspect.signature(function).bind(**arguments, log=print)


def _write_and_log(path: str, text: str, log) -> dict:
    """A function shaped as the pipeline's steps call them (keyword arguments and ``log``)."""
    log(f"writing {path}")
    Path(path).write_text(text, encoding="utf-8")
    return {"written": path}


def test_a_step_runs_its_calls_in_processes_and_is_reused(tmp_path):
    """run_steps: library calls side by side in processes of their own, each logging to
    WORK/LABEL.log; the record makes a rerun reuse the step and refuses other calls under its
    name; a failed call names itself and its log, and leaves no record."""
    from gatedrnn.train.side_by_side import Call

    def calls(text: str, folder: Path = tmp_path) -> dict:
        return {f"write-{k}": Call("test_pipeline_rules:_write_and_log",
                                   {"path": str(folder / f"{k}.txt"), "text": f"{text}{k}"})
                for k in range(2)}

    quiet = {"log": lambda m: None}
    record = imdb_pipeline.run_steps("writes", calls("a"), tmp_path, 1, **quiet)
    assert [(tmp_path / f"{k}.txt").read_text() for k in range(2)] == ["a0", "a1"]
    assert "writing" in (tmp_path / "write-1.log").read_text()
    assert record["summaries"]["write-1"] == {"written": str(tmp_path / "1.txt")}
    assert imdb_pipeline.run_steps("writes", calls("a"), tmp_path, 1, **quiet)["reused"]
    with pytest.raises(RuntimeError, match="made by other calls"):
        imdb_pipeline.run_steps("writes", calls("b"), tmp_path, 1, **quiet)
    with pytest.raises(RuntimeError, match="write-0 .*failed: FileNotFoundError.*write-0.log"):
        imdb_pipeline.run_steps("broken", calls("c", tmp_path / "missing"), tmp_path, 1,
                                **quiet)
    assert not (tmp_path / "broken.step.json").exists()
