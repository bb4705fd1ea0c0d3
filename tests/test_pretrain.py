"""Language-model pretraining, fine-tuning from it, and the exercise-5 training options:
discriminative learning rates, gradual unfreezing, word dropout, random crops, test-time crops,
ensembles."""

import json

import pytest
import torch
from click.testing import CliRunner

from gatedrnn.cli import main
from gatedrnn.models.classifier import ClassifierConfig, SentimentClassifier
from gatedrnn.models.language_model import LanguageModel, LanguageModelConfig
from gatedrnn.pretrain import pretrain, windows
from gatedrnn.sentiment import Ensemble, Predictor, evaluate, train
from gatedrnn.train import checkpoint
from gatedrnn.train.loop import Encoded, FitConfig, Trainer, random_window

QUIET = {"show_progress": False, "log": lambda m: None}


# ---- language-model data and model -----------------------------------------------------------


def test_windows_cut_reviews_and_drop_single_words():
    assert windows([[1, 2, 3, 4, 5], [6], [7, 8]], 2) == [[1, 2], [3, 4], [7, 8]]
    assert windows([list(range(7))], 3) == [[0, 1, 2], [3, 4, 5]]  # [6] predicts nothing
    with pytest.raises(ValueError, match="bptt"):
        windows([[1, 2]], 1)


@pytest.mark.parametrize("cutoffs", [[5, 20], []])
def test_each_direction_predicts_only_from_its_own_side(cutoffs):
    torch.manual_seed(0)
    config = LanguageModelConfig(vocab_size=50, embedding_dim=6, hidden_size=16, dropout=0.0,
                                 embedding_dropout=0.0, cutoffs=cutoffs)
    model = LanguageModel(config)
    tokens = torch.randint(2, 50, (1, 8))
    lengths = torch.tensor([8])
    embedded = model.embedding(tokens).detach().requires_grad_(True)
    output = model.encoder(embedded, lengths=lengths, need_cell_state=False)[0]
    # the forward state at step 3 predicts token 4: it must not depend on steps 4..7
    forward_state = output[0, 3, :16]
    grad, = torch.autograd.grad(forward_state.sum(), embedded, retain_graph=True)
    assert grad[0, 4:].abs().max() == 0 and grad[0, :4].abs().max() > 0
    # the backward state at step 4 predicts token 3: it must not depend on steps 0..3
    backward_state = output[0, 4, 16:]
    grad, = torch.autograd.grad(backward_state.sum(), embedded)
    assert grad[0, :4].abs().max() == 0 and grad[0, 4:].abs().max() > 0
    loss, correct, count = model(tokens, lengths, count_correct=True)
    assert count == 2 * 7 and torch.isfinite(loss) and 0 <= correct <= count


def test_padding_does_not_change_the_loss():
    torch.manual_seed(0)
    model = LanguageModel(LanguageModelConfig(vocab_size=40, embedding_dim=6, hidden_size=5,
                                              cutoffs=[10])).eval()
    a, b = torch.randint(2, 40, (5,)), torch.randint(2, 40, (3,))
    padded = torch.zeros(2, 5, dtype=torch.long)
    padded[0], padded[1, :3] = a, b
    together, _, n = model(padded, torch.tensor([5, 3]))
    alone_a, _, na = model(a.unsqueeze(0), torch.tensor([5]))
    alone_b, _, nb = model(b.unsqueeze(0), torch.tensor([3]))
    assert n == na + nb == 2 * (4 + 2)
    assert together.item() == pytest.approx((alone_a.item() * na + alone_b.item() * nb) / n,
                                            abs=1e-5)


def test_a_stacked_bidirectional_language_model_is_refused():
    with pytest.raises(ValueError, match="one layer.*could read the word it predicts"):
        LanguageModelConfig(vocab_size=10, num_layers=2, bidirectional=True)
    LanguageModelConfig(vocab_size=10, num_layers=2, bidirectional=False)


def test_encoder_weights_have_the_classifier_names():
    lm = LanguageModel(LanguageModelConfig(vocab_size=30, embedding_dim=4, hidden_size=3))
    classifier = SentimentClassifier(ClassifierConfig(vocab_size=30, embedding_dim=4,
                                                      hidden_size=3, num_layers=1))
    missing, unexpected = classifier.load_state_dict(lm.encoder_state_dict(), strict=False)
    assert not unexpected
    assert all(not k.startswith(("embedding.", "encoder.")) for k in missing)


# ---- pretraining and fine-tuning -------------------------------------------------------------


@pytest.fixture(scope="module")
def pretrained_lm(tmp_path_factory, imdb_archive):
    out = tmp_path_factory.mktemp("lm")
    summary = pretrain(imdb_archive, out, preset="tiny", bptt=12,
                       overrides={"epochs": 2, "batch_size": 8, "lr": 1e-2}, **QUIET)
    return out, summary


def test_pretraining_learns_and_writes_a_checkpoint(pretrained_lm):
    out, summary = pretrained_lm
    losses = [h["train_loss"] for h in summary["history"]]
    assert losses[1] < losses[0]
    assert 1 < summary["valid_perplexity"] < 2_000
    config = checkpoint.read_config(out / "best")
    assert config["task"] == "language-model" and config["bptt"] == 12
    assert len(json.loads((out / "metrics.jsonl").read_text().splitlines()[0])) > 3


def test_fine_tuning_starts_from_the_language_model(tmp_path, imdb_archive, pretrained_lm):
    lm_dir, _ = pretrained_lm
    lm_weights = checkpoint.load_weights(lm_dir / "best")
    messages = []
    # Gradual unfreezing: one epoch trains only the top group (pooling + head), so the
    # embedding and encoder must still be exactly the language model's.
    train(imdb_archive, "tiny", tmp_path / "run", overrides={"epochs": 1,
                                                             "gradual_unfreezing": True},
          init_from=lm_dir, show_progress=False, log=messages.append)
    assert any("starting from the language model" in m for m in messages)
    tuned = checkpoint.load_weights(tmp_path / "run" / "last")
    for name, value in lm_weights.items():
        if name.startswith(("embedding.", "encoder.")):
            assert torch.equal(tuned[name], value), name
    head_before = SentimentClassifier(ClassifierConfig(vocab_size=3)).head  # just a shape check
    assert tuned["head.weight"].shape[0] == head_before.weight.shape[0]
    vocab = checkpoint.load_vocab_tokens(tmp_path / "run" / "last")
    assert vocab == checkpoint.load_vocab_tokens(lm_dir / "best")


def test_init_from_refuses_an_encoder_shape_of_its_own(tmp_path, imdb_archive, pretrained_lm):
    """The encoder's weights are the language model's: a width of its own would have been
    replaced without a word."""
    lm_dir, _ = pretrained_lm
    width = checkpoint.read_config(lm_dir / "best")["model"]["hidden_size"]
    with pytest.raises(ValueError, match=f"fixes hidden_size={width}; drop that option"):
        train(imdb_archive, "tiny", tmp_path / "run", init_from=lm_dir,
              model_overrides={"hidden_size": width + 8}, **QUIET)
    assert not (tmp_path / "run").exists()


def test_init_from_refuses_a_classifier_checkpoint(tmp_path, imdb_archive, trained_sentiment):
    with pytest.raises(checkpoint.CheckpointError, match="not a pretrained language model"):
        train(imdb_archive, "tiny", tmp_path / "run", init_from=trained_sentiment, **QUIET)


def test_cli_pretrain_then_train(tmp_path, imdb_archive):
    runner = CliRunner()
    lm = tmp_path / "lm"
    result = runner.invoke(main, ["sentiment", "pretrain", "--data", str(imdb_archive),
                                  "--preset", "tiny", "--out", str(lm), "--epochs", "1",
                                  "--bptt", "16", "--batch-size", "8"])
    assert result.exit_code == 0, result.output
    assert "held-out perplexity" in result.output
    result = runner.invoke(main, ["sentiment", "train", "--data", str(imdb_archive), "--preset",
                                  "tiny", "--out", str(tmp_path / "clf"), "--init-from", str(lm),
                                  "--epochs", "2", "--discriminative-lr", "2.6",
                                  "--gradual-unfreezing", "--word-dropout", "0.1",
                                  "--max-length", "12", "--random-crop", "--pooling", "mean"])
    assert result.exit_code == 0, result.output
    config = checkpoint.read_config(tmp_path / "clf" / "best")
    assert config["initialised_from"]["language_model"].startswith(str(lm))
    assert config["fit"]["gradual_unfreezing"] and config["model"]["word_dropout"] == 0.1
    assert config["model"]["pooling"] == "mean"


# ---- training options ------------------------------------------------------------------------


def tiny_trainer(tmp_path, **fit):
    model = SentimentClassifier(ClassifierConfig(vocab_size=20, embedding_dim=4, hidden_size=3,
                                                 num_layers=2, pooling="max"))
    data = Encoded([[2, 3, 4], [5, 6]], [0, 1])
    return model, Trainer(model, FitConfig(epochs=3, batch_size=2, lr=1.0, **fit), data, data,
                          tmp_path, {"task": "sentiment"}, ["<pad>", "<unk>"], **QUIET)


def test_discriminative_learning_rates_fall_by_the_factor_per_group(tmp_path):
    model, trainer = tiny_trainer(tmp_path, discriminative_lr=2.0)
    rates = [g["lr"] for g in trainer.optimizer.param_groups]
    assert rates == [0.125, 0.25, 0.5, 1.0]  # embedding, encoder layer 0, layer 1, head
    assert sum(len(g["params"]) for g in trainer.optimizer.param_groups) == \
        len(list(model.parameters()))
    with pytest.raises(ValueError, match="discriminative_lr"):
        FitConfig(discriminative_lr=0.5)


def test_gradual_unfreezing_opens_one_more_group_per_epoch(tmp_path):
    from gatedrnn.train.callbacks import GradualUnfreezing

    model, trainer = tiny_trainer(tmp_path, gradual_unfreezing=True)
    unfreezing = next(c for c in trainer.callbacks if isinstance(c, GradualUnfreezing))
    trainable = []
    for epoch in range(5):
        trainer.epoch = epoch
        unfreezing.before_epoch(trainer)
        trainable.append([all(p.requires_grad for p in g) for g in trainer.layer_groups])
    assert trainable == [[False, False, False, True], [False, False, True, True],
                         [False, True, True, True], [True] * 4, [True] * 4]


def test_word_dropout_only_in_training_and_never_on_padding():
    torch.manual_seed(0)
    model = SentimentClassifier(ClassifierConfig(vocab_size=20, embedding_dim=4, hidden_size=3,
                                                 num_layers=1, word_dropout=0.5))
    seen = []
    model.embedding.register_forward_hook(lambda m, args, out: seen.append(args[0].clone()))
    tokens = torch.tensor([[5, 6, 7, 8, 9, 10, 0, 0]] * 8)
    lengths = torch.tensor([6] * 8)
    model.train()(tokens, lengths)
    model.eval()(tokens, lengths)
    trained, evaluated = seen
    assert (trained[:, :6] == 1).any() and (trained[:, :6] != 1).any()
    assert (trained[:, 6:] == 0).all()
    assert torch.equal(evaluated, tokens)
    with pytest.raises(ValueError, match="word_dropout"):
        ClassifierConfig(vocab_size=5, word_dropout=1.0)


def test_random_window_length_and_range():
    torch.manual_seed(0)
    sequence = list(range(100))
    starts = set()
    for _ in range(50):
        window = random_window(sequence, 10)
        assert len(window) == 10 and window == list(range(window[0], window[0] + 10))
        starts.add(window[0])
    assert len(starts) > 10 and max(starts) <= 90
    assert random_window([1, 2], 10) == [1, 2]


# ---- test-time crops and ensembles -----------------------------------------------------------


def test_test_time_crops(trained_sentiment):
    predictor = Predictor.load(trained_sentiment)
    texts = ["great film", "awful " * 30 + "great " * 30, "boring"]
    whole = predictor.probabilities(texts)
    cropped = predictor.probabilities(texts, crops=3, crop_length=20)
    assert torch.allclose(whole[[0, 2]], cropped[[0, 2]])  # short texts are read whole
    windows = [" ".join((["awful"] * 30 + ["great"] * 30)[s:s + 20]) for s in (0, 20, 40)]
    expected = predictor.probabilities(windows).mean(0)
    assert torch.allclose(cropped[1], expected, atol=1e-6)
    assert torch.allclose(cropped.sum(1), torch.ones(3))


def test_ensemble_averages_members_and_checks_labels(trained_sentiment, tmp_path, imdb_archive):
    single = Predictor.load(trained_sentiment)
    other_dir = tmp_path / "other"
    train(imdb_archive, "tiny", other_dir, seed=1, overrides={"epochs": 2}, **QUIET)
    other = Predictor.load(other_dir)
    ensemble = Ensemble([single, other])
    texts = ["great wonderful film", "awful boring plot", ""]
    expected = (single.probabilities(texts) + other.probabilities(texts)) / 2
    assert torch.allclose(ensemble.probabilities(texts), expected)
    assert [r["label"] for r in ensemble.predict(texts)][:2] == ["pos", "neg"]
    report = evaluate(ensemble, texts[:2], [1, 0])
    assert report["accuracy"] == 1.0 and "+" in report["checkpoint"]
    other.labels = ["bad", "good"]
    with pytest.raises(ValueError, match="cannot be averaged"):
        Ensemble([single, other])


def test_cli_predict_and_evaluate_with_several_checkpoints(trained_sentiment, imdb_archive):
    runner = CliRunner()
    result = runner.invoke(main, ["sentiment", "predict", str(trained_sentiment),
                                  str(trained_sentiment), "--jsonl", "a great film"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert len(lines) == 1 and lines[0]["text"] == "a great film"
    result = runner.invoke(main, ["sentiment", "evaluate", str(trained_sentiment),
                                  str(trained_sentiment), "--data", str(imdb_archive),
                                  "--crops", "2", "--crop-length", "8", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["crops"] == 2 and report["checkpoint"].count("+") == 1


# ---- hyperparameter search -------------------------------------------------------------------


def test_search_scores_on_validation_resumes_and_respects_max_trials(tmp_path, imdb_archive,
                                                                     monkeypatch):
    import gatedrnn.sentiment as sentiment
    from gatedrnn.search import draw, search

    calls = []
    real_train = sentiment.train

    def counting_train(*args, **kwargs):
        calls.append(kwargs["overrides"])
        return real_train(*args, **kwargs)

    monkeypatch.setattr(sentiment, "train", counting_train)
    monkeypatch.setattr(sentiment, "evaluate", lambda *a, **k: pytest.fail("test set touched"))
    out = tmp_path / "search"
    result = search(imdb_archive, out, preset="tiny", max_trials=2, epochs=1, **QUIET)
    assert len(result["trials"]) == 2 and len(calls) == 2
    assert result["best"]["valid_accuracy"] == max(t["valid_accuracy"] for t in result["trials"])
    assert json.loads((out / "best.json").read_text())["trial"] == result["best"]["trial"]
    # the same seed draws the same settings; a rerun continues after the finished trials
    import random
    rng = random.Random(0)
    assert [draw(rng)[1]["lr"] for _ in range(2)] == [t["fit"]["lr"] for t in result["trials"]]
    again = search(imdb_archive, out, preset="tiny", max_trials=3, epochs=1, **QUIET)
    assert len(again["trials"]) == 3 and len(calls) == 3


def test_cli_search(tmp_path, imdb_archive):
    result = CliRunner().invoke(main, ["sentiment", "search", "--data", str(imdb_archive),
                                       "--preset", "tiny", "--out", str(tmp_path / "s"),
                                       "--max-trials", "1", "--epochs", "1"])
    assert result.exit_code == 0, result.output
    assert "trial   1" in result.output and "best.json" in result.output


def test_a_batch_run_in_parts_makes_the_same_update(tmp_path):
    """step_max_tokens splits a long batch into parts whose gradients add up: the weights after
    one epoch equal those of the whole batch at once (no dropout, float64)."""
    data = Encoded([[2, 3, 4, 5, 6, 7], [5, 6], [7, 8, 9], [3, 4, 5, 6, 7, 8, 9, 2], [4]],
                   [0, 1, 1, 0, 1])
    weights, losses = [], []
    for cap in (None, 8):
        torch.manual_seed(0)
        model = SentimentClassifier(ClassifierConfig(
            vocab_size=20, embedding_dim=4, hidden_size=3, num_layers=2, pooling="mean",
            dropout=0.0)).double()
        trainer = Trainer(model, FitConfig(epochs=1, batch_size=5, lr=0.1, step_max_tokens=cap),
                          data, data, tmp_path / str(cap), {"task": "sentiment"},
                          ["<pad>", "<unk>"], **QUIET)
        parts = trainer._parts(list(range(5)), data.lengths)
        assert len(parts) == (1 if cap is None else 4)  # 5 × 8 tokens; parts of ≤ 8 padded
        losses.append(trainer._train_epoch(model)["train_loss"])
        weights.append([p.detach().clone() for p in model.parameters()])
    assert losses[0] == pytest.approx(losses[1], abs=1e-6)  # the loss is taken in float32
    for a, b in zip(*weights):
        torch.testing.assert_close(a, b, atol=1e-7, rtol=0)  # float32 loss rounding
    with pytest.raises(ValueError, match="step_max_tokens"):
        FitConfig(step_max_tokens=0)


def test_bounded_memory_training_trims_the_heap_after_every_batch(tmp_path, monkeypatch):
    from gatedrnn.train import callbacks
    calls = []
    monkeypatch.setattr(callbacks, "release_free_memory", lambda: calls.append(1))
    for cap, expected in ((None, 0), (1000, 3)):
        calls.clear()
        model, trainer = tiny_trainer(tmp_path / str(cap), step_max_tokens=cap)
        trainer.train_data = Encoded([[2, 3], [4], [5, 6, 7], [8], [9, 2, 3]], [0, 1, 0, 1, 0])
        trainer._train_epoch(model)  # 5 sequences in batches of 2: 3 batches
        assert len(calls) == expected
