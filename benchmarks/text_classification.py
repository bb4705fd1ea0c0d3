"""Text classification on the labelled sets at hand, side by side on the same splits and the
same machine: TF-IDF + logistic regression, fastText (word bigrams), and gatedrnn classify's
BiLSTM and BiGRU presets.

    python benchmarks/text_classification.py --data ../shared/data/sentence_classification \\
        [--sets sst5 subj mpqa] [--presets bilstm bigru] [--work runs/text_classification] \\
        [--out results]

SST-5 keeps its own train/dev/test files. SUBJ and MPQA come without a split: a seeded (0),
stratified 10% is the test set and 10% of the rest validation, written once to WORK as JSON
Lines, which every method reads (gatedrnn through ``classify.train``, as a user's files).
Validation chooses each method's settings (the linear model's C, fastText's epochs, the
recurrent model's epoch); test is read once per method. Prediction throughput is texts/s over
the test set in one process. Writes results/text_classification.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, markdown_table, write_results  # noqa: E402

from gatedrnn.classify import train  # noqa: E402
from gatedrnn.classify.predict import load_classifier  # noqa: E402
from gatedrnn.data.labelled import read_labelled, stratified_split  # noqa: E402
from gatedrnn.runinfo import environment  # noqa: E402

# name → (files or one file to split, format, encoding)
SETS = {"sst5": (("stsa.fine.train", "stsa.fine.dev", "stsa.fine.test"), "label-first", None),
        "subj": ("subj.all", "label-first", "cp1252"),
        "mpqa": ("mpqa.all", "label-first", None)}


def splits(root: Path, name: str, work: Path) -> dict[str, Path]:
    """{"train", "valid", "test"} → a file each (SST-5's own; the others drawn once)."""
    files, file_format, encoding = SETS[name]
    if isinstance(files, tuple):
        return dict(zip(("train", "valid", "test"), (root / f for f in files)))
    paths = {split: work / name / f"{split}.jsonl" for split in ("train", "valid", "test")}
    if not all(p.exists() for p in paths.values()):
        examples, _ = read_labelled(root / files, format=file_format, encoding=encoding)
        rest, test = stratified_split(examples, 0.1, seed=0)
        trained, valid = stratified_split(rest, 0.1, seed=0)
        for split, part in (("train", trained), ("valid", valid), ("test", test)):
            paths[split].parent.mkdir(parents=True, exist_ok=True)
            paths[split].write_text("".join(json.dumps({"text": e.text, "label": e.label},
                                                       ensure_ascii=False) + "\n"
                                            for e in part), encoding="utf-8")
    return paths


def read(paths: dict, name: str) -> dict:
    _, file_format, encoding = SETS[name]
    jsonl = paths["train"].suffix == ".jsonl"
    return {split: read_labelled(path, format=None if jsonl else file_format,
                                 encoding=None if jsonl else encoding)[0]
            for split, path in paths.items()}


def macro_f1(truth: list[str], predicted: list[str]) -> float:
    from sklearn.metrics import f1_score
    return float(f1_score(truth, predicted, average="macro"))


def score(truth, predicted, seconds, predict_seconds, **extra) -> dict:
    accuracy = sum(t == p for t, p in zip(truth, predicted)) / len(truth)
    return {"test_accuracy": accuracy, "test_macro_f1": macro_f1(truth, predicted),
            "train_seconds": seconds, "predict_texts_per_s": len(truth) / predict_seconds,
            **extra}


def tfidf_logistic(data: dict) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    started = time.perf_counter()
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True)
    features = vectorizer.fit_transform([e.text for e in data["train"]])
    labels = [e.label for e in data["train"]]
    valid = vectorizer.transform([e.text for e in data["valid"]])
    best = max(((C, LogisticRegression(C=C, max_iter=3000).fit(features, labels))
                for C in (0.3, 1.0, 3.0, 10.0, 30.0)),
               key=lambda m: (m[1].predict(valid) == [e.label for e in data["valid"]]).mean())
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    predicted = list(best[1].predict(vectorizer.transform([e.text for e in data["test"]])))
    return score([e.label for e in data["test"]], predicted, seconds,
                 time.perf_counter() - started, C=best[0])


def fasttext_bigrams(data: dict, work: Path) -> dict | None:
    try:
        import fasttext
    except ImportError:
        return None
    path = work / "fasttext.train.txt"
    path.write_text("".join(f"__label__{e.label} {' '.join(e.text.split())}\n"
                            for e in data["train"]), encoding="utf-8")
    started, best = time.perf_counter(), None
    for epochs in (5, 10, 25):
        model = fasttext.train_supervised(str(path), wordNgrams=2, epoch=epochs, lr=0.5,
                                          thread=2, seed=0, verbose=0)
        right = sum(model.predict(" ".join(e.text.split()))[0][0][9:] == e.label
                    for e in data["valid"])
        if best is None or right > best[0]:
            best = (right, epochs, model)
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    predicted = [best[2].predict(" ".join(e.text.split()))[0][0][9:] for e in data["test"]]
    return score([e.label for e in data["test"]], predicted, seconds,
                 time.perf_counter() - started, epochs=best[1])


def gated(paths: dict, name: str, preset: str, work: Path, seed: int,
          vectors: str | None = None) -> dict:
    _, file_format, encoding = SETS[name]
    jsonl = paths["train"].suffix == ".jsonl"
    options = {"format": None if jsonl else file_format,
               "encoding": None if jsonl else encoding}
    out = work / name / (preset + ("-vectors" if vectors else ""))
    started = time.perf_counter()
    summary = train(paths["train"], out, preset=preset, valid=paths["valid"], tokenizer="word",
                    seed=seed, vectors=vectors, show_progress=False, log=lambda m: None,
                    **options)
    seconds = time.perf_counter() - started
    test = read_labelled(paths["test"], **options)[0]
    model = load_classifier(out)
    started = time.perf_counter()
    predicted = [p["best_guess"] if p.get("out_of_vocabulary") else p["label"]
                 for p in model.predict([e.text for e in test])]
    return score([e.label for e in test], predicted, seconds, time.perf_counter() - started,
                 epochs=len(summary["history"]), best_valid_accuracy=summary["best_valid_accuracy"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="the sentence_classification folder")
    parser.add_argument("--sets", nargs="*", default=list(SETS), choices=list(SETS))
    parser.add_argument("--presets", nargs="*", default=["bilstm", "bigru"])
    parser.add_argument("--vectors", default=None,
                        help="Also train each preset from these word vectors (e.g. word2vec on "
                             "IMDb from 'gatedrnn embeddings train': outside the sets' data)")
    parser.add_argument("--peers", action=argparse.BooleanOptionalAction, default=True,
                        help="Run the linear peers (--no-peers: the gated RNNs only)")
    parser.add_argument("--name", default="text_classification")
    parser.add_argument("--work", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="text-classification-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    rows = {}
    for name in args.sets:
        paths = splits(Path(args.data), name, work)
        data = read(paths, name)
        methods = {}
        if args.peers:
            methods["tfidf+logistic"] = tfidf_logistic(data)
            fast = fasttext_bigrams(data, work)
            if fast is not None:
                methods["fasttext (bigrams)"] = fast
        for preset in args.presets:
            if not args.vectors or args.peers:
                methods[f"gatedrnn {preset}"] = gated(paths, name, preset, work, args.seed)
            if args.vectors:
                methods[f"gatedrnn {preset} + vectors"] = gated(paths, name, preset, work,
                                                               args.seed, args.vectors)
        rows[name] = {"sizes": {s: len(v) for s, v in data.items()},
                      "classes": len({e.label for e in data["train"]}), "methods": methods}
        print(f"{name}: " + ", ".join(f"{m} {r['test_accuracy']:.4f}"
                                      for m, r in rows[name]["methods"].items()), flush=True)
    path = write_results(args.name, {
        "environment": environment(seed=args.seed), "work": str(work), "vectors": args.vectors,
        "rows": rows}, args.out)
    print(markdown_table(
        ["set", "method", "test accuracy", "macro-F1", "train s", "predict texts/s"],
        [[name, method, f"{100 * r['test_accuracy']:.2f}", f"{100 * r['test_macro_f1']:.2f}",
          f"{r['train_seconds']:.0f}", f"{r['predict_texts_per_s']:,.0f}"]
         for name, row in rows.items() for method, r in row["methods"].items()]))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
