"""Learning from unlabelled text (train/semi_supervised.py): the virtual adversarial direction
is the one that changes predictions most, entropy minimisation makes predictions on unlabelled
text surer, unlabelled batches never enter the labelled figures, and a resumed run reads both
streams from where they were."""

import random

import pytest
import torch

import gatedrnn.train.loop as loop
from gatedrnn.data.batching import collate
from gatedrnn.models.classifier import ClassifierConfig, SentimentClassifier
from gatedrnn.train import checkpoint
from gatedrnn.train.loop import Encoded, FitConfig, MultiLabelTask, Trainer
from gatedrnn.train.semi_supervised import (
    UnlabelledLosses,
    UnlabelledStream,
    entropy,
    kl_divergence,
    virtual_adversarial_direction,
)

from conftest import interrupt_at

QUIET = {"show_progress": False, "log": lambda m: None}


def sequences(n: int, seed: int, vocab: int = 30) -> list[list[int]]:
    rng = random.Random(seed)
    return [[rng.randrange(2, vocab) for _ in range(rng.randint(2, 9))] for _ in range(n)]


def labelled(n: int, seed: int) -> Encoded:
    made = sequences(n, seed)
    return Encoded(made, [int(sum(t < 15 for t in s) > len(s) / 2) for s in made])


def model(dropout: float = 0.0, seed: int = 0) -> SentimentClassifier:
    torch.manual_seed(seed)
    return SentimentClassifier(ClassifierConfig(vocab_size=30, embedding_dim=8, hidden_size=8,
                                                num_layers=1, pooling="max", dropout=dropout))


def trainer(out, unlabelled=None, seed=0, **fit) -> Trainer:
    config = FitConfig(**{"epochs": 2, "batch_size": 4, "lr": 0.05, **fit})
    return Trainer(model(seed=seed), config, labelled(12, 0), labelled(6, 1), out,
                   {"task": "sentiment"}, ["<pad>", "<unk>"], unlabelled=unlabelled, **QUIET)


def test_the_virtual_adversarial_direction_raises_the_divergence_more_than_a_random_one():
    classifier = model().eval()
    batch = collate(sequences(16, 3))
    with torch.no_grad():
        clean = classifier(batch.tokens, batch.lengths)
    torch.manual_seed(1)
    direction = virtual_adversarial_direction(classifier, batch, clean, xi=1e-3)
    real = (torch.arange(batch.tokens.shape[1])[None, :] < batch.lengths[:, None])[..., None]
    assert direction.flatten(1).norm(dim=1) == pytest.approx(torch.ones(16), abs=1e-5)
    assert not direction.masked_select(~real).any()  # padding is never pushed

    def divergence(unit):
        with torch.no_grad():
            handle = classifier.embedding.register_forward_hook(
                lambda m, i, out: out + 0.5 * unit)
            try:
                pushed = classifier(batch.tokens, batch.lengths)
            finally:
                handle.remove()
        return kl_divergence(clean, pushed).item()

    randoms = []
    for seed in range(20):
        torch.manual_seed(100 + seed)
        noise = torch.randn_like(direction) * real
        randoms.append(divergence(noise / noise.flatten(1).norm(dim=1)[:, None, None]))
    assert divergence(direction) > 3 * max(randoms)


def test_entropy_minimisation_makes_predictions_on_unlabelled_text_surer(tmp_path):
    unlabelled = Encoded(sequences(40, 7), [0] * 40)
    batch = collate(unlabelled.sequences)

    def entropy_after(**fit):
        run = trainer(tmp_path / str(len(fit)), unlabelled=unlabelled, epochs=4, **fit)
        run.fit()
        with torch.no_grad():
            return entropy(run.model.eval()(batch.tokens, batch.lengths)).item()

    plain, minimised = entropy_after(), entropy_after(entropy_minimisation=1.0)
    assert minimised < 0.8 * plain


def test_unlabelled_batches_never_enter_the_labelled_figures(tmp_path):
    # lr 0: the weights never move, so the labelled figures of a run with the unlabelled
    # losses must equal those of a run without them exactly
    unlabelled = Encoded(sequences(9, 5), [1] * 9)
    plain = trainer(tmp_path / "plain", lr=0.0).fit()["history"]
    mixed = trainer(tmp_path / "mixed", unlabelled=unlabelled, lr=0.0,
                    entropy_minimisation=1.0, virtual_adversarial=0.5).fit()["history"]
    for before, after in zip(plain, mixed):
        for key in ("train_loss", "train_accuracy", "valid_loss", "valid_accuracy"):
            assert after[key] == before[key], key
        assert after["train_entropy"] > 0 and after["train_virtual_adversarial_loss"] >= 0
        assert "train_entropy" not in before


def test_a_resumed_run_reads_both_streams_from_where_they_were(tmp_path, monkeypatch):
    unlabelled = Encoded(sequences(5, 9), [0] * 5)  # 2 batches a round: rounds wrap in a run
    extras = {"entropy_minimisation": 0.5, "virtual_adversarial": 0.5, "adversarial": 0.3,
              "checkpoint_minutes": 0.0}
    whole = trainer(tmp_path / "whole", unlabelled=unlabelled, **extras).fit()
    real = interrupt_at(monkeypatch, 6)  # the labelled stream's 6th batch: epoch 2's 2nd
    with pytest.raises(KeyboardInterrupt):
        trainer(tmp_path / "cut", unlabelled=unlabelled, **extras).fit()
    state = checkpoint.load_training_state(tmp_path / "cut" / "last")
    assert state["unlabelled"] == {"round": 2, "position": 0}  # 4 steps taken: 2 rounds
    monkeypatch.setattr(loop, "collate", real)
    resumed = trainer(tmp_path / "cut", unlabelled=unlabelled, **extras)
    assert resumed.resume()
    history = resumed.fit()["history"]
    for name in ("best", "last"):
        saved = checkpoint.load_weights(tmp_path / "cut" / name)
        for key, value in checkpoint.load_weights(tmp_path / "whole" / name).items():
            assert torch.equal(saved[key], value), (name, key)
    for key in ("train_loss", "train_entropy", "train_virtual_adversarial_loss"):
        assert history[-1][key] == whole["history"][-1][key], key


def test_the_stream_visits_every_sequence_once_a_round_in_a_new_order():
    stream = UnlabelledStream(sequences(10, 2), batch_size=3, seed=4)
    rounds = []
    for _ in range(2):
        seen = []
        while True:
            seen += stream.next().indices
            if stream.position == 0:
                break
        rounds.append(seen)
    assert sorted(rounds[0]) == sorted(rounds[1]) == list(range(10))
    assert rounds[0] != rounds[1]


def test_bad_settings_say_what_is_wrong(tmp_path):
    with pytest.raises(ValueError, match="must be >= 0"):
        FitConfig(entropy_minimisation=-1.0)
    with pytest.raises(ValueError, match="virtual_adversarial_xi"):
        FitConfig(virtual_adversarial_xi=0.0)
    with pytest.raises(ValueError, match="one label per text"):
        Trainer(model(), FitConfig(entropy_minimisation=1.0), labelled(4, 0), labelled(2, 1),
                tmp_path, {}, ["<pad>"], task=MultiLabelTask(), **QUIET)
    with pytest.raises(ValueError, match="at least one sequence"):
        UnlabelledStream([], batch_size=2)
    with pytest.raises(ValueError, match="ξ > 0"):
        UnlabelledLosses(xi=0.0)


# ---- where the unlabelled texts come from -------------------------------------------------


def test_unlabelled_texts_are_read_from_the_files_people_have(tmp_path):
    from gatedrnn.data.labelled import LabelledDataError, read_unlabelled

    (tmp_path / "lines.txt").write_text("first text\n\n  second text \n", encoding="utf-8")
    assert read_unlabelled(tmp_path / "lines.txt") == ["first text", "second text"]
    folder = tmp_path / "unsup" / "part"
    folder.mkdir(parents=True)
    for i, text in enumerate(["one review", "", "two reviews"]):
        (folder / f"{i}.txt").write_text(text, encoding="utf-8")
    assert read_unlabelled(tmp_path / "unsup") == ["one review", "two reviews"]
    (tmp_path / "rows.csv").write_text("id,sentence\n1,a row\n2,another row\n", encoding="utf-8")
    assert read_unlabelled(tmp_path / "rows.csv") == ["a row", "another row"]
    (tmp_path / "rows.jsonl").write_text('{"body": "json text"}\n', encoding="utf-8")
    assert read_unlabelled(tmp_path / "rows.jsonl") == ["json text"]
    (tmp_path / "empty.txt").write_text("\n \n", encoding="utf-8")
    with pytest.raises(LabelledDataError, match="empty.txt holds no text"):
        read_unlabelled(tmp_path / "empty.txt")
    (tmp_path / "latin.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(LabelledDataError, match="latin.txt:1: not UTF-8.*--encoding"):
        read_unlabelled(tmp_path / "latin.txt")
    assert read_unlabelled(tmp_path / "latin.txt", encoding="latin-1") == ["café"]
    with pytest.raises(LabelledDataError, match="no column looks like the text"):
        (tmp_path / "odd.csv").write_text("a,b\n1,2\n", encoding="utf-8")
        read_unlabelled(tmp_path / "odd.csv")


def test_a_classifier_learns_from_unlabelled_texts_given_on_the_command_line(tmp_path):
    from click.testing import CliRunner

    from gatedrnn.cli import main
    from gatedrnn.train import checkpoint

    rng = random.Random(0)
    rows = ["text,label"] + [f"{'good' if i % 2 else 'bad'} film {rng.randrange(9)},"
                             f"{'pos' if i % 2 else 'neg'}" for i in range(40)]
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (tmp_path / "more.txt").write_text("\n".join(f"a good film {i}" for i in range(30)),
                                       encoding="utf-8")
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["classify", "train", "--data", tmp_path / "train.csv",
                                       "--unlabelled", tmp_path / "more.txt", "--preset",
                                       "tiny", "--epochs", "1", "--out", out, "--json"])
    assert result.exit_code == 0, result.output
    assert "unlabelled: 30 texts" in result.output
    fit = checkpoint.read_config(out / "best")["fit"]
    assert (fit["entropy_minimisation"], fit["virtual_adversarial"]) == (1.0, 0.3)
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert json_field(lines[0], "train_virtual_adversarial_loss") >= 0
    refused = CliRunner().invoke(main, ["classify", "train", "--data", tmp_path / "train.csv",
                                        "--unlabelled", tmp_path / "more.txt", "--preset",
                                        "linear", "--out", tmp_path / "linear"])
    assert refused.exit_code != 0 and "unlabelled texts apply to recurrent" in refused.output


def json_field(line: str, key: str):
    import json
    return json.loads(line)[key]


def test_sentiment_reads_the_unlabelled_reviews_when_its_fit_asks(tmp_path, imdb_archive,
                                                                   monkeypatch):
    from gatedrnn.sentiment import train
    from gatedrnn.train import semi_supervised

    seen = {}
    real_setup = semi_supervised.UnlabelledLosses.setup

    def setup(self, trainer):
        real_setup(self, trainer)
        seen["unlabelled"] = len(trainer.unlabelled_data)
        seen["train"] = len(trainer.train_data)

    monkeypatch.setattr(semi_supervised.UnlabelledLosses, "setup", setup)
    train(imdb_archive, "tiny", tmp_path / "run", overrides={"epochs": 1,
                                                            "entropy_minimisation": 1.0},
          show_progress=False, log=lambda m: None)
    assert seen["unlabelled"] == 10 + seen["train"]  # the fixture's 10 unsup + training ones
    with pytest.raises(ValueError, match="read by a teacher .* or by the semi-supervised"):
        train(imdb_archive, "tiny", tmp_path / "no", unlabelled=5, show_progress=False,
              log=lambda m: None)


def test_a_teacher_labels_the_unlabelled_reviews_without_making_them_a_stream(
        tmp_path, imdb_archive, trained_sentiment, monkeypatch):
    # the teacher's reviews once came back as the semi-supervised stream of a run that had
    # asked for none, and replaced the stream of a run that had
    from gatedrnn.sentiment import training

    handed = []

    def record(*args, **kwargs):
        handed.append((len(args[0]), kwargs["unlabelled_tokens"]))
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "fit_recurrent", record)
    for overrides in ({}, {"entropy_minimisation": 1.0}):
        with pytest.raises(KeyboardInterrupt):
            training.train(imdb_archive, "tiny", tmp_path / "run", teacher=[trained_sentiment],
                           overrides=overrides, show_progress=False, log=lambda m: None)
    (taught, none), (taught_too, stream) = handed
    assert none is None
    # the stream: the fixture's 10 unsup reviews and the labelled training ones, as many as
    # the training set that the 10 teacher-labelled reviews joined
    assert taught == taught_too and len(stream) == taught
