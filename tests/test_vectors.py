"""Word-vector files (word2vec text/binary, GloVe, fastText), embedding initialisation, gensim."""

import gzip
import struct
from collections import Counter

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from gatedrnn.cli import main
from gatedrnn.data.vectors import (VectorsError, WordVectors, detect_format, embedding_matrix,
                                   load_vectors, save_word2vec_text, train_word2vec)
from gatedrnn.sentiment import train

WORDS = {"the": [0.1, 0.2, 0.3], "film": [1.0, -1.0, 0.5], "Great": [0.0, 2.0, -2.0],
         "awful": [-1.5, 0.25, 0.75]}


def text_lines(header: bool) -> str:
    lines = [f"{len(WORDS)} 3"] if header else []
    lines += [w + " " + " ".join(repr(v) for v in vec) for w, vec in WORDS.items()]
    return "\n".join(lines) + "\n"


def binary_bytes() -> bytes:
    out = f"{len(WORDS)} 3\n".encode()
    for word, vec in WORDS.items():
        out += word.encode() + b" " + struct.pack("<3f", *vec) + b"\n"
    return out


def check(vectors: WordVectors):
    assert vectors.words == list(WORDS)
    assert vectors.dim == 3
    np.testing.assert_allclose(vectors.vectors, np.array(list(WORDS.values()), np.float32))


@pytest.mark.parametrize("kind,name,content", [
    ("word2vec", "v.txt", lambda: text_lines(True).encode()),
    ("fasttext", "v.vec", lambda: text_lines(True).encode()),
    ("glove", "glove.6B.3d.txt", lambda: text_lines(False).encode()),
    ("word2vec-binary", "v.bin", binary_bytes),
])
def test_each_format_loads_explicitly_and_by_detection(tmp_path, kind, name, content):
    path = tmp_path / name
    path.write_bytes(content())
    check(load_vectors(path, kind))
    check(load_vectors(path))  # auto
    expected = "word2vec" if kind == "fasttext" else kind
    assert detect_format(path) == expected


def test_gzip_files_and_word_filter_and_limit(tmp_path):
    path = tmp_path / "v.vec.gz"
    with gzip.open(path, "wb") as f:
        f.write(text_lines(True).encode())
    check(load_vectors(path))
    kept = load_vectors(path, keep={"film", "great"})  # "Great" kept through its lowercase form
    assert kept.words == ["film", "Great"]
    assert load_vectors(path, max_words=2).words == ["the", "film"]


def test_fasttext_tokens_with_spaces_keep_them(tmp_path):
    path = tmp_path / "v.vec"
    path.write_text("2 2\nnew york 0.5 0.5\nparis 1 0\n", encoding="utf-8")
    assert load_vectors(path).words == ["new york", "paris"]


def test_truncated_and_malformed_files_are_named_with_their_line(tmp_path):
    short = tmp_path / "short.vec"
    short.write_text(text_lines(True).replace("4 3", "9 3"), encoding="utf-8")
    with pytest.raises(VectorsError, match="announces 9 vectors but the file has 4.*truncated"):
        load_vectors(short)
    ragged = tmp_path / "ragged.txt"
    ragged.write_text("a 1 2 3\nb 1 2\n", encoding="utf-8")
    with pytest.raises(VectorsError, match=r"ragged.txt:2: expected a word and 3 numbers"):
        load_vectors(ragged, "glove")
    not_number = tmp_path / "nan.txt"
    not_number.write_text("a 1 2 3\nb 1 x 3\n", encoding="utf-8")
    with pytest.raises(VectorsError, match=r"nan.txt:2: the vector of 'b' has a value"):
        load_vectors(not_number, "glove")
    binary = tmp_path / "cut.bin"
    binary.write_bytes(binary_bytes()[:-7])
    with pytest.raises(VectorsError, match="ends inside vector 4 of 4.*truncated"):
        load_vectors(binary)
    no_header = tmp_path / "noheader.vec"
    no_header.write_text(text_lines(False), encoding="utf-8")
    with pytest.raises(VectorsError, match="expected a '<count> <dim>' header.*glove"):
        load_vectors(no_header, "word2vec")
    with pytest.raises(FileNotFoundError):
        load_vectors(tmp_path / "missing.vec")


def test_words_that_are_not_utf8_are_replaced_and_counted(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("café 1 2\n".encode("latin-1") + b"tea 3 4\n")
    with pytest.warns(UserWarning, match="1 word.*not valid UTF-8"):
        vectors = load_vectors(path, "glove")
    assert vectors.words == ["caf\ufffd", "tea"] and vectors.undecodable == 1


def test_embedding_matrix_takes_exact_then_lowercased_vectors():
    vectors = WordVectors(list(WORDS), np.array(list(WORDS.values()), np.float32), "t")
    itos = ["<pad>", "<unk>", "the", "great", "film", "zebra"]
    counts = Counter({"the": 10, "great": 5, "film": 3, "zebra": 2})
    weights, stats = embedding_matrix(vectors, itos, counts=counts)
    assert weights.shape == (6, 3)
    assert torch.equal(weights[0], torch.zeros(3))                  # padding
    assert torch.allclose(weights[2], torch.tensor(WORDS["the"]))   # exact
    assert torch.allclose(weights[3], torch.tensor(WORDS["Great"]))  # through lowercase
    assert stats["found"] == 3 and stats["found_lowercased"] == 1
    assert stats["most_frequent_missing"] == ["zebra"]
    assert stats["token_coverage"] == pytest.approx(18 / 20)
    again, _ = embedding_matrix(vectors, itos, counts=counts)
    assert torch.equal(weights, again)  # seeded


def test_save_and_load_round_trip(tmp_path):
    vectors = WordVectors(["a", "b"], np.array([[0.5, -0.25], [1.0, 2.0]], np.float32))
    path = save_word2vec_text(vectors, tmp_path / "out" / "v.vec")
    back = load_vectors(path)
    assert back.words == ["a", "b"]
    np.testing.assert_allclose(back.vectors, vectors.vectors)
    assert not list(path.parent.glob("*.tmp"))


def test_word2vec_training_with_gensim():
    texts = [["good", "film", "great", "acting"], ["bad", "film", "awful", "acting"]] * 50
    epochs = []
    vectors = train_word2vec(texts, dim=8, min_count=1, epochs=3, workers=1,
                             progress=lambda e, s: epochs.append(e))
    assert epochs == [1, 2, 3]
    assert set(vectors.words) == {"good", "film", "great", "acting", "bad", "awful"}
    assert vectors.vectors.shape == (6, 8)
    assert len(vectors.neighbours("film", 3)) == 3


def test_training_with_frozen_vectors_keeps_them(tmp_path, imdb_archive):
    from gatedrnn.sentiment import Predictor
    path = tmp_path / "v.vec"
    path.write_text("3 4\ngreat 1 0 0 0\nawful 0 1 0 0\nfilm 0 0 1 0\n", encoding="utf-8")
    messages = []
    summary = train(imdb_archive, "tiny", tmp_path / "run", overrides={"epochs": 1},
                    vectors=path, freeze_embeddings=True, show_progress=False,
                    log=messages.append)
    assert summary["embeddings"]["found"] == 3
    assert any("3 of" in m and "vocabulary words found" in m for m in messages)
    predictor = Predictor.load(tmp_path / "run" / "last")
    embedding = predictor.model.embedding.weight
    assert embedding.shape[1] == 4  # the vectors' dimension replaced the preset's
    assert torch.equal(embedding[predictor.vocab.stoi["great"]], torch.tensor([1.0, 0, 0, 0]))


def test_cli_embeddings_train_and_info(tmp_path, imdb_archive):
    out = tmp_path / "v.vec"
    result = CliRunner().invoke(main, ["embeddings", "train", "--data", str(imdb_archive),
                                       "--out", str(out), "--dim", "8", "--epochs", "2",
                                       "--min-count", "1", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "epoch 2/2" in result.output and out.exists()
    info = CliRunner().invoke(main, ["embeddings", "info", str(out), "--neighbours", "film",
                                     "--neighbours", "nosuchword"])
    assert info.exit_code == 0, info.output
    assert "word2vec" in info.output and "× 8" in info.output
    assert "film:" in info.output and "has no vector" in info.output


def test_a_preset_with_word2vec_trains_its_vectors_first_then_reuses_them(tmp_path, imdb_archive,
                                                                         monkeypatch):
    import dataclasses

    import gatedrnn.sentiment as sentiment
    preset = dataclasses.replace(sentiment.PRESETS["tiny"], word2vec={
        "dim": 8, "epochs": 1, "min_count": 1, "workers": 1})
    monkeypatch.setitem(sentiment.PRESETS, "tiny-w2v", preset)
    messages = []
    summary = train(imdb_archive, "tiny-w2v", tmp_path / "run", overrides={"epochs": 1},
                    show_progress=False, log=messages.append)
    assert (tmp_path / "run" / "word2vec.vec").exists()
    assert any("training word vectors" in m for m in messages)
    assert summary["embeddings"]["dim"] == 8 and summary["embeddings"]["found"] > 10
    messages.clear()
    train(imdb_archive, "tiny-w2v", tmp_path / "run", overrides={"epochs": 1},
          show_progress=False, log=messages.append)
    assert any("reusing the word vectors" in m for m in messages)
    assert "best" in sentiment.PRESETS and sentiment.PRESETS["best"].word2vec
