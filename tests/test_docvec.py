"""Document vectors over words and n-grams (PV-DBOW, --preset dv-ngram)."""

import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from gatedrnn.cli import main
from gatedrnn.models import docvec
from gatedrnn.sentiment import DocVectorPredictor, Ensemble, Predictor, evaluate, train
from gatedrnn.train import checkpoint

pytest.importorskip("gensim")

QUIET = {"show_progress": False, "log": lambda m: None}


def topic_corpus(n=600, seed=0):
    """Documents whose words come mostly from one of two halves of a vocabulary."""
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(200)]
    documents, labels = [], []
    for i in range(n):
        half = words[:100] if i % 2 else words[100:]
        documents.append([rng.choice(half) if rng.random() < 0.4 else rng.choice(words)
                          for _ in range(rng.randint(20, 80))])
        labels.append(i % 2)
    return documents, labels


@pytest.fixture(scope="module")
def tiny_model():
    documents, labels = topic_corpus()
    # no subsampling: in 200 words every one is frequent, and sample=1e-4 would skip most
    tokens, output, counts, trained = docvec.train_dbow(
        [docvec.dbow_tokens(d, 2) for d in documents], dim=16, epochs=10, sample=0, workers=1)
    config = docvec.DocVectorConfig(vocab_size=len(tokens), dim=16, max_n=2, epochs=10,
                                    sample=0)
    model = docvec.DocVectorModel(config)
    model.set_tables(output, counts)
    index = docvec.DocVectorIndex(tokens, 2)
    return model, index, documents, labels, trained


def test_dbow_tokens_are_the_words_then_every_bigram_occurrence():
    assert docvec.dbow_tokens(["a", "b", "a", "b"], 2) == ["a", "b", "a", "b", "a b", "b a",
                                                           "a b"]
    assert docvec.dbow_tokens(["a", "b", "c"], 3) == ["a", "b", "c", "a b", "b c", "a b c"]
    assert docvec.dbow_tokens(["a"], 1) == ["a"]
    assert docvec.dbow_tokens([], 3) == []
    assert len(docvec.dbow_tokens(["x"] * 8000, 2)) == docvec.MAX_DOCUMENT_TOKENS


@pytest.mark.parametrize("bad, message", [({"dim": 0}, "dim must be a positive integer"),
                                          ({"min_alpha": 0.1}, "min_alpha <= alpha"),
                                          ({"sample": 1.5}, "sample must be in"),
                                          ({"num_classes": 3}, "binary")])
def test_config_refuses_bad_values(bad, message):
    with pytest.raises(ValueError, match=message):
        docvec.DocVectorConfig(vocab_size=10, **bad)


@pytest.mark.parametrize("sample", [1e-3, 0.0])
def test_the_rebuilt_inference_tables_are_the_training_runs(sample):
    """Subsampling thresholds and the noise table rebuilt from the stored counts equal those
    of the gensim model the vectors were trained in."""
    from gensim.models.doc2vec import Doc2Vec, TaggedDocument
    documents, _ = topic_corpus(200)
    trained = Doc2Vec([TaggedDocument(d, [i]) for i, d in enumerate(documents)], dm=0,
                      vector_size=8, min_count=2, sample=sample, epochs=2, workers=1)
    tokens = list(trained.wv.index_to_key)
    model = docvec.DocVectorModel(docvec.DocVectorConfig(vocab_size=len(tokens), dim=8,
                                                         sample=sample))
    model.set_tables(torch.from_numpy(trained.syn1neg),
                     torch.from_numpy(np.asarray(trained.wv.expandos["count"])))
    engine = model.engine()
    rows = [engine.wv.key_to_index[str(i)] for i in range(len(tokens))]
    np.testing.assert_array_equal(engine.wv.expandos["sample_int"][rows],
                                  trained.wv.expandos["sample_int"])
    np.testing.assert_array_equal(engine.syn1neg[rows], trained.syn1neg)
    np.testing.assert_array_equal(engine.cum_table, trained.cum_table)  # the noise draws


def test_a_documents_vector_does_not_depend_on_what_else_is_inferred(tiny_model):
    model, index, documents, _, _ = tiny_model
    encoded = [index.encode(docvec.dbow_tokens(d, 2)) for d in documents[:6]]
    together = model.infer(encoded)
    reversed_ = model.infer(encoded[::-1]).flip(0)
    alone = model.infer(encoded[2:3])
    threaded = model.infer(encoded, workers=3)
    # the same draws: equal up to BLAS rounding (a different draw moves a vector by ~1e-2)
    torch.testing.assert_close(together, reversed_, rtol=0, atol=1e-5)
    torch.testing.assert_close(together, threaded, rtol=0, atol=1e-5)
    torch.testing.assert_close(together[2:3], alone, rtol=0, atol=1e-5)
    assert model.infer([[]]).shape == (1, 16)  # a review of unknown words still gets one
    assert model.infer([]).shape == (0, 16)


def test_inferred_vectors_carry_what_the_documents_are_about(tiny_model):
    from sklearn.linear_model import LogisticRegression
    model, index, documents, labels, _ = tiny_model
    vectors = model.infer([index.encode(docvec.dbow_tokens(d, 2)) for d in documents]).numpy()
    y = np.array(labels)
    regression = LogisticRegression().fit(vectors[:400], y[:400])
    assert regression.score(vectors[400:], y[400:]) > 0.9


# ---- the preset ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained_docvec(tmp_path_factory, imdb_archive):
    from gatedrnn.sentiment import PRESETS
    out = tmp_path_factory.mktemp("docvec")
    options = PRESETS["dv-ngram"].model
    original = options["train_vectors"]
    options["train_vectors"] = ["trained", "inferred"]  # both paths (the preset takes one)
    try:
        summary = train(imdb_archive, "dv-ngram", out, **QUIET)
    finally:
        options["train_vectors"] = original
    return out, summary


def test_dv_ngram_trains_on_the_unlabelled_reviews_and_picks_by_validation(trained_docvec):
    out, summary = trained_docvec
    assert summary["unlabelled_reviews"] == 10
    tried = {(h["train_vectors"], h["C"]) for h in summary["history"]}
    assert {s for s, _ in tried} == {"trained", "inferred"}
    assert summary["best_valid_accuracy"] == max(h["valid_accuracy"]
                                                 for h in summary["history"])
    config = checkpoint.read_config(out / "best")
    assert config["model_type"] == "docvec" and config["fit"]["unlabelled_reviews"] == 10


def test_a_dv_ngram_checkpoint_predicts_like_any_sentiment_model(trained_docvec, imdb_archive,
                                                                 trained_sentiment):
    from gatedrnn.data import imdb
    out, _ = trained_docvec
    predictor = Predictor.load(out)
    assert isinstance(predictor, DocVectorPredictor)
    test = imdb.load(imdb_archive).test
    texts, labels = [r.text for r in test], [r.label for r in test]
    probabilities = predictor.probabilities(texts)
    assert probabilities.shape == (len(texts), 2)
    torch.testing.assert_close(probabilities.sum(1), torch.ones(len(texts)))
    # read back from disk: the same probabilities
    torch.testing.assert_close(Predictor.load(out).probabilities(texts), probabilities,
                               rtol=0, atol=1e-5)
    # (90 fixture reviews teach document vectors little: what they learn is tested above)
    assert evaluate(predictor, texts, labels)["count"] == len(texts)
    empty, = predictor.predict("")
    assert empty["empty"] and 0 <= empty["confidence"] <= 1
    with pytest.raises(TypeError, match="must be strings"):
        predictor.probabilities([3])
    both = Ensemble.load([out, trained_sentiment])
    assert both.probabilities(texts[:4]).shape == (4, 2)


def test_dv_trigram_learns_trigrams_and_reads_them_back(tmp_path, imdb_archive):
    from gatedrnn.data import imdb
    train(imdb_archive, "dv-trigram", tmp_path, **QUIET)
    config = checkpoint.read_config(tmp_path / "best")
    assert config["model"]["max_n"] == 3
    tokens = json.loads((tmp_path / "best" / "vocab.json").read_text())["itos"]
    assert any(token.count(" ") == 2 for token in tokens)  # trigrams were kept
    predictor = Predictor.load(tmp_path)
    assert predictor.index.max_n == 3  # a new review is read with its trigrams too
    texts = [r.text for r in imdb.load(imdb_archive).test[:6]]
    torch.testing.assert_close(Predictor.load(tmp_path).probabilities(texts),
                               predictor.probabilities(texts), rtol=0, atol=1e-5)


def test_a_dv_ngram_checkpoint_with_a_foreign_vocabulary_is_refused(trained_docvec, tmp_path):
    out, _ = trained_docvec
    copy = tmp_path / "copy"
    shutil.copytree(out / "best", copy)
    tokens = json.loads((copy / "vocab.json").read_text())["itos"]
    (copy / "vocab.json").write_text(json.dumps({"itos": tokens[::-1]}))
    with pytest.raises(checkpoint.CheckpointError, match="does not match the vocabulary"):
        Predictor.load(copy)


def test_dv_ngram_refuses_recurrent_options(tmp_path, imdb_archive):
    with pytest.raises(ValueError, match="init_from apply to recurrent presets only"):
        train(imdb_archive, "dv-ngram", tmp_path, init_from="lm", **QUIET)
    with pytest.raises(ValueError, match="read by a teacher"):
        train(imdb_archive, "dv-ngram", tmp_path, unlabelled=5, **QUIET)


def test_the_classifier_fits_hard_labels_as_scikit_learn_does():
    from sklearn.linear_model import LogisticRegression
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5))
    y = (x[:, 0] + 0.5 * rng.normal(size=200) > 0).astype(int)
    fitted = docvec.fit_classifier(torch.from_numpy(x).float(),
                                   torch.nn.functional.one_hot(torch.from_numpy(y), 2).float(),
                                   C=0.5)
    reference = LogisticRegression(C=0.5, max_iter=2000).fit(x.astype(np.float32), y)
    torch.testing.assert_close(fitted["weight"][1], torch.tensor(reference.coef_[0]).float(),
                               atol=1e-4, rtol=1e-4)
    assert fitted["weight"][0].abs().max() == 0 and fitted["bias"][0] == 0
    assert fitted["bias"][1] == pytest.approx(reference.intercept_[0], abs=1e-4)


def test_soft_targets_are_fitted_by_their_cross_entropy():
    """At the fit, the gradient of C·Σ CE(p, σ(w·x + b)) + ½‖w‖² vanishes: each soft row
    pulls towards its own probability, not towards its rounded label."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 4))
    p = 1 / (1 + np.exp(-(2 * x[:, 0] - x[:, 1])))
    hard = np.arange(300) < 100
    p[hard] = (p[hard] > 0.5).astype(float)
    targets = torch.from_numpy(np.stack([1 - p, p], 1)).float()
    C = 2.0
    fitted = docvec.fit_classifier(torch.from_numpy(x).float(), targets, C)
    w, b = fitted["weight"][1].double().numpy(), float(fitted["bias"][1])
    residual = 1 / (1 + np.exp(-(x @ w + b))) - targets[:, 1].double().numpy()
    gradient = np.append(C * residual @ x + w, C * residual.sum())
    assert np.abs(gradient).max() < 1e-2
    # the rounded labels would give another fit
    rounded = docvec.fit_classifier(torch.from_numpy(x).float(),
                                    torch.nn.functional.one_hot(targets.argmax(1), 2).float(), C)
    assert (rounded["weight"][1] - fitted["weight"][1]).abs().max() > 0.1


def test_dv_ngram_learns_from_a_teacher_on_the_unlabelled_reviews(tmp_path, imdb_archive,
                                                                  trained_sentiment,
                                                                  monkeypatch):
    monkeypatch.setenv("GATEDRNN_DATA_DIR", str(tmp_path / "cache"))  # its own teacher cache
    messages = []
    summary = train(imdb_archive, "dv-ngram", tmp_path / "taught", teacher=[trained_sentiment],
                    unlabelled=6, show_progress=False, log=messages.append)
    assert summary["unlabelled_reviews"] == summary["teacher_labelled_reviews"] == 6
    config = checkpoint.read_config(tmp_path / "taught" / "best")
    assert config["distilled_from"] == {"teacher": [str(trained_sentiment)],
                                        "unlabelled_reviews": 6}
    assert any("labelled in" in m for m in messages)  # the teacher labelled them
    assert Predictor.load(tmp_path / "taught").probabilities(["a fine film"]).shape == (1, 2)


def test_the_cli_trains_and_evaluates_a_dv_ngram_model(tmp_path, imdb_archive):
    runner = CliRunner()
    done = runner.invoke(main, ["sentiment", "train", "--data", str(imdb_archive), "--preset",
                                "dv-ngram", "--out", str(tmp_path / "dv"), "--json"])
    assert done.exit_code == 0, done.output
    done = runner.invoke(main, ["sentiment", "evaluate", str(tmp_path / "dv"), "--data",
                                str(imdb_archive), "--json"])
    assert done.exit_code == 0, done.output
    assert 0 <= json.loads(done.output[done.output.index("{"):])["accuracy"] <= 1


def test_inferred_vectors_do_not_change_with_the_processes_hash_seed():
    # gensim starts inference from hash(text), salted per process: a served model gave other
    # probabilities after every restart until the start was drawn from the document's own seed
    import os
    import subprocess
    import sys

    fixture = Path(__file__).parent / "fixtures" / "checkpoints" / "sentiment-docvec"
    code = ("import gatedrnn; print([p['probabilities']['pos'] for p in "
            f"gatedrnn.load({str(fixture)!r}).predict(['a wonderful film', 'dull and awful'])])")
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout
               for seed in ("1", "2")}
    assert len(outputs) == 1
