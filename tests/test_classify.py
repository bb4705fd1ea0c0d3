"""Text classification on one's own data (gatedrnn classify): any labels and number of classes,
CSV to served model, Japanese end to end, a subword model kept in the checkpoint, and bad input
stopped in one line."""

import csv
import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

import gatedrnn
from gatedrnn.cli import main

CUES = {"HUM": ["who", "person", "wrote", "invented"], "LOC": ["where", "city", "country",
                                                              "river"],
        "NUM": ["how", "many", "year", "much"]}
FILLER = ["the", "is", "a", "of", "first", "famous", "old", "in", "was", "that"]
JA_CUES = {"pos": ["面白い", "素晴らしい", "感動した", "最高"],
           "neg": ["退屈", "ひどい", "つまらない", "最悪"]}
JA_FILLER = ["この", "映画", "は", "とても", "本当に", "物語", "が", "俳優", "の", "演技"]


def questions(n_per_class: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    rows = []
    for label, cues in CUES.items():
        for _ in range(n_per_class):
            words = [rng.choice(FILLER) for _ in range(rng.randint(3, 8))]
            words.insert(rng.randrange(len(words) + 1), rng.choice(cues))
            rows.append((" ".join(words).capitalize() + "?", label))
    rng.shuffle(rows)
    return rows


def japanese(n_per_class: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    rows = []
    for label, cues in JA_CUES.items():
        for _ in range(n_per_class):
            words = [rng.choice(JA_FILLER) for _ in range(rng.randint(3, 7))]
            words.insert(rng.randrange(len(words) + 1), rng.choice(cues))
            rows.append(("".join(words) + "。", label))
    rng.shuffle(rows)
    return rows


def write_csv(path: Path, rows, header=("text", "label")) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def fails(*args) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code != 0
    return result.output


@pytest.fixture(scope="module")
def question_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("questions")
    train = write_csv(folder / "train.csv", questions(40, 0))
    test = write_csv(folder / "test.csv", questions(10, 1))
    out = folder / "run"
    result = CliRunner().invoke(main, ["classify", "train", "--data", str(train), "--test",
                                       str(test), "--out", str(out), "--preset", "tiny",
                                       "--epochs", "8", "--json"])
    assert result.exit_code == 0, result.output
    return out, train, test, json.loads(result.stdout)


def test_a_csv_of_three_classes_trains_with_a_recorded_split_and_scores_its_test(question_run):
    out, _, _, summary = question_run
    assert summary["labels"] == ["HUM", "LOC", "NUM"]
    assert summary["test"]["accuracy"] >= 0.8 and summary["test"]["count"] == 30
    config = json.loads((out / "best" / "config.json").read_text())
    assert config["task"] == "text-classifier" and config["model"]["num_classes"] == 3
    assert config["validation"] == {"from": "split", "fraction": 0.1, "seed": 0}
    assert config["data"]["text_column"] == "text" and config["tokenizer"] == {"kind": "word"}
    assert config["calibration"]["temperature"] > 0


def test_evaluate_gives_accuracy_macro_f1_per_class_and_the_confusion_matrix(question_run):
    out, _, test, _ = question_run
    report = json.loads(run("classify", "evaluate", out, "--data", test, "--json").stdout)
    assert report["count"] == 30 and set(report["per_class"]) == {"HUM", "LOC", "NUM"}
    f1 = [c["f1"] for c in report["per_class"].values()]
    assert report["macro_f1"] == pytest.approx(sum(f1) / 3)
    assert sum(map(sum, report["confusion_matrix"]["rows_true_cols_predicted"])) == 30
    result = CliRunner().invoke(main, ["classify", "evaluate", str(out), "--data", str(test),
                                       "--plot", str(out / "confusion.png")])
    assert result.exit_code == 0, result.output
    assert "macro-F1" in result.stdout
    assert "confusion (rows true, columns predicted): HUM, LOC, NUM" in result.stdout
    png = (out / "confusion.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_predict_answers_with_every_class_probability(question_run):
    out, _, _, _ = question_run
    lines = run("classify", "predict", out, "Where is the river?", "--json").output.splitlines()
    answer = json.loads(lines[0])
    assert answer["label"] == "LOC" and set(answer["probabilities"]) == {"HUM", "LOC", "NUM"}
    assert sum(answer["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)


def test_a_classifier_serves_every_class_and_exports_to_onnx(question_run, tmp_path):
    pytest.importorskip("onnxruntime")
    from fastapi.testclient import TestClient

    from gatedrnn.export import check_parity, export_onnx
    from gatedrnn.serve.app import build

    out, _, _, _ = question_run
    client = TestClient(build([out]))
    health = client.get("/health").json()["models"][0]
    assert (health["task"], health["route"], health["explains"]) == ("text-classifier",
                                                                     "predict", True)
    answer = client.post("/predict", json={"texts": ["Who wrote it?"]}).json()
    assert set(answer["predictions"][0]["probabilities"]) == {"HUM", "LOC", "NUM"}
    info = export_onnx(out, tmp_path / "q.onnx")
    assert info["task"] == "text-classifier"
    assert check_parity(info["path"], info["graph"], [info["example"]]) < 1e-4
    # 'gatedrnn explain' reads any text classifier (it refused all but sentiment checkpoints)
    explained = json.loads(run("explain", out, "Where", "is", "the", "river?", "--json").stdout)
    assert explained["tokens"][:4] == ["where", "is", "the", "river"]
    assert len(explained["contributions"]) == len(explained["tokens"])
    assert set(explained["probabilities"]) == {"HUM", "LOC", "NUM"}


def test_japanese_from_a_csv_to_a_served_model(tmp_path):
    pytest.importorskip("fugashi")
    from fastapi.testclient import TestClient

    from gatedrnn.serve.app import build

    train = write_csv(tmp_path / "reviews.csv", japanese(40, 0))
    test = write_csv(tmp_path / "test.csv", japanese(10, 1))
    out = tmp_path / "ja"
    result = CliRunner().invoke(main, ["classify", "train", "--data", train, "--test", test,
                                       "--out", out, "--preset", "tiny", "--epochs", "8",
                                       "--json"])
    assert result.exit_code == 0, result.output
    assert "tokenizer: japanese (" in result.stderr  # auto chose it, and said so
    summary = json.loads(result.stdout)
    assert summary["test"]["accuracy"] >= 0.8
    model = gatedrnn.load(out)
    assert model.tokenizer("この映画は最高")[:2] == ["この", "映画"]
    assert model.predict(["この映画は本当に退屈。最悪。"])[0]["label"] == "neg"
    report = json.loads(run("classify", "evaluate", out, "--data", test, "--json").stdout)
    assert report["accuracy"] == pytest.approx(summary["test"]["accuracy"])
    answer = TestClient(build([out])).post("/predict", json={"texts": ["俳優の演技が最高。感動した。"]})
    assert answer.json()["predictions"][0]["label"] == "pos"


def test_a_subword_model_travels_inside_the_checkpoint(tmp_path):
    import shutil

    train = write_csv(tmp_path / "train.csv", questions(30, 2))
    out = tmp_path / "sub"
    run("classify", "train", "--data", train, "--out", out, "--preset", "tiny",
        "--tokenizer", "subword")
    assert (out / "best" / "tokenizer.model").exists()
    moved = tmp_path / "moved"
    shutil.copytree(out / "best", moved)
    before = gatedrnn.load(out).predict(["How many rivers?"])
    assert gatedrnn.load(moved).predict(["How many rivers?"]) == before
    (moved / "tokenizer.model").unlink()
    assert "tokenizer.model is missing" in fails("classify", "predict", moved, "x")


def test_a_folder_per_class_with_train_and_test_inside(tmp_path):
    for split, rows in (("train", questions(20, 3)), ("test", questions(5, 4))):
        for k, (text, label) in enumerate(rows):
            folder = tmp_path / "data" / split / label
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{k}.txt").write_text(text, encoding="utf-8")
    summary = json.loads(run("classify", "train", "--data", tmp_path / "data", "--out",
                             tmp_path / "run", "--preset", "tiny", "--json").stdout)
    assert summary["labels"] == ["HUM", "LOC", "NUM"] and summary["test"]["count"] == 15


def test_bad_input_is_refused_in_one_line(question_run, tmp_path, ud_treebank):
    out, train, _, _ = question_run
    lonely = write_csv(tmp_path / "lonely.csv", questions(5, 5) + [("Why?", "WHY")])
    assert "class 'WHY' has a single example" in fails(
        "classify", "train", "--data", lonely, "--out", tmp_path / "x", "--preset", "tiny")
    unseen = write_csv(tmp_path / "unseen.csv", [("What?", "DESC")])
    assert "labels training never saw: 'DESC'" in fails(
        "classify", "train", "--data", train, "--test", unseen, "--out", tmp_path / "y",
        "--preset", "tiny")
    assert "has labels the model was not trained on: 'DESC'" in fails(
        "classify", "evaluate", out, "--data", unseen)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("text,label\ncaf\xe9?,LOC\n".encode("cp1252"))
    assert "latin.csv:2: not UTF-8" in fails("classify", "evaluate", out, "--data", latin)
    from gatedrnn.tagging import train as train_tagger
    train_tagger(ud_treebank, "tiny", tmp_path / "tagger", overrides={"epochs": 1},
                 show_progress=False, log=lambda m: None)
    assert "is a 'tagger' checkpoint, not a text classifier" in fails(
        "classify", "predict", tmp_path / "tagger", "x")
    assert "no column looks like the text" in fails(
        "classify", "train", "--data", write_csv(tmp_path / "cols.csv", [("a", "b")],
                                                 header=("q", "y")),
        "--out", tmp_path / "z")


def test_a_text_the_model_cannot_read_is_called_out_of_vocabulary(question_run):
    """Before: an English model answered a Japanese sentence whose every token it had never
    seen with a confident label."""
    from fastapi.testclient import TestClient

    from gatedrnn.serve.app import build

    out, _, _, _ = question_run
    model = gatedrnn.load(out)
    unread, read = model.predict(["この映画はとても面白かった。", "Who wrote the city?"])
    assert unread["label"] == "out-of-vocabulary" and unread["out_of_vocabulary"]
    assert unread["known_tokens"] == 0.0 and unread["best_guess"] in model.labels
    assert read["known_tokens"] == 1.0 and "out_of_vocabulary" not in read
    answer = TestClient(build([out])).post("/predict", json={"texts": ["映画"]}).json()
    assert answer["predictions"][0]["out_of_vocabulary"] is True


def test_balanced_class_weights_count_a_rare_class_as_much_as_a_common_one(tmp_path):
    import torch
    import torch.nn.functional as F

    from gatedrnn.train.loop import ClassificationTask, Encoded, FitConfig

    rows = [r for r in questions(30, 6) if r[1] != "NUM"] + questions(5, 7)[:5]
    data = write_csv(tmp_path / "imbalanced.csv", rows)
    counts = {label: sum(r[1] == label for r in rows) for label in ("HUM", "LOC", "NUM")}
    out = tmp_path / "weighted"
    run("classify", "train", "--data", data, "--out", out, "--preset", "tiny",
        "--class-weights", "balanced", "--epochs", "1")
    config = json.loads((out / "best" / "config.json").read_text())
    train_counts = config["class_counts"]
    n = sum(train_counts.values())
    assert config["fit"]["class_weights"] == pytest.approx(
        [n / (3 * train_counts[label]) for label in ("HUM", "LOC", "NUM")])
    assert train_counts["NUM"] <= counts["NUM"] and train_counts["NUM"] < train_counts["HUM"]

    class Fixed(torch.nn.Module):
        def __init__(self, logits):
            super().__init__()
            self.logits = logits

        def forward(self, tokens, lengths):
            return self.logits

    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 3.0]])
    batch = ClassificationTask().collate(Encoded([[2], [3], [4]], [0, 1, 2]), [0, 1, 2])
    task = ClassificationTask(class_weights=[1.0, 2.0, 4.0])
    loss, _, _ = task.loss(Fixed(logits), batch)
    expected = F.cross_entropy(logits, torch.tensor([0, 1, 2]),
                               weight=torch.tensor([1.0, 2.0, 4.0]))
    assert loss.item() == pytest.approx(expected.item())
    with pytest.raises(ValueError, match="class_weights must be positive"):
        FitConfig(class_weights=[1.0, 0.0])


def test_word_vectors_start_the_embedding(tmp_path):
    words = sorted({w.strip("?").lower() for text, _ in questions(20, 8) for w in text.split()})
    vectors = tmp_path / "vectors.vec"
    vectors.write_text(f"{len(words)} 4\n" + "".join(
        f"{w} {' '.join(str((k + i) % 5 / 5) for i in range(4))}\n"
        for k, w in enumerate(words)), encoding="utf-8")
    out = tmp_path / "with-vectors"
    summary = json.loads(run("classify", "train", "--data",
                             write_csv(tmp_path / "q.csv", questions(20, 8)), "--out", out,
                             "--preset", "tiny", "--vectors", vectors, "--epochs", "1",
                             "--json").stdout)
    config = json.loads((out / "best" / "config.json").read_text())
    assert config["initialised_from"]["vectors"] == str(vectors)
    assert config["model"]["embedding_dim"] == 4
    assert summary["embeddings"]["found"] >= len(words) - 1


def test_auto_tries_every_candidate_and_keeps_the_best_on_validation(tmp_path):
    train = write_csv(tmp_path / "train.csv", questions(30, 9))
    test = write_csv(tmp_path / "test.csv", questions(8, 10))
    out = tmp_path / "auto"
    result = CliRunner().invoke(main, ["classify", "train", "--recipe", "auto", "--data",
                                       str(train), "--test", str(test), "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "leaderboard.json").read_text())
    board = report["leaderboard"]
    assert list(board) == ["linear", "bilstm", "bigru", "ensemble"]
    assert report["chosen"] == "ensemble" and "kept ensemble" in result.stdout
    assert "the best single model there" in report["why"]
    assert all(row["size_mb"] > 0 for row in board.values())
    assert [c for c in board if "test_accuracy" in board[c]] == ["ensemble"]  # the kept one
    assert report["test"]["accuracy"] == board["ensemble"]["test_accuracy"]
    config = json.loads((out / "best" / "config.json").read_text())
    assert config["model_type"] == "ensemble" and len(config["members"]) == 3
    assert gatedrnn.load(out).predict(["Where is the river?"])[0]["label"] in CUES
    refused = fails("explain", out / "candidates" / "linear", "Where is the river?")
    assert "is not a recurrent classifier (a linear model)" in refused


def test_a_spent_budget_stops_or_skips_what_it_cannot_fit(tmp_path):
    from gatedrnn.classify.building import run_recipe

    train = write_csv(tmp_path / "train.csv", questions(30, 11))
    report = run_recipe("auto", train, tmp_path / "tight", budget_minutes=0.001,
                        show_progress=False, log=lambda m: None)
    board = report["leaderboard"]
    assert "valid_accuracy" in board["linear"]  # the first candidate always runs
    assert all("skipped" in board[p] or "stopped" in board[p] for p in ("bilstm", "bigru"))
    assert "skipped" in board["ensemble"]


def test_the_ensemble_is_built_in_the_reserve_after_the_training_deadline(tmp_path,
                                                                         monkeypatch):
    import time

    from gatedrnn.classify import building, training

    train = write_csv(tmp_path / "train.csv", questions(30, 16))
    started, real_train = time.perf_counter(), training.train

    def slow_train(*args, **kwargs):  # the last candidate ends past the training deadline
        summary = real_train(*args, **kwargs)
        if kwargs.get("preset") == "bigru":
            time.sleep(max(0.0, started + 0.92 * 0.3 * 60 - time.perf_counter()))
        return summary

    monkeypatch.setattr(training, "train", slow_train)
    report = building.run_recipe("auto", train, tmp_path / "reserve", budget_minutes=0.3,
                                 show_progress=False, log=lambda m: None)
    assert report["chosen"] == "ensemble"  # IMDb had skipped it: "the budget was spent"
    assert report["train_seconds"] < 0.3 * 60


def test_the_candidates_trained_by_epochs_share_the_budget_alike(tmp_path):
    import re

    from gatedrnn.classify.building import run_recipe

    train = write_csv(tmp_path / "train.csv", questions(30, 15))
    said = []
    report = run_recipe("auto", train, tmp_path / "shared", budget_minutes=2,
                        show_progress=False, log=said.append)
    shares = {}
    for line in said:
        found = re.search(r"recipe auto: (\w+) .*; ([\d.]+) min of the budget left, "
                          r"([\d.]+) min for it", line)
        if found:
            shares[found[1]] = (float(found[2]), float(found[3]))
    left, share = shares["bilstm"]
    assert share == pytest.approx(left / 2, abs=0.06)  # half: the BiGRU is still to come
    assert "bigru" not in shares  # the last one's share is all that is left
    assert all("valid_accuracy" in report["leaderboard"][c] for c in ("bilstm", "bigru"))


def test_recipe_options_that_do_not_fit_are_refused(tmp_path):
    train = write_csv(tmp_path / "train.csv", questions(10, 12))
    assert "drop --epochs" in fails("classify", "train", "--recipe", "auto", "--epochs", "2",
                                    "--data", train, "--out", tmp_path / "x")
    assert "--budget is for a recipe" in fails("classify", "train", "--budget", "5m",
                                               "--data", train, "--out", tmp_path / "y")
    assert "is not a time budget" in fails("classify", "train", "--recipe", "auto",
                                           "--budget", "soon", "--data", train, "--out",
                                           tmp_path / "z")


def test_the_time_limit_callback_ends_training_after_the_batch_under_way(tmp_path):
    from gatedrnn.models.classifier import ClassifierConfig, SentimentClassifier
    from gatedrnn.train import checkpoint
    from gatedrnn.train.callbacks import TimeLimit
    from gatedrnn.train.loop import Encoded, FitConfig, Trainer

    data = Encoded([[2, 3, 4], [5, 6], [7, 8, 9], [4, 2]] * 4, [0, 1, 0, 1] * 4)
    model = SentimentClassifier(ClassifierConfig(vocab_size=10, embedding_dim=4, hidden_size=3,
                                                 num_layers=1, pooling="max"))
    trainer = Trainer(model, FitConfig(epochs=5, batch_size=2), data, data, tmp_path,
                      {"task": "sentiment"}, ["<pad>", "<unk>"], show_progress=False,
                      log=lambda m: None, callbacks=[TimeLimit(0.0)])
    summary = trainer.fit()
    assert summary["stopped"].startswith("the time limit") and len(summary["history"]) == 1
    assert summary["history"][0]["epoch"] == 1 and (tmp_path / "best").is_dir()
    assert checkpoint.load_training_state(tmp_path / "last")["batch_in_epoch"] == 0


TOPICS = {"sport": ["goal", "match", "team"], "money": ["price", "bank", "tax"],
          "food": ["bread", "soup", "cheese"]}


def topics(n: int, seed: int) -> list[tuple[str, str]]:
    """Texts about one or two topics, labelled 'a|b' for two."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        chosen = rng.sample(sorted(TOPICS), rng.choice([1, 1, 2]))
        words = [rng.choice(FILLER) for _ in range(rng.randint(3, 6))]
        for topic in chosen:
            words.insert(rng.randrange(len(words) + 1), rng.choice(TOPICS[topic]))
        rows.append((" ".join(words), "|".join(chosen)))
    return rows


def test_several_labels_per_text_from_a_csv_to_an_answer(tmp_path):
    pytest.importorskip("onnxruntime")
    from fastapi.testclient import TestClient

    from gatedrnn.export import check_parity, export_onnx
    from gatedrnn.serve.app import build

    train = write_csv(tmp_path / "train.csv", topics(150, 13), header=("text", "labels"))
    test = write_csv(tmp_path / "test.csv", topics(40, 14), header=("text", "labels"))
    out = tmp_path / "multi"
    summary = json.loads(run("classify", "train", "--data", train, "--test", test, "--out",
                             out, "--preset", "tiny", "--multi-label", "--epochs", "12",
                             "--json").stdout)
    assert summary["labels"] == ["food", "money", "sport"]
    assert summary["test"]["micro_f1"] >= 0.8 and summary["test"]["macro_f1"] >= 0.8
    config = json.loads((out / "best" / "config.json").read_text())
    assert config["multi_label"] and len(config["thresholds"]) == 3
    assert all(0 < t < 1 for t in config["thresholds"])
    answer = gatedrnn.load(out).predict(["soup and cheese in the match"])[0]
    assert set(answer["labels"]) == {"food", "sport"}
    assert 0 <= min(answer["probabilities"].values())  # sigmoids: need not add up to 1
    report = json.loads(run("classify", "evaluate", out, "--data", test, "--json").stdout)
    assert report["multi_label"] and report["micro_f1"] == pytest.approx(
        summary["test"]["micro_f1"])
    served = TestClient(build([out])).post("/predict", json={"texts": ["a goal and a price"]})
    assert set(served.json()["predictions"][0]["labels"]) == {"sport", "money"}
    info = export_onnx(out, tmp_path / "multi.onnx")
    assert check_parity(info["path"], info["graph"], [info["example"]]) < 1e-4
    joined = CliRunner().invoke(main, ["classify", "train", "--data", str(train), "--out",
                                       str(tmp_path / "one"), "--preset", "tiny", "--epochs", "1"])
    assert "look like several joined by '|'" in joined.stderr and "--multi-label" in joined.stderr


def test_imdb_and_its_star_ratings_are_built_in(tmp_path, imdb_archive):
    summary = json.loads(run("classify", "train", "--data", f"imdb-stars:{imdb_archive}",
                             "--out", tmp_path / "stars", "--preset", "tiny", "--epochs", "1",
                             "--tokenizer", "word", "--json").stdout)
    assert summary["labels"] == ["1", "2", "3", "4", "7", "8", "9", "10"]
    assert summary["test"]["count"] == 80  # the archive's own test split
    polarity = json.loads(run("classify", "train", "--data", f"imdb:{imdb_archive}", "--out",
                              tmp_path / "polarity", "--preset", "linear", "--json").stdout)
    assert polarity["labels"] == ["neg", "pos"] and polarity["test"]["accuracy"] > 0.8
    assert "does not exist (nor is it a built-in data set" in fails(
        "classify", "train", "--data", tmp_path / "nothing.csv", "--out", tmp_path / "x")


def test_on_imdb_the_fast_and_best_recipes_are_the_sentiment_tasks_own(tmp_path, imdb_archive):
    from gatedrnn import registry
    from gatedrnn.sentiment.pipeline import run_recipe as sentiment_recipe

    owned = registry.data_set_recipes("imdb")
    assert owned.task == "sentiment" and owned.build is sentiment_recipe
    assert {"fast", "best"} <= set(owned.names)
    assert registry.data_set_recipes("imdb-stars") is None  # the generic recipes apply
    out = tmp_path / "fast"
    result = run("classify", "train", "--data", f"imdb:{imdb_archive}", "--recipe", "fast",
                 "--out", out)
    assert "built the sentiment task's recipe fast" in result.stdout
    config = json.loads((out / "best" / "config.json").read_text())
    assert (config["task"], config["preset"]) == ("sentiment", "fast")
    report = json.loads((out / "leaderboard.json").read_text())
    assert report["built_by"] == "sentiment" and report["test"]["count"] == 80
    answer = json.loads(run("classify", "predict", out, "A wonderful film", "--json").stdout)
    assert set(answer["probabilities"]) == {"neg", "pos"}
    (tmp_path / "v.vec").write_text("1 2\nfilm 0.1 0.2\n")
    assert "takes no vectors" in fails("classify", "train", "--data", f"imdb:{imdb_archive}",
                                       "--recipe", "fast", "--vectors", tmp_path / "v.vec",
                                       "--out", tmp_path / "x")
