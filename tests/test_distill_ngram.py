"""The n-gram classifier (NBSVM) and distillation onto unlabelled reviews."""

import json

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

from gatedrnn.cli import main
from gatedrnn.data import imdb
from gatedrnn.data.batching import collate
from gatedrnn.models import ngram
from gatedrnn.sentiment import Ensemble, NgramPredictor, Predictor, evaluate, train
from gatedrnn.train import checkpoint
from gatedrnn.train.loop import ClassificationTask, Encoded, classification_loss

QUIET = {"show_progress": False, "log": lambda m: None}


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Teacher probabilities are cached in the data cache: keep each test's to itself."""
    monkeypatch.setenv("GATEDRNN_DATA_DIR", str(tmp_path / "cache"))


# ---- n-grams -----------------------------------------------------------------------------------


def test_ngrams_are_distinct_and_bounded_by_max_n():
    assert ngram.ngrams(["a", "b", "a", "b"], 2) == ["a", "a b", "b", "b a"]
    assert ngram.ngrams(["a", "b", "c"], 3) == ["a", "a b", "a b c", "b", "b c", "c"]
    assert ngram.ngrams([], 3) == []


def test_fit_matches_the_naive_bayes_weighted_regression_it_folds():
    """The folded weights score a review exactly as the regression on r-scaled features."""
    import numpy as np
    from scipy import sparse
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    documents = [["good", "film"], ["bad", "film"], ["very", "good"], ["very", "bad", "plot"],
                 ["good", "plot"], ["bad"]]
    labels = [1, 0, 1, 0, 1, 0]
    grams, model = ngram.fit(documents, labels, max_n=2, max_features=None, C=1.0)
    vectorizer = CountVectorizer(analyzer=lambda t: ngram.ngrams(t, 2), binary=True)
    x = vectorizer.fit_transform(documents).astype(np.float64)
    assert vectorizer.get_feature_names_out().tolist() == grams
    y = np.array(labels)
    p, q = x[y == 1].sum(0).A1 + 1, x[y == 0].sum(0).A1 + 1
    r = np.log((p / p.sum()) / (q / q.sum()))
    reference = LogisticRegression(C=1.0, solver="liblinear", dual=True).fit(
        x @ sparse.diags(r), y)
    index = ngram.NgramIndex(grams, 2)
    logits = model(*index.batch([index.encode(d) for d in documents]))
    expected = reference.decision_function(x @ sparse.diags(r))
    torch.testing.assert_close(logits[:, 1] - logits[:, 0],
                               torch.tensor(expected, dtype=torch.float32), atol=1e-4, rtol=1e-4)
    assert (logits.argmax(1) == torch.tensor(labels)).all()


def _corpus(size=60, seed=0):
    import random
    rng = random.Random(seed)
    words = ["good", "bad", "film", "plot", "very", "not", "dull", "fun", "actor", "end"]
    return [[rng.choice(words) for _ in range(rng.randint(0, 12))] for _ in range(size)]


def test_binary_counts_equal_count_vectorizers():
    import numpy as np
    from sklearn.feature_extraction.text import CountVectorizer

    documents = _corpus()
    grams, x = ngram.binary_counts(documents, 3, None)
    vectorizer = CountVectorizer(analyzer=lambda t: ngram.ngrams(t, 3), binary=True)
    expected = vectorizer.fit_transform(documents)
    assert grams == vectorizer.get_feature_names_out().tolist()
    assert x.dtype == np.float32 and x.has_sorted_indices
    assert (x != expected).nnz == 0


def test_max_features_keeps_the_most_frequent_and_breaks_ties_by_crc():
    import zlib
    from collections import Counter

    documents = _corpus(80, seed=1)
    frequency = Counter(g for d in documents for g in ngram.ngrams(d, 2))
    grams, x = ngram.binary_counts(documents, 2, 25)
    ranked = sorted(frequency, key=lambda g: (-frequency[g], zlib.crc32(g.encode()), g))
    assert grams == sorted(ranked[:25])
    assert x.shape == (80, 25)
    assert frequency[ranked[24]] == frequency[ranked[25]]  # the cut falls inside a tie
    # the same choice whatever the documents' order
    assert ngram.binary_counts(documents[::-1], 2, 25)[0] == grams


def test_binary_counts_do_not_depend_on_the_processs_string_hashing():
    import subprocess
    import sys
    script = ("from gatedrnn.models import ngram; import random; r = random.Random(2); "
              "w = 'a b c d e f g h'.split(); "
              "docs = [[r.choice(w) for _ in range(9)] for _ in range(40)]; "
              "g, x = ngram.binary_counts(docs, 3, 50); print(g, x.indices.tolist())")
    outputs = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              check=True, env={**__import__("os").environ,
                                               "PYTHONHASHSEED": seed}).stdout
               for seed in ("1", "2", "3")}
    assert len(outputs) == 1


def test_binary_counts_of_no_or_empty_documents():
    grams, x = ngram.binary_counts([[], []], 2, 10)
    assert grams == [] and x.shape == (2, 0)
    grams, x = ngram.binary_counts([], 2, None)
    assert grams == [] and x.shape == (0, 0)


def test_unknown_ngrams_are_skipped_and_an_empty_review_gets_the_bias():
    index = ngram.NgramIndex(["a", "a b", "b"], 2)
    assert index.encode(["a", "z", "b"]) == [0, 2]
    model = ngram.NgramClassifier(ngram.NgramConfig(vocab_size=3, max_n=2))
    model.set_weights(torch.tensor([1.0, 2.0, 3.0]), 0.5)
    logits = model(*index.batch([index.encode(["a", "b"]), [], index.encode(["a"])]))
    # "a" + "a b" + "b" + bias; the bias alone; "a" + bias
    torch.testing.assert_close(logits[:, 1] - logits[:, 0], torch.tensor([6.5, 0.5, 1.5]))


def test_config_and_index_refuse_bad_values():
    with pytest.raises(ValueError, match="num_classes must be 2"):
        ngram.NgramConfig(vocab_size=3, num_classes=3)
    with pytest.raises(ValueError, match="max_n must be a positive integer"):
        ngram.NgramConfig(vocab_size=3, max_n=0)
    with pytest.raises(ValueError, match="the same n-gram twice"):
        ngram.NgramIndex(["a", "a"], 1)
    with pytest.raises(ValueError, match="both labels"):
        ngram.fit([["a"], ["b"]], [1, 1])


@pytest.fixture(scope="module")
def trained_ngram(tmp_path_factory, imdb_archive):
    out = tmp_path_factory.mktemp("nbsvm")
    summary = train(imdb_archive, "nbsvm", out, **QUIET)
    return out, summary


def test_nbsvm_preset_learns_the_fixture_and_round_trips(trained_ngram, imdb_archive):
    out, summary = trained_ngram
    assert [h["C"] for h in summary["history"]] == [0.1, 0.3, 1.0]
    predictor = Predictor.load(out)
    assert isinstance(predictor, NgramPredictor)
    config = checkpoint.read_config(out / "best")
    assert config["model_type"] == "ngram" and config["fit"]["C"] in (0.1, 0.3, 1.0)
    test = imdb.load(imdb_archive).test
    report = evaluate(predictor, [r.text for r in test], [r.label for r in test])
    assert report["accuracy"] >= 0.9
    again = Predictor.load(out).probabilities([r.text for r in test[:5]], batch_size=2)
    torch.testing.assert_close(again, predictor.probabilities([r.text for r in test[:5]]))
    assert predictor.predict("")[0]["empty"] is True


def test_nbsvm_joins_an_ensemble_with_a_recurrent_model(trained_ngram, trained_sentiment):
    out, _ = trained_ngram
    texts = ["A great and wonderful film.", "Boring, the worst."]
    ensemble = Ensemble.load([out, trained_sentiment])
    expected = (Predictor.load(out).probabilities(texts)
                + Predictor.load(trained_sentiment).probabilities(texts)) / 2
    torch.testing.assert_close(ensemble.probabilities(texts), expected)


def test_an_ngram_checkpoint_with_a_foreign_vocabulary_is_refused(trained_ngram, tmp_path):
    import shutil
    out, _ = trained_ngram
    copy = tmp_path / "copy"
    shutil.copytree(out / "best", copy)
    grams = json.loads((copy / "vocab.json").read_text())["itos"]
    (copy / "vocab.json").write_text(json.dumps({"itos": grams[::-1]}))
    with pytest.raises(checkpoint.CheckpointError, match="does not match the vocabulary"):
        Predictor.load(copy)


def test_nbsvm_preset_refuses_recurrent_options(tmp_path, imdb_archive):
    with pytest.raises(ValueError, match="vectors, init_from apply to recurrent presets only"):
        train(imdb_archive, "nbsvm", tmp_path, vectors="x.vec", init_from="lm", **QUIET)
    with pytest.raises(ValueError, match="read by a teacher"):
        train(imdb_archive, "nbsvm", tmp_path, unlabelled=5, **QUIET)


def test_ratios_count_a_document_by_its_probability_of_being_positive():
    """A teacher-labelled review adds p to the positive and 1 - p to the negative counts;
    0/1 probabilities are the plain labels."""
    import numpy as np
    documents = [["good"], ["bad"], ["good", "bad"], ["good"]]
    labels = [1, 0, 1, 1]
    plain = ngram.NgramFeatures.count(documents, labels, max_n=1, max_features=None)
    same = ngram.NgramFeatures.count(documents, labels, max_n=1, max_features=None,
                                     positive=[1.0, 0.0, 1.0, 1.0])
    np.testing.assert_allclose(plain.ratio, same.ratio)
    soft = ngram.NgramFeatures.count(documents, labels, max_n=1, max_features=None,
                                     positive=[1.0, 0.0, 0.6, 0.9])
    assert soft.grams == ["bad", "good"]
    p = np.array([0.6, 1.0 + 0.6 + 0.9]) + 1   # bad, good: positive mass + smoothing
    q = np.array([1.0 + 0.4, 0.4 + 0.1]) + 1
    np.testing.assert_allclose(soft.ratio, np.log((p / p.sum()) / (q / q.sum())), rtol=1e-6)
    assert soft.labels.tolist() == labels  # the regression keeps the 0/1 labels
    with pytest.raises(ValueError, match="one probability per document: 3 for 4"):
        ngram.NgramFeatures.count(documents, labels, max_n=1, positive=[1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        ngram.NgramFeatures.count(documents, labels, max_n=1, positive=[1.0, 0.0, 1.5, 1.0])
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        ngram.NgramFeatures.count(documents, labels, max_n=1,
                                  positive=[1.0, 0.0, float("nan"), 1.0])


def test_nbsvm_learns_from_a_teacher_on_the_unlabelled_reviews(
        tmp_path, imdb_archive, trained_sentiment, monkeypatch):
    """The unlabelled reviews join the NBSVM's training set: the teacher's probability
    weighs their counts, its most likely label is their regression target."""
    import gatedrnn.models.ngram as module
    seen = {}
    original = module.NgramFeatures.count

    def spy(documents, labels, **kwargs):
        seen.update(documents=documents, labels=labels, positive=kwargs["positive"])
        return original(documents, labels, **kwargs)

    monkeypatch.setattr(module.NgramFeatures, "count", spy)
    summary = train(imdb_archive, "nbsvm", tmp_path / "nb", teacher=[trained_sentiment],
                    unlabelled=6, **QUIET)
    data = imdb.load(imdb_archive, unsup=True)
    train_part, _ = imdb.validation_split(data.train, 0.1, 0)
    n = len(train_part)
    assert len(seen["documents"]) == n + 6 and summary["teacher_labelled_reviews"] == 6
    assert seen["positive"][:n] == [float(r.label) for r in train_part]
    soft = torch.tensor(seen["positive"][n:])
    assert ((soft > 0) & (soft < 1)).all()  # the teacher's probabilities, not labels
    assert seen["labels"][n:] == (soft > 0.5).long().tolist()
    config = checkpoint.read_config(tmp_path / "nb" / "best")
    assert config["distilled_from"] == {"teacher": [str(trained_sentiment)],
                                        "unlabelled_reviews": 6}
    assert isinstance(Predictor.load(tmp_path / "nb"), NgramPredictor)


# ---- soft targets and distillation -------------------------------------------------------------


class _Fixed(torch.nn.Module):
    def __init__(self, logits):
        super().__init__()
        self.logits = logits

    def forward(self, tokens, lengths):
        return self.logits


def test_soft_targets_are_the_cross_entropy_of_the_distribution_and_one_hot_is_hard():
    logits = torch.tensor([[0.2, 1.0], [1.5, -0.5]])
    data = Encoded([[2, 3], [4]], [1, 0], [[0.3, 0.7], [1.0, 0.0]])
    batch = ClassificationTask().collate(data, [0, 1])
    loss, correct, n = classification_loss(_Fixed(logits), batch)
    expected = -(torch.tensor([[0.3, 0.7], [1.0, 0.0]]) * F.log_softmax(logits, 1)).sum(1).mean()
    torch.testing.assert_close(loss, expected)
    assert (correct, n) == (2, 2)
    one_hot = Encoded([[2, 3], [4]], [1, 0], [[0.0, 1.0], [1.0, 0.0]])
    hard = Encoded([[2, 3], [4]], [1, 0])
    torch.testing.assert_close(
        classification_loss(_Fixed(logits), ClassificationTask().collate(one_hot, [0, 1]))[0],
        classification_loss(_Fixed(logits), ClassificationTask().collate(hard, [0, 1]))[0])
    assert collate([[1]], [0]).targets is None


def test_a_student_trains_on_the_teachers_soft_labels_of_unlabelled_reviews(
        tmp_path, imdb_archive, trained_ngram, monkeypatch):
    import gatedrnn.classify.training as sentiment  # the training core sentiment.train uses
    teacher, _ = trained_ngram
    seen = {}
    original = sentiment.Trainer

    def spy(model, config, train_set, *args, **kwargs):
        seen["train"] = train_set
        return original(model, config, train_set, *args, **kwargs)

    monkeypatch.setattr(sentiment, "Trainer", spy)
    summary = train(imdb_archive, "tiny", tmp_path / "student", teacher=[teacher],
                    unlabelled=6, **QUIET)
    data = imdb.load(imdb_archive, unsup=True)
    train_part, _ = imdb.validation_split(data.train, 0.1, 0)
    train_set = seen["train"]
    assert len(train_set) == len(train_part) + 6
    labelled = train_set.targets[:len(train_part)]
    assert all(t == [float(k == r.label) for k in (0, 1)]
               for t, r in zip(labelled, train_part))
    soft = torch.tensor(train_set.targets[len(train_part):])
    torch.testing.assert_close(soft.sum(1), torch.ones(6))
    assert ((soft > 0) & (soft < 1)).all()  # probabilities, not hard labels
    assert train_set.labels[len(train_part):] == soft.argmax(1).tolist()
    config = checkpoint.read_config(tmp_path / "student" / "best")
    assert config["distilled_from"] == {"teacher": [str(teacher)], "unlabelled_reviews": 6}
    assert summary["best_valid_accuracy"] > 0


def test_a_split_by_film_is_recorded_and_a_teacher_on_another_split_is_warned_of(
        tmp_path, imdb_archive, trained_ngram):
    messages = []
    train(imdb_archive, "nbsvm", tmp_path / "nb", split_by="film", teacher=[trained_ngram[0]],
          show_progress=False, log=messages.append)
    config = checkpoint.read_config(tmp_path / "nb" / "best")
    assert (config["validation_split_seed"], config["validation_split_by"]) == (0, "film")
    warning = [m for m in messages if m.startswith("warning: teacher")]
    assert len(warning) == 1 and "seed 0 by review" in warning[0] and "by film" in warning[0]
    messages.clear()
    train(imdb_archive, "tiny", tmp_path / "student", split_by="film",
          teacher=[tmp_path / "nb"], show_progress=False, log=messages.append)
    assert not [m for m in messages if m.startswith("warning")]  # same split: no warning
    result = CliRunner().invoke(main, ["sentiment", "evaluate", str(tmp_path / "nb"), "--data",
                                       str(imdb_archive), "--split", "validation",
                                       "--split-by", "film", "--json"])
    assert result.exit_code == 0, result.output
    _, valid = imdb.validation_split(imdb.load(imdb_archive).train, 0.1, 0, by="film")
    assert json.loads(result.output)["count"] == len(valid)


def test_unlabelled_without_a_teacher_and_a_teacher_without_unlabelled_reviews(
        tmp_path, imdb_archive, trained_ngram):
    from conftest import imdb_files, write_archive
    with pytest.raises(ValueError, match="read by a teacher"):
        train(imdb_archive, "tiny", tmp_path / "a", unlabelled=5, **QUIET)
    bare = write_archive(tmp_path / "bare.tar.gz", imdb_files(per_class=10, unsup=0))
    with pytest.raises(ValueError, match="no unlabelled reviews"):
        train(bare, "tiny", tmp_path / "b", teacher=[trained_ngram[0]], **QUIET)


def test_cli_trains_nbsvm_then_a_distilled_student(tmp_path, imdb_archive):
    runner = CliRunner()
    done = runner.invoke(main, ["sentiment", "train", "--data", str(imdb_archive), "--preset",
                                "nbsvm", "--out", str(tmp_path / "nb"), "--split-by", "film"])
    assert done.exit_code == 0, done.output
    done = runner.invoke(main, ["sentiment", "train", "--data", str(imdb_archive), "--preset",
                                "tiny", "--out", str(tmp_path / "student"), "--teacher",
                                str(tmp_path / "nb"), "--unlabelled", "4", "--json",
                                "--split-by", "film"])
    assert done.exit_code == 0, done.output
    assert "warning" not in done.output
    assert checkpoint.read_config(tmp_path / "student" / "best")["validation_split_by"] == "film"
    done = runner.invoke(main, ["sentiment", "train", "--data", str(imdb_archive), "--preset",
                                "nbsvm", "--out", str(tmp_path / "nb2"), "--teacher",
                                str(tmp_path / "student"), "--json"])
    assert done.exit_code == 0 and "warning: teacher" in done.output  # review split vs film
    done = runner.invoke(main, ["sentiment", "evaluate", str(tmp_path / "nb"),
                                str(tmp_path / "student"), "--data", str(imdb_archive),
                                "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["accuracy"] > 0.5
    done = runner.invoke(main, ["sentiment", "train", "--data", str(imdb_archive), "--preset",
                                "nbsvm", "--out", str(tmp_path / "x"), "--epochs", "3"])
    assert done.exit_code != 0 and "apply to recurrent presets only" in done.output


def test_an_ngram_model_serves_predictions_but_refuses_explain_and_export(trained_ngram,
                                                                        tmp_path):
    from fastapi.testclient import TestClient

    from gatedrnn.serve.app import build
    out, _ = trained_ngram
    for onnx in (False, True):  # --onnx keeps an n-gram model in PyTorch
        client = TestClient(build([out], onnx=onnx))
        response = client.post("/predict", json={"texts": ["a great wonderful film"]})
        assert response.status_code == 200, response.text
        expected = Predictor.load(out).predict(["a great wonderful film"])[0]["confidence"]
        assert response.json()["predictions"][0]["confidence"] == pytest.approx(expected)
    response = client.post("/explain", json={"text": "a great film"})
    assert response.status_code == 422 and "no embeddings or gates" in response.json()["error"]
    runner = CliRunner()
    done = runner.invoke(main, ["explain", str(out), "a great film"])
    assert done.exit_code != 0 and "no embeddings or gates to explain" in done.output
    done = runner.invoke(main, ["export", str(out), "--onnx", str(tmp_path / "m.onnx")])
    assert done.exit_code != 0 and "ONNX export is for recurrent networks" in done.output


def test_teacher_probabilities_are_cached_by_weights_and_texts(trained_ngram, trained_sentiment,
                                                                tmp_path, monkeypatch):
    from gatedrnn import sentiment
    teacher = [trained_ngram[0], trained_sentiment]
    texts = ["a great film", "boring and awful", "the plot"]
    first = sentiment.teacher_probabilities(teacher, texts, **QUIET)
    # the teachers' raw probabilities: a temperature fitted later must not change what a
    # student learns
    expected = Ensemble.load(teacher, calibrated=False).probabilities(texts)
    torch.testing.assert_close(first, expected)
    assert len(list((tmp_path / "cache" / "teacher").glob("*.safetensors"))) == 2

    def fail(*args, **kwargs):
        raise AssertionError("recomputed a cached teacher")

    monkeypatch.setattr(NgramPredictor, "probabilities", fail)
    monkeypatch.setattr(Predictor, "probabilities", fail)
    torch.testing.assert_close(sentiment.teacher_probabilities(teacher, texts, **QUIET), first)
    with pytest.raises(AssertionError, match="recomputed"):  # other texts: another key
        sentiment.teacher_probabilities(teacher, texts[:2], **QUIET)


def test_a_damaged_teacher_cache_entry_is_recomputed(trained_ngram, tmp_path):
    from gatedrnn import sentiment
    texts = ["a great film", "boring"]
    first = sentiment.teacher_probabilities([trained_ngram[0]], texts, **QUIET)
    (stored,) = (tmp_path / "cache" / "teacher").glob("*.safetensors")
    stored.write_bytes(stored.read_bytes()[:20])  # truncated
    messages = []
    again = sentiment.teacher_probabilities([trained_ngram[0]], texts, show_progress=False,
                                            log=messages.append)
    torch.testing.assert_close(again, first)
    assert any("unreadable" in m for m in messages)


def test_without_scikit_learn_fitting_says_what_to_install(monkeypatch, tmp_path, imdb_archive):
    import sys
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(ImportError, match=r"pip install 'gatedrnn\[ngram\]'"):
        ngram.fit([["good"], ["bad"]], [1, 0])
    done = CliRunner().invoke(main, ["sentiment", "train", "--data", str(imdb_archive),
                                     "--preset", "nbsvm", "--out", str(tmp_path / "nb")])
    assert done.exit_code != 0 and "needs scikit-learn" in done.output
