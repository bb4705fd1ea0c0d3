"""IMDb exercise 5, measured: each improvement over the `fast` BiLSTM alone, then combined.

    python benchmarks/imdb_ablation.py --data ../shared/data/aclImdb_v1.tar.gz [--rows ...] \\
        [--adversarial-sweep EPS ...] [--work DIR] [--out results]

Rows, one process each on the same split and seed (TRAINED: the `fast` preset with extra
options), plus svm (TF-IDF baselines), tta (the baseline read as 3 crops) and the probability
averages of every combination, the best by validation. 6-8 min a row on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cached_row, markdown_table, without_tensors, write_results  # noqa: E402

from gatedrnn.data import imdb  # noqa: E402
from gatedrnn.runinfo import environment  # noqa: E402
from gatedrnn.sentiment import Predictor  # noqa: E402
from gatedrnn.sentiment.baselines import tfidf_logistic, tfidf_svm  # noqa: E402
from gatedrnn.sentiment.pipeline import accuracy, every_ensemble, run_steps  # noqa: E402

ROWS = ["svm", "baseline", "last-state", "word2vec", "word2vec-seed1", "word2vec-seed2",
        "augment", "adversarial", "tta", "lm", "lm-ulmfit", "lm+augment"]
DEFAULT_ROWS = [r for r in ROWS if r != "lm+augment"]
AUGMENT = ["--word-dropout", "0.1", "--random-crop"]
ADVERSARIAL = ["--adversarial", "0.3"]  # Miyato et al.'s ε = 5 on unit-variance 256-d embeddings
FINE_TUNE = ["--discriminative-lr", "2.6", "--gradual-unfreezing"]
VECTORS, LM = "{vectors}", "{lm}"  # filled with the stage's output
# row: (what it adds to the fast preset, its options, the stage it starts from)
TRAINED = {
    "baseline": ("fast preset: BiLSTM 1×128, attention pooling", [], None),
    "last-state": ("fast preset with final-state pooling (the chapter's)",
                   ["--pooling", "last"], None),
    "word2vec": ("+ word2vec (skip-gram, 128-d, unlabelled + train), fine-tuned",
                 ["--vectors", VECTORS], "word2vec-vectors"),
    **{f"word2vec-seed{s}": (f"+ word2vec (skip-gram, 128-d, unlabelled + train), fine-tuned, "
                             f"seed {s}", ["--vectors", VECTORS, "--seed", str(s),
                                           "--split-seed", "0"], "word2vec-vectors")
       for s in (1, 2)},
    "augment": ("+ word dropout 0.1, random 400-token crops", AUGMENT, None),
    "adversarial": ("+ adversarial training on the word embeddings (ε 0.3)", ADVERSARIAL, None),
    "lm": ("+ LM pretraining (unlabelled + train), then the baseline recipe",
           ["--init-from", LM], "lm-pretraining"),
    "lm-ulmfit": ("+ LM pretraining, discriminative rates (2.6) and gradual unfreezing",
                  ["--init-from", LM, *FINE_TUNE], "lm-pretraining"),
    "lm+augment": ("LM pretraining + word dropout and random crops",
                   ["--init-from", LM, *AUGMENT], "lm-pretraining"),
}


def split_probabilities(checkpoint: Path, splits: dict, **options) -> tuple[dict, float]:
    """Probabilities on each split (``{"valid": reviews, "test": reviews}``); seconds for test."""
    predictor, out = Predictor.load(checkpoint), {}
    for name, reviews in splits.items():
        started = time.perf_counter()
        out[name] = predictor.probabilities([r.text for r in reviews], 128, **options)
    return out, time.perf_counter() - started  # test is the last split


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
    parser.add_argument("--adversarial-sweep", nargs="*", type=float, default=[], metavar="EPS",
                        help="A row adversarial-EPS per size of push, e.g. 0.1 1 3.")
    parser.add_argument("--lm-epochs", type=int, default=1)
    parser.add_argument("--lm-max-reviews", type=int, default=None,
                        help="Pretrain on only this many reviews (to fit a time budget).")
    parser.add_argument("--work", default=None,
                        help="Keep runs here (default: a temp dir); a rerun reuses its rows.")
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
        """Measure a row (or read it back from WORK: a rerun computes only what is missing)."""
        def measured():
            record, probs = compute()
            return ({**record, "measured": environment()["date"],
                     **{f"{s}_accuracy": accuracy(probs[s], labels[s]) for s in ("test", "valid")}},
                    probs)
        record, probabilities[name] = cached_row(work, name, measured)
        results["rows"][name] = record
        print(f"{name}: test {record['test_accuracy']:.4f}, valid {record['valid_accuracy']:.4f}, "
              f"{record['wall_seconds'] / 60:.1f} min", flush=True)
        write_results("imdb_ablation", without_tensors(results), args.out)

    def train_row(name: str, description: str, extra: list[str], before: float = 0.0):
        def compute():
            out = work / name
            record = run_steps(name, {name: ["sentiment", "train", "--data", args.data,
                                             "--preset", "fast", "--out", str(out), "--json",
                                             *extra]}, work, torch.get_num_threads())
            summary = record["summaries"][name] or {}
            probs, eval_seconds = split_probabilities(out, splits)
            return ({"description": description, "command_args": extra,
                     "wall_seconds": before + record["seconds"] + eval_seconds,
                     **{k: summary.get(k) for k in ("train_seconds", "peak_rss_mb", "history")}},
                    probs)
        row(name, compute)

    if "svm" in args.rows:
        def logistic():
            svm, fitted = tfidf_svm(data), tfidf_logistic(train_part, splits)
            return ({"description": "TF-IDF uni+bigram + logistic regression (train part; for "
                     "ensembles)", "wall_seconds": fitted["wall_seconds"],
                     "svm_test_accuracy": svm["test_accuracy"],
                     "svm_seconds": svm["wall_seconds"]}, fitted["probabilities"])
        row("tfidf-logistic", logistic)
        kept = results["rows"]["tfidf-logistic"]
        results["rows"]["svm"] = {"description": "TF-IDF uni+bigram + linear SVM (all 25k train)",
                                  "test_accuracy": kept["svm_test_accuracy"],
                                  "valid_accuracy": None, "wall_seconds": kept["svm_seconds"]}
    stages = {"word2vec-vectors": ["embeddings", "train", "--data", args.data, "--out",
                                   str(work / "imdb-word2vec.vec"), "--dim", "128"],
              "lm-pretraining": ["sentiment", "pretrain", "--data", args.data, "--preset",
                                 "fast", "--out", str(work / "lm-pretrained"), "--epochs",
                                 str(args.lm_epochs), "--json"]
              + (["--max-reviews", str(args.lm_max_reviews)] if args.lm_max_reviews else [])}
    wanted = {**{name: TRAINED[name] for name in TRAINED
                 if name in args.rows or (name == "baseline" and "tta" in args.rows)},
              **{name: (f"+ adversarial training on the word embeddings (ε {epsilon})",
                        ["--adversarial", epsilon], None) for name, epsilon in sweep.items()}}
    for name, (description, options, needs) in wanted.items():
        before = 0.0
        if needs:  # word vectors or the language model, made once per WORK
            made = run_steps(needs, {needs: stages[needs]}, work, torch.get_num_threads())
            before = made["seconds"]
            if needs == "lm-pretraining":
                results["language_model"] = {"seconds": before, **made["summaries"][needs]}
        options = [o.format(vectors=work / "imdb-word2vec.vec", lm=work / "lm-pretrained")
                   for o in options]
        train_row(name, description, options, before)
    if "tta" in args.rows:
        def crops():
            probs, seconds = split_probabilities(work / "baseline", splits, crops=3,
                                                 crop_length=400)
            return ({"description": "baseline read as 3 crops of 400 tokens (test-time "
                     "averaging)", "eval_seconds": seconds,
                     "wall_seconds": results["rows"]["baseline"]["wall_seconds"] + seconds},
                    probs)
        row("tta", crops)

    # every combination of two models or more (the test-time-averaged baseline is the baseline)
    ensembles = every_ensemble({n: p for n, p in probabilities.items() if n != "tta"}, labels,
                               rules=("mean",))["mean"]
    results["ensembles"] = ensembles
    if ensembles:
        chosen = max(ensembles, key=lambda name: ensembles[name]["valid"])
        results["best_ensemble_by_validation"] = {"members": chosen, **ensembles[chosen]}
        recurrent = {n: e for n, e in ensembles.items() if "tfidf" not in n} or None
        best = recurrent and max(recurrent, key=lambda name: recurrent[name]["valid"])
        results["best_recurrent_ensemble_by_validation"] = (best and {"members": best,
                                                                      **recurrent[best]})

    rows = [[name, r["description"], _pct(r.get("valid_accuracy")), _pct(r["test_accuracy"]),
             f"{r['wall_seconds'] / 60:.1f}"] for name, r in results["rows"].items()]
    print(markdown_table(["row", "what", "validation (%)", "test (%)", "wall (min)"], rows))
    best = sorted(ensembles.items(), key=lambda kv: -kv[1]["valid"])[:10]
    print(markdown_table(["ensemble (probabilities averaged), by validation accuracy",
                          "validation (%)", "test (%)"],
                         [[name, _pct(acc["valid"]), _pct(acc["test"])] for name, acc in best]))
    print(f"wrote {write_results('imdb_ablation', without_tensors(results), args.out)}")


def _pct(value) -> str:
    return "—" if value is None else f"{100 * value:.2f}"


if __name__ == "__main__":
    main()
