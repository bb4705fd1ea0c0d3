"""The AWD-LSTM regularisers, the output layers, forward and backward language models, ULMFiT
fine-tuning pieces, and `gatedrnn lm pretrain / evaluate / sample` on the fixture archive."""

import copy
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from torch import nn

from gatedrnn.cli import main
from gatedrnn.lm import evaluate_lm, load_language_model, sample
from gatedrnn.models.classifier import ClassifierConfig, SentimentClassifier
from gatedrnn.models.language_model import LanguageModel, LanguageModelConfig
from gatedrnn.nn import GRU, LSTM
from gatedrnn.nn.regularisers import LockedDropout, embedding_dropout, tie_weights
from gatedrnn.nn.softmax import sampled_softmax_loss
from gatedrnn.pretrain import pretrain
from gatedrnn.sentiment import train
from gatedrnn.train import checkpoint
from gatedrnn.train.loop import Encoded, FitConfig, Trainer

QUIET = {"show_progress": False, "log": lambda m: None}


# ---- weight dropout (DropConnect on the hidden-to-hidden matrices) ----------------------------


@pytest.mark.parametrize("layer_class", [LSTM, GRU])
@pytest.mark.parametrize("path", ["fused", "lengths", "scan"])
def test_weight_dropout_drops_hidden_weights_once_per_call_in_training_only(layer_class, path):
    torch.manual_seed(0)
    p = 0.5
    layer = layer_class(5, 6, num_layers=2, weight_dropout=p)
    x = torch.randn(7, 3, 5)
    kwargs = {"lengths": torch.tensor([7, 4, 2])} if path == "lengths" else {}
    if path == "scan":
        kwargs["impl"] = "scan"
    # the same layer with each hidden-to-hidden matrix replaced by one dropped draw, in eval
    torch.manual_seed(1)
    masked = copy.deepcopy(layer).eval()
    masked.weight_dropout = 0.0
    with torch.no_grad():
        for layer_index in range(2):
            w = getattr(layer, f"weight_hh_l{layer_index}")
            getattr(masked, f"weight_hh_l{layer_index}").copy_(F.dropout(w, p, training=True))
    torch.manual_seed(1)  # the training call draws the same masks first
    trained, _ = layer.train()(x, **kwargs)
    expected, _ = masked(x, **kwargs)
    assert torch.allclose(trained, expected, atol=1e-5)
    # only the hidden-to-hidden matrices were dropped: the parameters are untouched, and the
    # input-to-hidden weights and biases get every gradient
    trained.sum().backward()
    assert (layer.weight_hh_l0.grad == 0).float().mean() > 0.3
    assert (layer.weight_ih_l0.grad != 0).all() and (layer.bias_hh_l0.grad != 0).all()
    # eval: identity, exactly the layer without weight dropout
    plain = copy.deepcopy(layer).eval()
    plain.weight_dropout = 0.0
    layer.eval()
    assert torch.equal(layer(x, **kwargs)[0], plain(x, **kwargs)[0])


def test_weight_dropout_is_checked_and_shown():
    with pytest.raises(ValueError, match="weight_dropout"):
        LSTM(3, 4, weight_dropout=1.0)
    assert "weight_dropout=0.3" in repr(LSTM(3, 4, weight_dropout=0.3))
    # the parameter names stay torch.nn's: state dicts load both ways
    assert set(LSTM(3, 4, weight_dropout=0.3).state_dict()) == set(nn.LSTM(3, 4).state_dict())


# ---- locked dropout, embedding dropout, tied weights -----------------------------------------


def test_locked_dropout_shares_its_mask_over_time():
    torch.manual_seed(0)
    x = torch.ones(8, 20, 16)
    out = LockedDropout(0.5)(x)
    assert torch.equal(out, out[:, :1].expand_as(out))            # same over every step
    assert set(out.unique().tolist()) == {0.0, 2.0}               # kept values scaled
    assert not torch.equal(out[0], out[1])                        # its own mask per sequence
    time_major = LockedDropout(0.5, batch_first=False)(x.transpose(0, 1))
    assert torch.equal(time_major, time_major[:1].expand_as(time_major))
    assert torch.equal(LockedDropout(0.5).eval()(x), x)


def test_embedding_dropout_drops_whole_words_everywhere_in_the_batch():
    torch.manual_seed(0)
    embedding = nn.Embedding(30, 4)
    tokens = torch.arange(30).repeat(3, 1)  # each word three times
    out = embedding_dropout(embedding, tokens, 0.5, training=True)
    dropped = (out == 0).all(-1)
    assert dropped.any() and not dropped.all()
    assert torch.equal(dropped[0], dropped[1]) and torch.equal(dropped[0], dropped[2])
    kept = ~dropped[0]
    assert torch.allclose(out[0, kept], 2 * embedding.weight[kept])
    assert torch.equal(embedding_dropout(embedding, tokens, 0.5, training=False),
                       embedding(tokens))


def test_tied_weights_share_storage_and_survive_a_checkpoint(tmp_path):
    model = LanguageModel(LanguageModelConfig(vocab_size=40, embedding_dim=6, hidden_size=10,
                                              bidirectional=False, cutoffs=[],
                                              tie_weights=True))
    output = model.next_word.linear.weight
    assert output is model.embedding.weight
    assert output.untyped_storage().data_ptr() == model.embedding.weight.untyped_storage().data_ptr()
    assert model.projection.weight.shape == (6, 10)  # hidden 10 → embedding 6
    tokens = torch.randint(2, 40, (2, 5))
    model(tokens, torch.tensor([5, 5]))[0].backward()
    assert model.embedding.weight.grad is not None  # one gradient, from both uses
    checkpoint.save(tmp_path / "lm", config={}, state_dict=model.state_dict(),
                    vocab_tokens=["<pad>", "<unk>"], metrics={})
    loaded = LanguageModel(model.config)
    loaded.load_state_dict(checkpoint.load_weights(tmp_path / "lm"))
    assert loaded.next_word.linear.weight is loaded.embedding.weight
    assert torch.equal(loaded.embedding.weight, model.embedding.weight)
    tie_weights(nn.Linear(6, 40), nn.Embedding(40, 6))
    with pytest.raises(ValueError, match="project the encoder's output"):
        tie_weights(nn.Linear(5, 40), nn.Embedding(40, 6))
    with pytest.raises(ValueError, match="full softmax"):
        LanguageModelConfig(vocab_size=40, bidirectional=False, tie_weights=True)


# ---- the output layers ------------------------------------------------------------------------


def test_the_adaptive_softmax_loss_is_the_cross_entropy_of_a_whole_vocabulary_distribution():
    torch.manual_seed(0)
    head = nn.AdaptiveLogSoftmaxWithLoss(8, 100, [10, 40], div_value=2.0)
    states, targets = torch.randn(32, 8), torch.randint(100, (32,))
    log_probs = head.log_prob(states)
    assert torch.allclose(log_probs.exp().sum(1), torch.ones(32), atol=1e-5)
    full_loss = F.nll_loss(log_probs, targets)
    assert head(states, targets).loss.item() == pytest.approx(full_loss.item(), abs=1e-5)


def test_sampled_softmax_is_the_full_softmax_when_its_candidates_cover_the_vocabulary():
    torch.manual_seed(0)
    weight, bias = torch.randn(50, 8), torch.randn(50)
    states, targets = torch.randn(20, 8), torch.randint(50, (20,))
    full = F.cross_entropy(states @ weight.t() + bias, targets)
    covered = sampled_softmax_loss(states, weight, bias, targets, torch.ones(50), 5_000)
    assert covered.item() == pytest.approx(full.item(), abs=1e-5)
    # a few candidates: a different, finite estimate, with gradients for the rows it scored
    weight.requires_grad_(True)
    few = sampled_softmax_loss(states, weight, bias, targets, torch.ones(50), 5)
    few.backward()
    assert torch.isfinite(few) and (weight.grad.abs().sum(1) == 0).any()
    with pytest.raises(ValueError, match="one probability per word"):
        sampled_softmax_loss(states, weight, bias, targets, torch.ones(49), 5)


def test_the_language_model_full_softmax_is_plain_cross_entropy():
    torch.manual_seed(0)
    model = LanguageModel(LanguageModelConfig(vocab_size=30, embedding_dim=5, hidden_size=7,
                                              bidirectional=False, cutoffs=[])).eval()
    tokens, lengths = torch.randint(2, 30, (3, 6)), torch.tensor([6, 6, 6])
    loss, _, count = model(tokens, lengths)
    states, _ = model.hidden_states(tokens)
    expected = F.cross_entropy(model.next_word.linear(states[:, :-1]).reshape(-1, 30),
                               tokens[:, 1:].reshape(-1))
    assert count == 15 and loss.item() == pytest.approx(expected.item(), abs=1e-5)


def test_the_language_model_runs_under_bf16_autocast():
    model = LanguageModel(LanguageModelConfig(vocab_size=60, embedding_dim=8, hidden_size=8,
                                              bidirectional=False, cutoffs=[20]))
    tokens, lengths = torch.randint(2, 60, (2, 9)), torch.tensor([9, 5])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, _, _ = model(tokens, lengths)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)


# ---- backward models ---------------------------------------------------------------------------


def test_a_backward_language_model_is_the_forward_one_on_reversed_text():
    torch.manual_seed(0)
    settings = dict(vocab_size=40, embedding_dim=6, hidden_size=8, bidirectional=False,
                    cutoffs=[10])
    backward = LanguageModel(LanguageModelConfig(**settings, reverse=True)).eval()
    forward = LanguageModel(LanguageModelConfig(**settings)).eval()
    forward.load_state_dict(backward.state_dict())
    tokens = torch.tensor([[5, 6, 7, 8, 9], [11, 12, 13, 0, 0]])
    lengths = torch.tensor([5, 3])
    reversed_tokens = torch.tensor([[9, 8, 7, 6, 5], [13, 12, 11, 0, 0]])
    assert torch.equal(backward.reading_order(tokens, lengths), reversed_tokens)
    assert backward(tokens, lengths)[0].item() == pytest.approx(
        forward(reversed_tokens, lengths)[0].item(), abs=1e-6)
    with pytest.raises(ValueError, match="reverse"):
        LanguageModelConfig(vocab_size=10, reverse=True, bidirectional=True)


def test_a_backward_classifier_reads_each_review_from_its_end():
    torch.manual_seed(0)
    settings = dict(vocab_size=30, embedding_dim=4, hidden_size=5, num_layers=1,
                    bidirectional=False, pooling="last")
    backward = SentimentClassifier(ClassifierConfig(**settings, reverse=True)).eval()
    forward = SentimentClassifier(ClassifierConfig(**settings)).eval()
    forward.load_state_dict(backward.state_dict())
    tokens, lengths = torch.tensor([[5, 6, 7, 8], [9, 10, 0, 0]]), torch.tensor([4, 2])
    assert torch.allclose(backward(tokens, lengths),
                          forward(torch.tensor([[8, 7, 6, 5], [10, 9, 0, 0]]), lengths))


# ---- ULMFiT pieces -----------------------------------------------------------------------------


def test_concat_pooling_is_last_max_and_mean_side_by_side():
    torch.manual_seed(0)
    model = SentimentClassifier(ClassifierConfig(vocab_size=20, embedding_dim=4, hidden_size=3,
                                                 num_layers=1, bidirectional=True,
                                                 pooling="concat")).eval()
    assert model.head.in_features == 3 * 2 * 3
    tokens, lengths = torch.tensor([[4, 5, 6, 7], [8, 9, 0, 0]]), torch.tensor([4, 2])
    output, (h_n, _) = model.encoder(model.embedding(tokens), lengths=lengths)
    pooled, _ = model.pooling(output, lengths, h_n, 2)
    second = output[1, :2]
    assert torch.allclose(pooled[1], torch.cat([h_n[0, 1], h_n[1, 1], second.amax(0),
                                                second.mean(0)]))


def test_slanted_triangular_rates_rise_for_a_tenth_then_fall_linearly(tmp_path):
    model = SentimentClassifier(ClassifierConfig(vocab_size=20, embedding_dim=4, hidden_size=3,
                                                 num_layers=1))
    data = Encoded([[2, 3]] * 40, [0, 1] * 20)
    trainer = Trainer(model, FitConfig(epochs=1, batch_size=1, lr=0.32, scheduler="slanted"),
                      data, data, tmp_path, {}, ["<pad>", "<unk>"], **QUIET)
    rates = []
    for _ in range(40):
        rates.append(trainer.optimizer.param_groups[0]["lr"])
        trainer.optimizer.step()
        trainer.scheduler.step()
    assert rates[0] == pytest.approx(0.01)                # lr / 32
    assert max(rates) == pytest.approx(0.32, rel=0.02) and rates.index(max(rates)) in (3, 4)
    assert rates[-1] < 0.03 and all(a >= b for a, b in zip(rates[4:], rates[5:]))


def test_snapshots_save_the_weights_at_fractions_of_training(tmp_path):
    model = SentimentClassifier(ClassifierConfig(vocab_size=20, embedding_dim=4, hidden_size=3,
                                                 num_layers=1))
    data = Encoded([[2, 3]] * 8, [0, 1] * 4)
    trainer = Trainer(model, FitConfig(epochs=2, batch_size=2, snapshots=[0.5, 2]), data, data,
                      tmp_path, {"task": "sentiment"}, ["<pad>", "<unk>"], **QUIET)
    trainer.fit()
    assert json.loads((tmp_path / "snapshots" / "epoch-0.5" / "metrics.json").read_text()) == \
        {"epochs": 0.5, "steps": 2}
    assert checkpoint.load_weights(tmp_path / "snapshots" / "epoch-2").keys() == \
        model.state_dict().keys()
    with pytest.raises(ValueError, match="snapshots"):
        FitConfig(epochs=1, snapshots=[1.5])


def test_the_ulmfit_preset_needs_a_language_model(tmp_path, imdb_archive):
    with pytest.raises(ValueError, match="init_from"):
        train(imdb_archive, "ulmfit", tmp_path / "run", **QUIET)


# ---- pretraining, evaluation, sampling, fine-tuning on the fixture -----------------------------


@pytest.fixture(scope="module")
def backward_lm(tmp_path_factory, imdb_archive):
    out = tmp_path_factory.mktemp("lm") / "backward"
    summary = pretrain(imdb_archive, out, preset="awd-tiny", direction="backward",
                       overrides={"epochs": 2}, **QUIET)
    return out, summary


def test_lm_pretrain_evaluate_and_sample_from_the_command_line(tmp_path, imdb_archive):
    runner = CliRunner()
    out = tmp_path / "lm"
    result = runner.invoke(main, ["lm", "pretrain", "--data", str(imdb_archive), "--preset",
                                  "awd-tiny", "--out", str(out), "--snapshot", "0.5", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (out / "snapshots" / "epoch-0.5" / "model.safetensors").exists()
    config = checkpoint.read_config(out / "best")
    assert config["model"]["reverse"] is False and config["model"]["weight_dropout"] == 0.2
    result = runner.invoke(main, ["lm", "evaluate", str(out), "--data", str(imdb_archive),
                                  "--json"])
    assert result.exit_code == 0, result.output
    measured = json.loads(result.stdout)
    # the held-out reviews are drawn again from the run's seed: the same perplexity
    assert measured["perplexity"] == pytest.approx(summary["valid_perplexity"], rel=1e-4)
    assert measured["direction"] == "forward" and 0 <= measured["unk_share"] < 1
    result = runner.invoke(main, ["lm", "evaluate", str(out), "--data", str(imdb_archive),
                                  "--split", "test"])
    assert result.exit_code == 0 and "perplexity" in result.output and "test" in result.output
    text = tmp_path / "texts.txt"
    text.write_bytes("a good film\nbad \xff acting\n".encode("latin-1"))
    result = runner.invoke(main, ["lm", "evaluate", str(out), "--text", str(text)])
    assert result.exit_code == 0 and "not valid UTF-8" in result.output
    first = runner.invoke(main, ["lm", "sample", str(out), "The film was", "--words", "8",
                                 "--seed", "3", "--top-k", "5", "--temperature", "0.7"])
    again = runner.invoke(main, ["lm", "sample", str(out), "The film was", "--words", "8",
                                 "--seed", "3", "--top-k", "5", "--temperature", "0.7"])
    assert first.exit_code == 0, first.output
    assert first.output == again.output
    words = first.output.split()
    assert words[:3] == ["the", "film", "was"] and len(words) == 11
    assert "<unk>" not in words and "<pad>" not in words
    result = runner.invoke(main, ["lm", "sample", str(out), "   "])
    assert result.exit_code != 0 and "no words" in result.output


def test_greedy_sampling_follows_the_most_probable_word(backward_lm):
    out, _ = backward_lm
    model, vocab, _ = load_language_model(out)
    text = sample(out, "great acting", words=4, top_k=1)
    words = text.split()
    # a backward model writes what comes before the prompt
    assert words[-2:] == ["great", "acting"] and len(words) == 6
    ids = vocab.encode(["acting", "great"])
    states, state = model.hidden_states(torch.tensor([ids]))
    log_probs = model.next_word.log_prob(states[:, -1])[0]
    log_probs[:2] = -float("inf")  # <pad>, <unk> are never written
    assert words[-3] == vocab.itos[int(log_probs.argmax())]


def test_a_bidirectional_language_model_refuses_to_sample(tmp_path, imdb_archive):
    out = tmp_path / "bi"
    pretrain(imdb_archive, out, preset="tiny", bptt=12, overrides={"epochs": 1}, **QUIET)
    with pytest.raises(ValueError, match="cannot generate text"):
        sample(out, "good", words=3)


def test_interrupted_lm_pretraining_resumes_to_the_uninterrupted_weights(
        tmp_path, imdb_archive, backward_lm, monkeypatch):
    import gatedrnn.lm.training as pretraining
    uninterrupted, _ = backward_lm
    out = tmp_path / "lm"
    calls = {"n": 0}
    real_collate = pretraining.collate

    def interrupting_collate(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:  # the fifth training batch of epoch 1
            raise KeyboardInterrupt
        return real_collate(*args, **kwargs)

    settings = dict(preset="awd-tiny", direction="backward")
    monkeypatch.setattr(pretraining, "collate", interrupting_collate)
    with pytest.raises(KeyboardInterrupt):
        pretrain(imdb_archive, out, **settings,
                 overrides={"epochs": 2, "checkpoint_minutes": 0}, **QUIET)
    state = checkpoint.load_training_state(out / "last")
    assert (state["epoch"], state["batch_in_epoch"]) == (0, 4)
    monkeypatch.setattr(pretraining, "collate", real_collate)
    messages = []
    pretrain(imdb_archive, out, **settings, overrides={"epochs": 2}, resume=True,
             show_progress=False, log=messages.append)
    assert any("resumed from" in m and "batch 4" in m for m in messages)
    resumed = checkpoint.load_weights(out / "last")
    for name, value in checkpoint.load_weights(uninterrupted / "last").items():
        assert torch.allclose(resumed[name], value, atol=1e-6), name
    with pytest.raises(checkpoint.CheckpointError, match="different model configuration"):
        pretrain(imdb_archive, out, preset="awd-tiny", direction="forward",
                 overrides={"epochs": 3}, resume=True, **QUIET)


def test_a_classifier_fine_tuned_from_a_backward_lm_reads_backward(tmp_path, imdb_archive,
                                                                    backward_lm):
    lm_dir, _ = backward_lm
    train(imdb_archive, "ulmfit", tmp_path / "clf", init_from=lm_dir,
          overrides={"epochs": 1, "bf16": False}, **QUIET)
    config = checkpoint.read_config(tmp_path / "clf" / "best")
    assert config["model"]["reverse"] is True and config["model"]["pooling"] == "concat"
    assert config["fit"]["scheduler"] == "slanted" and config["fit"]["gradual_unfreezing"]
    # gradual unfreezing: after one epoch the embedding and the LSTM are still the LM's
    lm_weights = checkpoint.load_weights(lm_dir / "best")
    tuned = checkpoint.load_weights(tmp_path / "clf" / "best")
    assert torch.equal(tuned["encoder.weight_hh_l0"], lm_weights["encoder.weight_hh_l0"])


def test_explaining_a_backward_classifier_reports_positions_in_text_order():
    from gatedrnn.analysis.explain import explain
    from gatedrnn.data.text import Vocab
    from gatedrnn.sentiment import Predictor
    torch.manual_seed(0)
    vocab = Vocab(["<pad>", "<unk>", "good", "bad", "film", "plot"])
    settings = dict(vocab_size=6, embedding_dim=4, hidden_size=3, num_layers=1,
                    bidirectional=False, pooling="attention")
    backward = SentimentClassifier(ClassifierConfig(**settings, reverse=True)).eval()
    forward = SentimentClassifier(ClassifierConfig(**settings)).eval()
    forward.load_state_dict(backward.state_dict())
    read_back = explain(Predictor(backward, vocab, ["neg", "pos"]), "good film bad plot")
    read_forward = explain(Predictor(forward, vocab, ["neg", "pos"]), "plot bad film good")
    # the backward reader on a text is the forward reader on it reversed, position by position
    assert read_back["tokens"] == ["good", "film", "bad", "plot"]
    assert read_back["probabilities"]["pos"] == pytest.approx(
        read_forward["probabilities"]["pos"], abs=1e-6)
    assert read_back["contributions"] == pytest.approx(read_forward["contributions"][::-1],
                                                       abs=1e-6)
    assert read_back["attention"] == pytest.approx(read_forward["attention"][::-1], abs=1e-6)
    assert read_back["gates"]["l0"]["f"] == pytest.approx(
        read_forward["gates"]["l0"]["f"][::-1], abs=1e-6)


def test_a_backward_concat_pooling_classifier_exports_to_onnx(tmp_path, imdb_archive):
    pytest.importorskip("onnxruntime")
    from gatedrnn.export import check_parity, export_onnx
    out = tmp_path / "backward"
    train(imdb_archive, "tiny", out, overrides={"epochs": 1},
          model_overrides={"reverse": True, "pooling": "concat", "weight_dropout": 0.3}, **QUIET)
    info = export_onnx(out, tmp_path / "b.onnx")
    torch.manual_seed(0)
    vocab = info["graph"].model.config.vocab_size
    cases = [(torch.randint(1, vocab, (b, t)), torch.randint(1, t + 1, (b,)))
             for b, t in ((1, 1), (3, 9), (5, 30))]
    assert check_parity(tmp_path / "b.onnx", info["graph"], cases) <= 1e-4


def test_the_pipeline_builds_ulmfit_members_from_the_archive(tmp_path, imdb_archive):
    from gatedrnn.sentiment.pipeline import PipelineOptions, run_pipeline
    options = PipelineOptions(members=0, word_vectors=None, linear_preset="nbsvm",
                              doc_vector_presets=(), ensemble_teacher=False,
                              ulmfit_lm_preset="awd-tiny")
    report = run_pipeline(imdb_archive, tmp_path / "work", options, log=lambda m: None)
    assert set(report["rows"]) == {"ulmfit-forward", "ulmfit-backward", "nbsvm"}
    assert report["best_recurrent_by_validation"]["name"].startswith("ulmfit-")
    backward = json.loads((tmp_path / "work" / "ulmfit-backward" / "best" / "config.json")
                          .read_text())
    assert backward["model"]["reverse"] is True and backward["model"]["pooling"] == "concat"
    assert report["final_by_nested_cv"]["calibration"]["directory"]
    # a second run reuses every step
    again = run_pipeline(imdb_archive, tmp_path / "work", options, log=lambda m: None)
    assert set(again["reused_steps"]) == {"language models", "ulmfit", "members"}


def test_the_cost_curves_untrained_point_has_the_trained_models_shape_and_vocabulary(tmp_path):
    from gatedrnn.sentiment.pretraining_curve import language_model_minutes
    from gatedrnn.sentiment.pretraining_curve import untrained_language_model

    trained = Path(__file__).parent / "fixtures" / "checkpoints" / "lm-forward"
    out = untrained_language_model(trained, tmp_path / "untrained")
    assert checkpoint.read_config(out)["model"] == checkpoint.read_config(trained)["model"]
    assert checkpoint.load_vocab_tokens(out) == checkpoint.load_vocab_tokens(trained)
    fresh, old = checkpoint.load_weights(out), checkpoint.load_weights(trained)
    assert fresh.keys() == old.keys()
    assert not torch.equal(fresh["encoder.weight_hh_l0"], old["encoder.weight_hh_l0"])
    assert untrained_language_model(trained, out) == out  # made once, then reused
    step = {"threads_each": 1, "summaries": {"lm-forward": {
        "train_seconds": 120.0, "valid_perplexity": 110.0,
        "history": [{"peak_rss_mb": 900.0, "tokens_per_s": 13_000.0}]}}}
    assert language_model_minutes(step)["lm-forward"] == {
        "wall_minutes": 2.0, "core_minutes": 2.0, "tokens_per_s": 13_000.0,
        "peak_rss_mb": 900.0, "valid_perplexity": 110.0, "epochs": 1}
