"""Text classification on the labelled sets at hand, side by side on the same splits and the
same machine: TF-IDF + logistic regression, fastText (word bigrams), and gatedrnn classify's
presets and recipes (a recipe's row, and a row for each candidate it trained and scored).

    python benchmarks/text_classification.py --data DIR [--imdb ARCHIVE] [--recipes auto best]

SST-5 keeps its train/dev/test files. SUBJ and MPQA have no split: a seeded (0), stratified
10% is test and 10% of the rest validation, written once to WORK as JSON Lines. IMDb and its
stars are built in (``imdb:ARCHIVE``): IMDb's test split, validation a seeded stratified 10%
of train (``classify.training.prepare``, for every method). Validation chooses each method's
settings (C, epochs, a recipe's model); test is read once per method. Throughput: texts/s
over the test set in one process. Writes results/NAME.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, markdown_table, write_results  # noqa: E402

from gatedrnn.classify import load_classifier, prepare, run_recipe, train  # noqa: E402
from gatedrnn.data.labelled import read_labelled, stratified_split  # noqa: E402
from gatedrnn.runinfo import environment  # noqa: E402

# name → (files or one file to split, format, encoding); None: a built-in set of gatedrnn
SETS = {"sst5": (("stsa.fine.train", "stsa.fine.dev", "stsa.fine.test"), "label-first", None),
        "subj": ("subj.all", "label-first", "cp1252"),
        "mpqa": ("mpqa.all", "label-first", None),
        "imdb": None, "imdb-stars": None}


def sources(args, name: str, work: Path) -> dict:
    """The keyword arguments that read set ``name`` through classify (train, valid, test)."""
    if SETS[name] is None:
        return {"data": f"{name}:{args.imdb}"}
    files, file_format, encoding = SETS[name]
    root = Path(args.data)
    if isinstance(files, tuple):
        return {**dict(zip(("data", "valid", "test"), (root / f for f in files))),
                "format": file_format, "encoding": encoding}
    paths = {split: work / name / f"{split}.jsonl" for split in ("data", "valid", "test")}
    if not all(p.exists() for p in paths.values()):
        import json
        examples, _ = read_labelled(root / files, format=file_format, encoding=encoding)
        rest, test = stratified_split(examples, 0.1, seed=0)
        trained, valid = stratified_split(rest, 0.1, seed=0)
        for split, part in (("data", trained), ("valid", valid), ("test", test)):
            paths[split].parent.mkdir(parents=True, exist_ok=True)
            paths[split].write_text("".join(json.dumps({"text": e.text, "label": e.label},
                                                       ensure_ascii=False) + "\n"
                                            for e in part), encoding="utf-8")
    return paths


def score(truth, predicted, seconds, predict_seconds, **extra) -> dict:
    from sklearn.metrics import f1_score
    accuracy = sum(t == p for t, p in zip(truth, predicted)) / len(truth)
    return {"test_accuracy": accuracy, "test_macro_f1": float(f1_score(
        truth, predicted, average="macro")), "train_seconds": seconds,
        "predict_texts_per_s": len(truth) / predict_seconds, **extra}


def tfidf_logistic(data) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    started = time.perf_counter()
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True)
    features = vectorizer.fit_transform([e.text for e in data.train])
    labels = [e.label for e in data.train]
    valid = vectorizer.transform([e.text for e in data.valid])
    best = max(((C, LogisticRegression(C=C, max_iter=3000).fit(features, labels))
                for C in (0.3, 1.0, 3.0, 10.0, 30.0)),
               key=lambda m: (m[1].predict(valid) == [e.label for e in data.valid]).mean())
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    predicted = list(best[1].predict(vectorizer.transform([e.text for e in data.test])))
    return score([e.label for e in data.test], predicted, seconds,
                 time.perf_counter() - started, C=best[0])


def fasttext_bigrams(data, work: Path) -> dict | None:
    try:
        import fasttext
    except ImportError:
        return None
    path = work / "fasttext.train.txt"
    path.write_text("".join(f"__label__{e.label} {' '.join(e.text.split())}\n"
                            for e in data.train), encoding="utf-8")
    started, best = time.perf_counter(), None
    for epochs in (5, 10, 25):
        model = fasttext.train_supervised(str(path), wordNgrams=2, epoch=epochs, lr=0.5,
                                          thread=2, seed=0, verbose=0)
        right = sum(model.predict(" ".join(e.text.split()))[0][0][9:] == e.label
                    for e in data.valid)
        if best is None or right > best[0]:
            best = (right, epochs, model)
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    predicted = [best[2].predict(" ".join(e.text.split()))[0][0][9:] for e in data.test]
    return score([e.label for e in data.test], predicted, seconds,
                 time.perf_counter() - started, epochs=best[1])


def tested(out: Path, data, seconds: float, **extra) -> dict:
    """OUT's model scored on the test examples as a user's predictions read them."""
    model = load_classifier(out)
    started = time.perf_counter()
    predicted = [p["best_guess"] if p.get("out_of_vocabulary") else p["label"]
                 for p in model.predict([e.text for e in data.test])]
    return score([e.label for e in data.test], predicted, seconds,
                 time.perf_counter() - started, **extra)


def gated(source: dict, data, preset: str, out: Path, seed: int, vectors) -> dict:
    started = time.perf_counter()
    summary = train(**source, out=out, preset=preset, tokenizer="word", seed=seed,
                    vectors=vectors, score_test=False, show_progress=False, log=lambda m: None)
    return tested(out, data, time.perf_counter() - started,
                  epochs=len(summary.get("history", [])),
                  best_valid_accuracy=summary["best_valid_accuracy"])


def recipe(source: dict, data, name: str, out: Path, seed: int, vectors, budget) -> dict:
    """The recipe's row, then one per candidate (figures from its leaderboard)."""
    started = time.perf_counter()
    report = run_recipe(name, **source, out=out, tokenizer="word", seed=seed, vectors=vectors,
                        budget_minutes=budget, show_progress=False, log=lambda m: None)
    rows = {f"gatedrnn {name}": tested(  # recipe_seconds: its own time, test not scored
        out, data, time.perf_counter() - started, recipe_seconds=report["train_seconds"],
        why=report["why"], chosen=report["chosen"], budget_minutes=report["budget_minutes"])}
    for candidate, row in report["leaderboard"].items():  # scored here, outside the budget
        rows[f"  {name}: {candidate}"] = (row if "skipped" in row else tested(
            out / "candidates" / candidate, data, row["train_seconds"], **row))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="the sentence_classification folder")
    parser.add_argument("--imdb", help="IMDb's archive (aclImdb_v1.tar.gz) or folder")
    parser.add_argument("--sets", nargs="*", default=["sst5", "subj", "mpqa"], choices=list(SETS))
    parser.add_argument("--presets", nargs="*", default=["bilstm", "bigru"])
    parser.add_argument("--recipes", nargs="*", default=[])
    parser.add_argument("--budget", type=float, help="minutes per recipe [its own]")
    parser.add_argument("--vectors", default=None,
                        help="Start each recurrent model from these word vectors (e.g. word2vec "
                             "on IMDb from 'gatedrnn embeddings train': outside the sets' data)")
    parser.add_argument("--peers", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--name", default="text_classification")
    parser.add_argument("--work", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    if not args.imdb and {"imdb", "imdb-stars"} & set(args.sets):
        parser.error("the IMDb sets need --imdb ARCHIVE")
    work = Path(args.work or tempfile.mkdtemp(prefix="text-classification-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    rows, tag = {}, "-vectors" if args.vectors else ""
    for name in args.sets:
        source = sources(args, name, work)
        data = prepare(**source, log=lambda m: None)
        methods = {}
        if args.peers:
            methods["tfidf+logistic"] = tfidf_logistic(data)
            fast = fasttext_bigrams(data, work)
            if fast is not None:
                methods["fasttext (bigrams)"] = fast
        for preset in args.presets:
            methods[f"gatedrnn {preset}"] = gated(source, data, preset, work / name /
                                                  (preset + tag), args.seed, args.vectors)
        for chosen in args.recipes:
            methods.update(recipe(source, data, chosen, work / name / (chosen + tag),
                                  args.seed, args.vectors, args.budget))
        rows[name] = {"sizes": {"train": len(data.train), "valid": len(data.valid),
                                "test": len(data.test)},
                      "classes": len({e.label for e in data.train}), "methods": methods}
        print(f"{name}: " + ", ".join(f"{m.strip()} {r['test_accuracy']:.4f}"
                                      for m, r in methods.items() if "test_accuracy" in r),
              flush=True)
    path = write_results(args.name, {
        "environment": environment(seed=args.seed), "work": str(work), "vectors": args.vectors,
        "budget_minutes": args.budget, "rows": rows}, args.out)
    print(markdown_table(
        ["set", "method", "test accuracy", "macro-F1", "train s", "predict texts/s"],
        [[name, method, f"{100 * r['test_accuracy']:.2f}", f"{100 * r['test_macro_f1']:.2f}",
          f"{r['train_seconds']:.0f}",
          f"{r['predict_texts_per_s']:,.0f}" if "predict_texts_per_s" in r else "-"]
         for name, row in rows.items() for method, r in row["methods"].items()
         if "test_accuracy" in r]))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
