"""The Trainer's core loop and its callbacks: a run interrupted mid-epoch with every extra on
resumes to the uninterrupted run's weights bit for bit (also from a training state written
before the callbacks), callbacks of one's own see every hook, and model selection reads the
task's declared score."""

import random

import pytest
import torch

import gatedrnn.train.loop as loop
from gatedrnn.models.classifier import ClassifierConfig, SentimentClassifier
from gatedrnn.train import checkpoint
from gatedrnn.train.callbacks import Callback, MovingAverage, Snapshots
from gatedrnn.train.loop import ClassificationTask, Encoded, FitConfig, Trainer

from conftest import interrupt_at

QUIET = {"show_progress": False, "log": lambda m: None}
EXTRAS = {"ema_decay": 0.9, "adversarial": 0.5, "scheduler": "onecycle", "snapshots": [0.5],
          "checkpoint_minutes": 0.0}


def data(n: int = 12, seed: int = 0) -> Encoded:
    rng = random.Random(seed)
    sequences = [[rng.randrange(2, 20) for _ in range(rng.randint(2, 7))] for _ in range(n)]
    return Encoded(sequences, [s[0] % 2 for s in sequences])


def trainer(out, callbacks=None, task=None, **fit) -> Trainer:
    torch.manual_seed(0)
    model = SentimentClassifier(ClassifierConfig(vocab_size=20, embedding_dim=4, hidden_size=3,
                                                 num_layers=1, pooling="max", dropout=0.3))
    config = FitConfig(**{"epochs": 2, "batch_size": 4, "lr": 0.05, **fit})
    return Trainer(model, config, data(), data(6, seed=1), out, {"task": "sentiment"},
                   ["<pad>", "<unk>"], task=task, callbacks=callbacks, **QUIET)


def weights(directory):
    return checkpoint.load_weights(directory)


def same_weights(a, b):
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


def test_a_run_with_every_extra_resumes_mid_epoch_to_the_uninterrupted_weights(tmp_path,
                                                                               monkeypatch):
    whole = trainer(tmp_path / "whole", **EXTRAS)
    summary = whole.fit()
    # 3 training batches and 1 validation batch per epoch: call 6 is epoch 2's second batch
    real = interrupt_at(monkeypatch, 6)
    cut = trainer(tmp_path / "cut", **EXTRAS)
    with pytest.raises(KeyboardInterrupt):
        cut.fit()
    state = checkpoint.load_training_state(tmp_path / "cut" / "last")
    assert (state["epoch"], state["batch_in_epoch"]) == (1, 1)
    assert state["ema"] is not None and state["partial_epoch"]["extra"]["adversarial_loss"] > 0
    monkeypatch.setattr(loop, "collate", real)
    resumed = trainer(tmp_path / "cut", **EXTRAS)
    assert resumed.resume()
    resumed_summary = resumed.fit()
    for name in ("best", "last", "snapshots/epoch-0.5"):
        same_weights(weights(tmp_path / "whole" / name), weights(tmp_path / "cut" / name))
    last, resumed_last = summary["history"][-1], resumed_summary["history"][-1]
    for key in ("train_loss", "train_accuracy", "train_adversarial_loss", "valid_loss"):
        assert resumed_last[key] == last[key], key
    # the moving average is what validation read and best/ keeps, not the live weights
    average = next(c for c in whole.callbacks if isinstance(c, MovingAverage))
    assert whole.evaluated_model() is average.average.module
    assert any(isinstance(c, Snapshots) for c in whole.callbacks)


def test_a_training_state_written_before_the_callbacks_still_resumes(tmp_path, monkeypatch):
    """Older versions saved the epoch's totals as a tuple (loss, correct, count, tokens,
    adversarial loss, seconds)."""
    extras = {"adversarial": 0.5, "checkpoint_minutes": 0.0}
    trainer(tmp_path / "whole", **extras).fit()
    real = interrupt_at(monkeypatch, 6)
    with pytest.raises(KeyboardInterrupt):
        trainer(tmp_path / "cut", **extras).fit()
    monkeypatch.setattr(loop, "collate", real)
    last = tmp_path / "cut" / "last"
    state = checkpoint.load_training_state(last)
    totals = state["partial_epoch"]
    state["partial_epoch"] = (totals["loss"], totals["correct"], totals["count"],
                              totals["tokens"], totals["extra"]["adversarial_loss"],
                              totals["seconds"])
    torch.save(state, last / "training.pt")
    resumed = trainer(tmp_path / "cut", **extras)
    assert resumed.resume()
    resumed.fit()
    same_weights(weights(tmp_path / "whole" / "last"), weights(tmp_path / "cut" / "last"))


def test_a_callback_of_ones_own_sees_every_hook_in_order(tmp_path):
    class Recorder(Callback):
        name = "recorder"

        def __init__(self):
            self.seen, self.steps = [], 0

        def setup(self, trainer):
            self.seen.append("setup")

        def before_epoch(self, trainer):
            self.seen.append(f"epoch {trainer.epoch}")

        def after_backward(self, trainer, model, batch, share):
            return {"rows": float(len(batch.lengths))}

        def after_step(self, trainer):
            self.steps += 1

        def state_dict(self):
            return {"steps": self.steps}

    recorder = Recorder()
    run = trainer(tmp_path, callbacks=[recorder])
    summary = run.fit()
    assert recorder.seen == ["setup", "epoch 0", "epoch 1"] and recorder.steps == 6
    # what a callback adds is averaged per example into the epoch's record
    assert summary["history"][0]["train_rows"] == pytest.approx(1.0)
    assert checkpoint.load_training_state(tmp_path / "last")["recorder"] == {"steps": 6}


def test_model_selection_reads_the_tasks_declared_score(tmp_path):
    class LowestLoss(ClassificationTask):
        def score(self, valid):
            return -valid["loss"]

    run = trainer(tmp_path, task=LowestLoss(), epochs=3)
    summary = run.fit()
    best = min(summary["history"], key=lambda h: h["valid_loss"])
    assert summary["best_valid_accuracy"] == pytest.approx(-best["valid_loss"])
    assert [h["best"] for h in summary["history"]].count(True) >= 1
    with pytest.raises(NotImplementedError):
        loop.TrainingTask().loss(None, None)


def test_patience_stops_after_that_many_epochs_without_a_better_score(tmp_path):
    class Flat(ClassificationTask):  # the same score every epoch: only the first improves
        def score(self, valid):
            return 0.5

    messages = []
    run = trainer(tmp_path, task=Flat(), epochs=6, patience=2)
    run.log = messages.append
    summary = run.fit()
    assert [h["best"] for h in summary["history"]] == [True, False, False]
    assert any("early stop: no better validation accuracy for 2 epochs" in m for m in messages)
    assert len(trainer(tmp_path / "again", task=Flat(), epochs=4).fit()["history"]) == 4


def test_a_crash_between_the_two_saves_of_an_epoch_never_leaves_a_best_score_without_best(
        tmp_path, monkeypatch):
    """last/ records the best score so far; were it written before best/, a crash between the
    two left a run that resumes believing in a best/ that does not exist (and, when no later
    epoch did better, ended without one: the reliability suite's kill caught it)."""
    from gatedrnn.train import checkpoint as checkpoints

    class Killed(BaseException):
        pass

    real_save = checkpoints.save

    def save(directory, **kwargs):
        if directory.name == "best":
            raise Killed
        return real_save(directory, **kwargs)

    monkeypatch.setattr(checkpoints, "save", save)
    with pytest.raises(Killed):
        trainer(tmp_path).fit()
    last = tmp_path / "last"
    if last.exists():  # whatever was written must not promise a best/ that is not there
        state = checkpoint.load_training_state(last)
        assert state["best_accuracy"] == float("-inf") or (tmp_path / "best").exists()
    monkeypatch.setattr(checkpoints, "save", real_save)
    resumed = trainer(tmp_path)
    resumed.resume()
    resumed.fit()
    trainer(tmp_path / "whole").fit()
    same_weights(weights(tmp_path / "whole" / "best"), weights(tmp_path / "best"))
