import json
import os
import shutil
import subprocess
import sys

import pytest
import torch
from click.testing import CliRunner

import gatedrnn
from gatedrnn.cli import main
from gatedrnn.data.batching import collate
from gatedrnn.models.classifier import ClassifierConfig, SentimentClassifier
from gatedrnn.sentiment import Predictor, evaluate, train
from gatedrnn.train import checkpoint
from gatedrnn.train.loop import TrainingDiverged

QUIET = {"show_progress": False, "log": lambda m: None}


# ---- model -----------------------------------------------------------------------------------


@pytest.mark.parametrize("pooling", ["last", "max", "mean", "attention"])
def test_padding_never_changes_a_prediction(pooling):
    torch.manual_seed(0)
    model = SentimentClassifier(ClassifierConfig(vocab_size=50, embedding_dim=8, hidden_size=6,
                                                 num_layers=2, pooling=pooling, dropout=0.0))
    model.eval()
    tokens = torch.randint(2, 50, (3, 9))
    lengths = torch.tensor([9, 4, 6])
    other = tokens.clone()
    for b, n in enumerate(lengths.tolist()):
        other[b, n:] = torch.randint(2, 50, (9 - n,))  # garbage where padding should be
    torch.testing.assert_close(model(tokens, lengths), model(other, lengths))
    alone = model(tokens[1:2, :4], lengths[1:2])
    torch.testing.assert_close(model(tokens, lengths)[1:2], alone, atol=1e-5, rtol=0)


def test_attention_weights_sum_to_one_and_skip_padding():
    model = SentimentClassifier(ClassifierConfig(vocab_size=20, embedding_dim=4, hidden_size=4,
                                                 num_layers=1, pooling="attention"))
    _, weights = model(torch.randint(2, 20, (2, 5)), torch.tensor([5, 2]),
                       return_attention=True)
    torch.testing.assert_close(weights.sum(1), torch.ones(2))
    assert weights[1, 2:].abs().max() == 0


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="pooling must be one of"):
        ClassifierConfig(vocab_size=10, pooling="sum")
    with pytest.raises(ValueError, match="unknown classifier config keys: colour"):
        ClassifierConfig.from_dict({"vocab_size": 10, "colour": "red"})


# ---- training, checkpoints, prediction --------------------------------------------------------


def test_tiny_model_learns_the_fixture(trained_sentiment, imdb_archive):
    from gatedrnn.data import imdb
    lines = [json.loads(l) for l in (trained_sentiment / "metrics.jsonl").read_text().splitlines()]
    assert [l["epoch"] for l in lines] == list(range(1, 9))
    assert lines[-1]["train_loss"] < lines[0]["train_loss"]
    predictor = Predictor.load(trained_sentiment)
    test = imdb.load(imdb_archive).test
    report = evaluate(predictor, [r.text for r in test], [r.label for r in test])
    assert report["accuracy"] >= 0.9
    assert set(report["per_class"]) == {"neg", "pos"}
    assert sum(map(sum, report["confusion_matrix"]["rows_true_cols_predicted"])) == len(test)


def test_checkpoint_round_trip_gives_identical_probabilities(trained_sentiment):
    best = trained_sentiment / "best"
    for name in ("config.json", "model.safetensors", "vocab.json", "metrics.json"):
        assert (best / name).exists()
    predictor = gatedrnn.load(trained_sentiment)
    config = checkpoint.read_config(best)
    model = SentimentClassifier(ClassifierConfig.from_dict(config["model"]))
    model.load_state_dict(checkpoint.load_weights(best))
    model.eval()
    encoded = predictor.vocab.encode(["a", "wonderful", ",", "brilliant", "film"])
    batch = collate([encoded])
    logits = model(batch.tokens, batch.lengths)
    # the temperature fitted at the end of training applies; calibrated=False reads raw
    temperature = config["calibration"]["temperature"]
    assert predictor.temperature == temperature
    expected = torch.softmax(logits.double() / temperature, 1)[0].float()
    got = predictor.probabilities(["A wonderful, brilliant film"])[0]
    torch.testing.assert_close(got, expected)
    raw = gatedrnn.load(trained_sentiment, calibrated=False)
    torch.testing.assert_close(raw.probabilities(["A wonderful, brilliant film"])[0],
                               torch.softmax(logits, 1)[0])


def test_predict_labels_empty_and_huge_texts(trained_sentiment):
    predictor = Predictor.load(trained_sentiment)
    results = predictor.predict(["brilliant wonderful loved it", "awful boring waste", "",
                                 "   ", "great " * 100_000])
    assert [r["label"] for r in results[:2]] == ["pos", "neg"]
    assert results[2]["empty"] and results[3]["empty"] and not results[4]["empty"]
    for r in results:
        assert abs(sum(r["probabilities"].values()) - 1) < 1e-5
        assert 0.5 <= r["confidence"] <= 1
    assert results[4]["label"] == "pos"
    with pytest.raises(TypeError, match="texts must be strings"):
        predictor.predict([None])
    with pytest.warns(UserWarning, match="1 text.*longer than 1,000,000 characters were cut"):
        assert predictor.predict(["great " * 200_000])[0]["label"] == "pos"


def test_resume_continues_after_an_interrupted_epoch(tmp_path, imdb_archive, monkeypatch):
    import gatedrnn.train.loop as loop
    out = tmp_path / "run"
    calls = {"n": 0}
    real_collate = loop.collate

    def interrupting_collate(*args, **kwargs):
        calls["n"] += 1
        # 72 training reviews in batches of 32 = 3 batches per epoch, then 1 validation batch:
        # call 7 is the third training batch of epoch 2.
        if calls["n"] == 7:
            raise KeyboardInterrupt
        return real_collate(*args, **kwargs)

    monkeypatch.setattr(loop, "collate", interrupting_collate)
    with pytest.raises(KeyboardInterrupt):
        train(imdb_archive, "tiny", out, overrides={"epochs": 3, "batch_size": 32}, **QUIET)
    state = checkpoint.load_training_state(out / "last")
    assert (state["epoch"], state["batch_in_epoch"]) == (1, 2)
    monkeypatch.setattr(loop, "collate", real_collate)
    messages = []
    summary = train(imdb_archive, "tiny", out, overrides={"epochs": 3, "batch_size": 32},
                    resume=True, show_progress=False, log=messages.append)
    assert any("resumed" in m and "after epoch 1, batch 2" in m for m in messages)
    assert [h["epoch"] for h in summary["history"]] == [2, 3]
    epochs = [json.loads(l)["epoch"] for l in (out / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2, 3]


def test_resume_refuses_a_different_model(tmp_path, imdb_archive):
    out = tmp_path / "run"
    train(imdb_archive, "tiny", out, overrides={"epochs": 1}, **QUIET)
    with pytest.raises(checkpoint.CheckpointError, match="different model configuration"):
        train(imdb_archive, "tiny", out, model_overrides={"hidden_size": 8}, resume=True,
              **QUIET)


def test_nan_loss_stops_with_a_message_and_keeps_the_last_good_checkpoint(tmp_path,
                                                                          imdb_archive,
                                                                          monkeypatch):
    import gatedrnn.train.loop as loop
    out = tmp_path / "run"
    train(imdb_archive, "tiny", out, overrides={"epochs": 1}, **QUIET)
    good = (out / "last" / "model.safetensors").read_bytes()
    real_loss = loop.classification_loss

    def nan_loss(model, batch, device="cpu"):
        loss, right, n = real_loss(model, batch, device)
        return loss * float("nan"), right, n

    monkeypatch.setattr(loop, "classification_loss", nan_loss)
    with pytest.raises(TrainingDiverged, match="loss became nan.*last good checkpoint"):
        train(imdb_archive, "tiny", out, overrides={"epochs": 3}, resume=True, **QUIET)
    assert (out / "last" / "model.safetensors").read_bytes() == good
    Predictor.load(out / "last")


def test_training_flushes_subnormal_floats_and_restores_the_setting(tmp_path, imdb_archive,
                                                                    monkeypatch):
    # Adam's moments for absent words decay into subnormals, ~5x slower to compute with.
    import gatedrnn.train.loop as loop
    seen = []
    real_loss = loop.classification_loss

    def recording_loss(model, batch, device="cpu"):
        seen.append(loop._denormals_flushed())
        return real_loss(model, batch, device)

    monkeypatch.setattr(loop, "classification_loss", recording_loss)
    torch.set_flush_denormal(False)
    train(imdb_archive, "tiny", tmp_path / "run", overrides={"epochs": 1}, **QUIET)
    assert seen and all(seen)
    assert not loop._denormals_flushed()


def test_wrong_or_broken_checkpoints_are_named(tmp_path, trained_sentiment):
    with pytest.raises(checkpoint.CheckpointError, match="train one with"):
        Predictor.load(tmp_path / "missing")
    broken = tmp_path / "broken"
    shutil.copytree(trained_sentiment / "best", broken)
    (broken / "model.safetensors").write_bytes(b"\x00" * 10)
    with pytest.raises(checkpoint.CheckpointError, match="corrupt or truncated"):
        Predictor.load(broken)
    mixed = _copy_and_edit(trained_sentiment / "best", tmp_path / "mixed", "vocab.json",
                           lambda v: v["itos"].insert(5, v["itos"].pop(6)))
    with pytest.raises(checkpoint.CheckpointError, match="does not match the vocabulary"):
        Predictor.load(mixed)
    other_task = _copy_and_edit(trained_sentiment / "best", tmp_path / "tagger", "config.json",
                                lambda c: c.update(task="tagger"))
    with pytest.raises(checkpoint.CheckpointError, match="'tagger' checkpoint"):
        Predictor.load(other_task)
    reshaped = _copy_and_edit(trained_sentiment / "best", tmp_path / "reshaped", "config.json",
                              lambda c: c["model"].update(hidden_size=32))
    with pytest.raises(checkpoint.CheckpointError, match="does not fit config.json"):
        Predictor.load(reshaped)


def _copy_and_edit(source, target, name, edit):
    """Copy a checkpoint and change one of its JSON files in place with ``edit``."""
    shutil.copytree(source, target)
    content = json.loads((target / name).read_text())
    edit(content)
    (target / name).write_text(json.dumps(content))
    return target


# ---- command line ----------------------------------------------------------------------------


def test_cli_predict_from_arguments_file_and_stdin(tmp_path, trained_sentiment):
    runner = CliRunner()
    result = runner.invoke(main, ["sentiment", "predict", str(trained_sentiment),
                                  "loved it, brilliant", "awful and boring"])
    assert result.exit_code == 0, result.output
    assert [line.split("\t")[0] for line in result.output.splitlines()] == ["pos", "neg"]
    texts = tmp_path / "texts.txt"
    texts.write_bytes("superb moving film\nterrible caf\xe9 waste\n".encode("utf-8")
                      + b"bad byte \xff here\n")
    result = runner.invoke(main, ["sentiment", "predict", str(trained_sentiment), "--file",
                                  str(texts), "--jsonl"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(l) for l in result.stdout.splitlines()]
    assert [l["label"] for l in lines[:2]] == ["pos", "neg"] and len(lines) == 3
    assert "not valid UTF-8" in result.stderr
    result = runner.invoke(main, ["sentiment", "predict", str(trained_sentiment)],
                           input="wonderful\n\n")
    assert result.exit_code == 0 and "(empty text)" in result.output
    result = runner.invoke(main, ["sentiment", "predict", str(tmp_path / "none"), "x"])
    assert result.exit_code != 0 and "no checkpoint" in result.output


def test_cli_train_and_evaluate(tmp_path, imdb_archive):
    runner = CliRunner()
    out = tmp_path / "cli_run"
    result = runner.invoke(main, ["sentiment", "train", "--data", str(imdb_archive), "--preset",
                                  "tiny", "--out", str(out), "--epochs", "1", "--hidden-size",
                                  "12", "--patience", "3", "--json"])
    assert result.exit_code == 0, result.output
    assert "best_valid_accuracy" in json.loads(result.stdout)
    config = checkpoint.read_config(out / "best")
    assert config["model"]["hidden_size"] == 12  # the tiny preset's is 16
    assert config["fit"]["patience"] == 3
    result = runner.invoke(main, ["sentiment", "evaluate", str(out), "--data", str(imdb_archive),
                                  "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["count"] == 80 and "confusion_matrix" in report
    result = runner.invoke(main, ["sentiment", "evaluate", str(out), "--data", str(imdb_archive)])
    assert "precision" in result.output and "confusion" in result.output
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"nope")
    result = runner.invoke(main, ["sentiment", "train", "--data", str(bad), "--out",
                                  str(tmp_path / "x")])
    assert result.exit_code != 0 and "truncated or corrupt" in result.output


def test_torchrun_two_processes(tmp_path, imdb_archive):
    """The same command under torchrun --nproc_per_node 2 (DDP over gloo) trains and saves.

    With --step-max-tokens the ranks cut their batches into different numbers of parts; only
    each batch's last backward may synchronise them, or the run would hang."""
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
               "--master_port", "29531", "-m", "gatedrnn.cli", "sentiment", "train",
               "--data", str(imdb_archive), "--preset", "tiny", "--out", str(out),
               "--epochs", "2", "--step-max-tokens", "60"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 2  # written once (rank 0), not once per process
    Predictor.load(out)


def test_split_seed_keeps_one_validation_split_across_training_seeds(imdb_archive, tmp_path,
                                                                     monkeypatch):
    """Ensemble members trained with seeds 1 and 2 and --split-seed 0 see the same validation
    reviews (those of seed 0), so none trains on another's validation set."""
    from gatedrnn.data import imdb
    split_seeds = []
    real_split = imdb.validation_split

    def recording_split(reviews, fraction, seed, by="review"):
        split_seeds.append(seed)
        return real_split(reviews, fraction, seed, by=by)

    monkeypatch.setattr(imdb, "validation_split", recording_split)
    for seed in (1, 2):
        out = tmp_path / f"member{seed}"
        result = CliRunner().invoke(main, ["sentiment", "train", "--data", str(imdb_archive),
                                           "--preset", "tiny", "--epochs", "1", "--out",
                                           str(out), "--seed", str(seed), "--split-seed", "0"])
        assert result.exit_code == 0, result.output
        config = json.loads((out / "best" / "config.json").read_text())
        assert config["validation_split_seed"] == 0 and config["fit"]["seed"] == seed
    assert split_seeds == [0, 0]
    # Without --split-seed the split follows --seed, as before.
    train(imdb_archive, "tiny", tmp_path / "plain", seed=3, overrides={"epochs": 1},
          show_progress=False, log=lambda m: None)
    assert split_seeds[-1] == 3


def test_an_infinite_gradient_stops_before_the_step_and_no_checkpoint_holds_it(
        tmp_path, imdb_archive, monkeypatch):
    """A finite loss whose gradient overflows would turn every weight into NaN at the step,
    and a mid-epoch save would then write them: training stops before the step instead, and
    last/ keeps the weights of the batch before (finite, loadable, resumable)."""
    import gatedrnn.train.loop as loop
    out = tmp_path / "run"
    real_loss = loop.classification_loss
    calls = []

    def overflowing_loss(model, batch, device="cpu"):
        loss, right, n = real_loss(model, batch, device)
        calls.append(1)
        return (loss * 1e38 * 1e38 if len(calls) == 4 else loss), right, n

    monkeypatch.setattr(loop, "classification_loss", overflowing_loss)
    with pytest.raises(TrainingDiverged, match="loss became inf.*step was not taken"):
        train(imdb_archive, "tiny", out, overrides={"epochs": 2, "checkpoint_minutes": 0},
              **QUIET)
    calls.clear()

    def overflowing_gradient(model, batch, device="cpu"):
        loss, right, n = real_loss(model, batch, device)
        calls.append(1)
        if len(calls) == 4:  # finite loss, infinite gradient
            loss = loss * 1.0
            loss.register_hook(lambda g: g * float("inf"))
        return loss, right, n

    monkeypatch.setattr(loop, "classification_loss", overflowing_gradient)
    shutil.rmtree(out)
    with pytest.raises(TrainingDiverged, match="gradient norm became (inf|nan).*not taken"):
        train(imdb_archive, "tiny", out, overrides={"epochs": 2, "checkpoint_minutes": 0},
              **QUIET)
    weights = checkpoint.load_weights(out / "last")
    assert all(torch.isfinite(w).all() for w in weights.values())
    assert checkpoint.load_training_state(out / "last")["batch_in_epoch"] == 3
    monkeypatch.setattr(loop, "classification_loss", real_loss)
    train(imdb_archive, "tiny", out, overrides={"epochs": 2, "checkpoint_minutes": 0},
          resume=True, **QUIET)  # the run goes on from the good checkpoint
