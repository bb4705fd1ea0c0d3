"""IMDb exercise 5, measured: each improvement over the `fast` BiLSTM alone, then combined.

    python benchmarks/imdb_ablation.py --data ../shared/data/aclImdb_v1.tar.gz [--rows ...] \\
        [--lm-minutes 25] [--out results]

Rows (one process each, the same data split and seed; test accuracy on the 25,000 test reviews,
validation accuracy on the split carved from train, wall time of everything the row needs):
  svm          TF-IDF uni+bigram + linear SVM (scikit-learn), the bar to beat
  baseline     `gatedrnn sentiment train --preset fast` (BiLSTM 1×128, attention pooling)
  last-state   the same with the chapter's pooling (final states): what attention adds
  word2vec     + embeddings trained on the unlabelled + training reviews (gensim skip-gram)
  word2vec-seed1, word2vec-seed2
               the word2vec row again with training seeds 1 and 2 (the same vectors): its
               spread over seeds, and members for ensembles
  augment      + word dropout 0.1 and random 400-token crops of long reviews
  adversarial  + adversarial training: each batch also with its word embeddings pushed along
               the loss's gradient (--adversarial 0.3; twice the time per epoch)
  adversarial-EPS
               (not by default; --adversarial-sweep EPS ...) the same at other sizes of push
  tta          the baseline checkpoint read as 3 crops of 400 tokens, probabilities averaged
  lm           + a bidirectional LM pretrained on the unlabelled + training reviews, then
               the baseline recipe from its weights and vocabulary
  lm-ulmfit    the same start, fine-tuned with discriminative rates (2.6) and gradual
               unfreezing (ULMFiT)
  lm+augment   (not by default) the LM start with the augmentation
  ensembles    probability averages of the rows above (no extra training), and of the
               recurrent models with TF-IDF logistic regression (probabilities; benchmark only,
               fitted on the same training part of the split as the recurrent models); the
               ensemble reported as best is the one with the best validation accuracy
One seed per row except word2vec (three): a row costs 6–8 minutes on the 2-core machine.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import markdown_table, write_results  # noqa: E402

from gatedrnn.data import imdb  # noqa: E402
from gatedrnn.runinfo import environment  # noqa: E402
from gatedrnn.sentiment import Predictor  # noqa: E402

ROWS = ["svm", "baseline", "last-state", "word2vec", "word2vec-seed1", "word2vec-seed2",
        "augment", "adversarial", "tta", "lm", "lm-ulmfit", "lm+augment"]
DEFAULT_ROWS = [r for r in ROWS if r != "lm+augment"]
AUGMENT = ["--word-dropout", "0.1", "--random-crop"]
ADVERSARIAL = ["--adversarial", "0.3"]  # Miyato et al.'s ε = 5 on unit-variance 256-d embeddings
FINE_TUNE = ["--discriminative-lr", "2.6", "--gradual-unfreezing"]


def cli(args: list[str], log: Path) -> tuple[dict | None, float]:
    """Run ``gatedrnn ARGS`` in its own process; its stderr goes to ``log``."""
    started = time.perf_counter()
    with open(log, "w", encoding="utf-8") as err:
        done = subprocess.run([sys.executable, "-m", "gatedrnn.cli", *args], stdout=subprocess.PIPE,
                              stderr=err, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"gatedrnn {' '.join(args)} failed; see {log}")
    seconds = time.perf_counter() - started
    try:
        return json.loads(done.stdout), seconds
    except ValueError:
        return None, seconds


def split_probabilities(checkpoint: Path, splits: dict, **options) -> tuple[dict, float]:
    """Probabilities on each split (``{"valid": reviews, "test": reviews}``); seconds for test."""
    predictor = Predictor.load(checkpoint)
    out, seconds = {}, 0.0
    for name, reviews in splits.items():
        started = time.perf_counter()
        out[name] = predictor.probabilities([r.text for r in reviews], 128, **options)
        if name == "test":
            seconds = time.perf_counter() - started
    return out, seconds


def accuracy(probabilities: torch.Tensor, labels: torch.Tensor) -> float:
    return float((probabilities.argmax(1) == labels).float().mean())


def linear_models(data, train_part, splits: dict) -> dict:
    """TF-IDF + linear SVM on all 25,000 training reviews (the baseline as usually quoted), and
    TF-IDF + logistic regression on the training part of the split only (its probabilities on
    the validation reviews must not come from a model that saw them)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    def features(reviews):
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
        return vectorizer, vectorizer.fit_transform([r.text for r in reviews])

    started = time.perf_counter()
    vectorizer, train_x = features(data.train)
    svm = LinearSVC(C=0.5).fit(train_x, [r.label for r in data.train])
    predicted = svm.predict(vectorizer.transform([r.text for r in data.test]))
    svm_accuracy = float((predicted == [r.label for r in data.test]).mean())
    svm_seconds = time.perf_counter() - started
    started = time.perf_counter()
    vectorizer, train_x = features(train_part)
    logistic = LogisticRegression(C=10.0, max_iter=2000).fit(train_x,
                                                             [r.label for r in train_part])
    probabilities = {name: torch.tensor(logistic.predict_proba(vectorizer.transform(
        [r.text for r in reviews])), dtype=torch.float32) for name, reviews in splits.items()}
    return {"svm_accuracy": svm_accuracy, "svm_seconds": svm_seconds,
            "logistic_probabilities": probabilities,
            "logistic_seconds": time.perf_counter() - started}


def sweep_rows(parser, epsilons: list[float]) -> dict[str, str]:
    """Row name → ε for --adversarial-sweep; refuses sizes the sweep cannot train."""
    sweep = {}
    for epsilon in epsilons:
        if not epsilon > 0:  # also NaN
            parser.error(f"--adversarial-sweep {epsilon:g}: ε must be a size above 0")
        if epsilon == float(ADVERSARIAL[1]):
            parser.error(f"--adversarial-sweep {epsilon:g}: that is the adversarial row's "
                         f"ε; add the row to --rows instead")
        sweep[f"adversarial-{epsilon:g}"] = f"{epsilon:g}"
    return sweep


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--rows", nargs="*", default=DEFAULT_ROWS, choices=ROWS)
    parser.add_argument("--adversarial-sweep", nargs="*", type=float, default=[],
                        metavar="EPS",
                        help="Add a row adversarial-EPS for each size of push (the adversarial "
                             "row is ε 0.3), e.g. --adversarial-sweep 0.1 1 3.")
    parser.add_argument("--lm-epochs", type=int, default=1)
    parser.add_argument("--lm-max-reviews", type=int, default=None,
                        help="Pretrain on only this many reviews (to fit a time budget).")
    parser.add_argument("--work", default=None,
                        help="Keep runs here (default: a temp dir); rows already measured in "
                             "WORK are reused, so an interrupted run continues.")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    sweep = sweep_rows(parser, args.adversarial_sweep)
    work = Path(args.work or tempfile.mkdtemp(prefix="imdb_ablation_"))
    work.mkdir(parents=True, exist_ok=True)
    data = imdb.load(args.data)
    train_part, valid_part = imdb.validation_split(data.train, 0.1, 0)  # as sentiment.train
    splits = {"valid": valid_part, "test": data.test}
    labels = {name: torch.tensor([r.label for r in reviews]) for name, reviews in splits.items()}
    results = {"environment": environment(seed=0), "rows": {}, "work": str(work)}
    probabilities: dict[str, dict[str, torch.Tensor]] = {}

    def row(name: str, compute):
        """A row's record and probabilities, from WORK/NAME.row.json and NAME.probs.pt when an
        earlier invocation made them (so a rerun only computes what is missing)."""
        row_file, probs_file = work / f"{name}.row.json", work / f"{name}.probs.pt"
        if row_file.exists() and probs_file.exists():
            record = {**json.loads(row_file.read_text(encoding="utf-8")), "reused": True}
            probs = torch.load(probs_file)
        else:
            record, probs = compute()
            record.update({"test_accuracy": accuracy(probs["test"], labels["test"]),
                           "valid_accuracy": accuracy(probs["valid"], labels["valid"]),
                           "measured": environment()["date"]})
            torch.save(probs, probs_file)
            row_file.write_text(json.dumps(_without_tensors(record), indent=2), encoding="utf-8")
        probabilities[name] = probs
        results["rows"][name] = record
        print(f"{name}: test {record['test_accuracy']:.4f}, valid {record['valid_accuracy']:.4f}, "
              f"{record['wall_seconds'] / 60:.1f} min", flush=True)
        write_results("imdb_ablation", _without_tensors(results), args.out)

    def stage(name: str, command: list[str]) -> dict:
        """A preparatory command (word vectors, LM pretraining), run once per WORK."""
        stage_file = work / f"{name}.stage.json"
        if stage_file.exists():
            return json.loads(stage_file.read_text(encoding="utf-8"))
        summary, seconds = cli(command, work / f"{name}.log")
        done = {"seconds": seconds, **(summary or {})}
        stage_file.write_text(json.dumps(done, indent=2), encoding="utf-8")
        return done

    def train_row(name: str, description: str, extra: list[str], before: float = 0.0):
        def compute():
            out = work / name
            summary, seconds = cli(["sentiment", "train", "--data", args.data, "--preset",
                                    "fast", "--out", str(out), "--json", *extra],
                                   work / f"{name}.log")
            probs, eval_seconds = split_probabilities(out, splits)
            return ({"description": description, "command_args": extra,
                     "wall_seconds": before + seconds + eval_seconds,
                     "train_seconds": summary.get("train_seconds"),
                     "peak_rss_mb": summary.get("peak_rss_mb"),
                     "history": summary.get("history")}, probs)
        row(name, compute)

    if "svm" in args.rows:
        linear = {}

        def logistic():
            linear.update(linear_models(data, train_part, splits))
            return ({"description": "TF-IDF uni+bigram + logistic regression (train part; for "
                     "ensembles)", "wall_seconds": linear["logistic_seconds"],
                     "svm_test_accuracy": linear["svm_accuracy"],
                     "svm_seconds": linear["svm_seconds"]}, linear["logistic_probabilities"])
        row("tfidf-logistic", logistic)
        kept = results["rows"]["tfidf-logistic"]
        results["rows"]["svm"] = {"description": "TF-IDF uni+bigram + linear SVM (all 25k train)",
                                  "test_accuracy": kept["svm_test_accuracy"],
                                  "valid_accuracy": None, "wall_seconds": kept["svm_seconds"]}
    if "baseline" in args.rows or "tta" in args.rows:
        train_row("baseline", "fast preset: BiLSTM 1×128, attention pooling", [])
    if "last-state" in args.rows:
        train_row("last-state", "fast preset with final-state pooling (the chapter's)",
                  ["--pooling", "last"])
    word2vec_rows = [r for r in ("word2vec", "word2vec-seed1", "word2vec-seed2")
                     if r in args.rows]
    if word2vec_rows:
        vectors = work / "imdb-word2vec.vec"
        made = stage("word2vec-vectors", ["embeddings", "train", "--data", args.data, "--out",
                                          str(vectors), "--dim", "128"])
        for name in word2vec_rows:
            seed = 0 if name == "word2vec" else int(name[-1])
            train_row(name, "+ word2vec (skip-gram, 128-d, unlabelled + train), fine-tuned"
                      + (f", seed {seed}" if seed else ""),
                      ["--vectors", str(vectors)]
                      + (["--seed", str(seed), "--split-seed", "0"] if seed else []),
                      before=made["seconds"])
    if "augment" in args.rows:
        train_row("augment", "+ word dropout 0.1, random 400-token crops", AUGMENT)
    if "adversarial" in args.rows:
        train_row("adversarial", "+ adversarial training on the word embeddings (ε 0.3)",
                  ADVERSARIAL)
    for name, epsilon in sweep.items():
        train_row(name, f"+ adversarial training on the word embeddings (ε {epsilon})",
                  ["--adversarial", epsilon])
    if "tta" in args.rows:
        def crops():
            probs, seconds = split_probabilities(work / "baseline", splits, crops=3,
                                                 crop_length=400)
            return ({"description": "baseline read as 3 crops of 400 tokens (test-time "
                     "averaging)", "eval_seconds": seconds,
                     "wall_seconds": results["rows"]["baseline"]["wall_seconds"] + seconds},
                    probs)
        row("tta", crops)
    lm_dir = work / "lm-pretrained"
    if any(r.startswith("lm") for r in args.rows):
        pretrain_args = ["sentiment", "pretrain", "--data", args.data, "--preset", "fast",
                         "--out", str(lm_dir), "--epochs", str(args.lm_epochs), "--json"]
        if args.lm_max_reviews:
            pretrain_args += ["--max-reviews", str(args.lm_max_reviews)]
        language_model = stage("lm-pretraining", pretrain_args)
        results["language_model"] = language_model
        if "lm" in args.rows:
            train_row("lm", "+ LM pretraining (unlabelled + train), then the baseline recipe",
                      ["--init-from", str(lm_dir)], before=language_model["seconds"])
        if "lm-ulmfit" in args.rows:
            train_row("lm-ulmfit", "+ LM pretraining, discriminative rates (2.6) and gradual "
                      "unfreezing", ["--init-from", str(lm_dir), *FINE_TUNE],
                      before=language_model["seconds"])
        if "lm+augment" in args.rows:
            train_row("lm+augment", "LM pretraining + word dropout and random crops",
                      ["--init-from", str(lm_dir), *AUGMENT], before=language_model["seconds"])

    recurrent = [n for n in probabilities if n not in ("tfidf-logistic", "tta")]
    candidates = [list(m) for size in range(2, len(recurrent) + 1)
                  for m in itertools.combinations(recurrent, size)]
    if "tfidf-logistic" in probabilities:
        candidates += [list(m) + ["tfidf-logistic"] for size in range(1, len(recurrent) + 1)
                       for m in itertools.combinations(recurrent, size)]
    ensembles = {}
    for members in candidates:
        averaged = {split: torch.stack([probabilities[m][split] for m in members]).mean(0)
                    for split in splits}
        ensembles[" + ".join(members)] = {
            split: accuracy(averaged[split], labels[split]) for split in splits}
    results["ensembles"] = ensembles
    if ensembles:
        chosen = max(ensembles, key=lambda name: ensembles[name]["valid"])
        results["best_ensemble_by_validation"] = {"members": chosen, **ensembles[chosen]}
        recurrent_only = [n for n in ensembles if "tfidf" not in n]
        if recurrent_only:
            chosen = max(recurrent_only, key=lambda name: ensembles[name]["valid"])
            results["best_recurrent_ensemble_by_validation"] = {"members": chosen,
                                                                **ensembles[chosen]}

    rows = [[name, r["description"], _pct(r.get("valid_accuracy")), _pct(r["test_accuracy"]),
             f"{r['wall_seconds'] / 60:.1f}"] for name, r in results["rows"].items()]
    print(markdown_table(["row", "what", "validation (%)", "test (%)", "wall (min)"], rows))
    best = sorted(ensembles.items(), key=lambda kv: -kv[1]["valid"])[:10]
    print(markdown_table(["ensemble (probabilities averaged), by validation accuracy",
                          "validation (%)", "test (%)"],
                         [[name, _pct(acc["valid"]), _pct(acc["test"])] for name, acc in best]))
    print(f"wrote {write_results('imdb_ablation', _without_tensors(results), args.out)}")


def _pct(value) -> str:
    return "—" if value is None else f"{100 * value:.2f}"


def _without_tensors(results: dict) -> dict:
    return json.loads(json.dumps(results, default=lambda o: None))


if __name__ == "__main__":
    main()
