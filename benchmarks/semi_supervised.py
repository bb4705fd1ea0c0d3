"""IMDb from its unlabelled reviews: the semi-supervised losses one by one and mixed, as test
accuracy against CPU minutes (a JSON and a PNG), beside TF-IDF + linear SVM on the same
machine.

    python benchmarks/semi_supervised.py --data aclImdb_v1.tar.gz --vectors imdb-w2v.vec \\
        [--rows ce entropy adversarial virtual mix] [--epochs 2] [--fractions 0.5 1] \\
        [--work DIR] [--out results]

Every row is the sentiment ``fast`` BiLSTM started from ``--vectors`` (word2vec on the
unlabelled + training reviews: ``gatedrnn embeddings train``), on one split and seed, with:
ce nothing more; entropy entropy minimisation (weight 1) on the 50,000 unlabelled + training
reviews; adversarial adversarial training (ε 0.3) on the labelled ones; virtual virtual
adversarial training (ε 0.3, one power iteration) on the unlabelled ones; mix all three (the
``semi`` preset's fit, ``classify.presets.UNLABELLED_FIT``); mix-no-entropy the mix without
entropy minimisation; mix-word-dropout the mix with words dropped (p 0.3) for 4 epochs;
mix-wide the mix at 256 units per direction. Each trains ``--epochs`` epochs (a row's own
where it names them; the preset's one-cycle schedule spans them) and saves its weights after
the ``--fractions`` of them it reaches; each of those and the best epoch's is scored on the
25,000 test reviews. A point's CPU minutes are the epochs' training seconds up to it
(interpolated within an epoch; the run's wall time, with loading the vectors and
calibrating, is ``wall_minutes``)."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, markdown_table, svm_baseline, write_results  # noqa: E402

from gatedrnn.classify.evaluation import evaluate  # noqa: E402
from gatedrnn.classify.presets import UNLABELLED_FIT  # noqa: E402
from gatedrnn.data import imdb  # noqa: E402
from gatedrnn.runinfo import environment  # noqa: E402
from gatedrnn.sentiment import Predictor  # noqa: E402
from gatedrnn.sentiment import train as train_sentiment  # noqa: E402

# name: (description, fit overrides[, model overrides])
ROWS = {
    "ce": ("cross-entropy only", {}),
    "entropy": ("+ entropy minimisation (weight 1)",
                {"entropy_minimisation": UNLABELLED_FIT["entropy_minimisation"]}),
    "adversarial": ("+ adversarial training (ε 0.3)",
                    {"adversarial": UNLABELLED_FIT["adversarial"]}),
    "virtual": ("+ virtual adversarial training (ε 0.3)",
                {"virtual_adversarial": UNLABELLED_FIT["virtual_adversarial"]}),
    "mix": ("+ all three (the semi preset's mixed objective)", dict(UNLABELLED_FIT)),
    "mix-no-entropy": ("+ adversarial and virtual adversarial (the mix but entropy)",
                       {**UNLABELLED_FIT, "entropy_minimisation": 0.0}),
    # Where the distance to Sachan et al. comes from: their labelled part is regularised
    # harder (word dropout 0.5, many epochs) and their BiLSTM is wider (512 units).
    "mix-word-dropout": ("+ all three, words dropped (p 0.3), 4 epochs",
                         {**UNLABELLED_FIT, "epochs": 4}, {"word_dropout": 0.3}),
    "mix-wide": ("+ all three, 256 units per direction", dict(UNLABELLED_FIT),
                 {"hidden_size": 256}),
}


def minutes_at(history: list[dict], epochs: float) -> float:
    """Training minutes after ``epochs`` epochs (fractions interpolated within an epoch)."""
    seconds, whole = 0.0, int(epochs)
    for record in history[:whole]:
        seconds += record["train_seconds"]
    if epochs > whole and whole < len(history):
        seconds += (epochs - whole) * history[whole]["train_seconds"]
    return seconds / 60


def scored(directory: Path, test) -> float:
    predictor = Predictor.load(directory, calibrated=False)
    return evaluate(predictor, [r.text for r in test], [r.label for r in test])["accuracy"]


def run_row(name: str, args, test, work: Path) -> dict:
    cached = work / f"{name}.row.json"
    if cached.exists():  # a rerun continues where an interrupted one stopped
        return {**json.loads(cached.read_text()), "reused": True}
    description, fit, model = (*ROWS[name], {})[:3]
    fit = {"epochs": args.epochs, **fit}
    fractions = [f for f in args.fractions if f <= fit["epochs"]]
    out = work / name
    summary = train_sentiment(args.data, "fast", out, vectors=args.vectors, seed=args.seed,
                              overrides={"snapshots": fractions, **fit},
                              model_overrides=model or None,
                              show_progress=False, log=lambda m: print(f"[{name}] {m}",
                                                                       flush=True))
    history = summary["history"]
    best_epoch = max(history, key=lambda h: h["valid_accuracy"])["epoch"]
    curve = [{"epochs": f, "train_minutes": minutes_at(history, f),
              "test_accuracy": scored(out / "snapshots" / f"epoch-{f:g}", test)}
             for f in fractions]
    record = {"description": description, "fit": fit, "model": model,
              "epochs": len(history),
              "train_minutes": minutes_at(history, len(history)),
              "wall_minutes": summary["train_seconds"] / 60, "best_epoch": best_epoch,
              "valid_accuracy": summary["best_valid_accuracy"],
              "test_accuracy": scored(out / "best", test), "curve": curve,
              "history": [{k: h[k] for k in h if k.startswith(("train_", "valid_", "epoch"))}
                          for h in history]}
    cached.write_text(json.dumps(record, indent=2))
    return record


def plot(rows: dict, svm: dict | None, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figure, axes = plt.subplots(figsize=(8.5, 5.2), dpi=130)
    for name, row in rows.items():
        points = sorted([(p["train_minutes"], p["test_accuracy"]) for p in row["curve"]]
                        + [(row["train_minutes"], row["test_accuracy"])])
        axes.plot([m for m, _ in points], [100 * a for _, a in points], marker="o",
                  label=f"{name}: {row['description']}")
    if svm:
        axes.axhline(100 * svm["test_accuracy"], color="grey", linestyle="--",
                     label=f"TF-IDF + linear SVM ({100 * svm['test_accuracy']:.2f}%)")
    axes.set_xlabel("training time (CPU minutes, 2 cores)")
    axes.set_ylabel("IMDb test accuracy (%)")
    axes.set_title("BiLSTM from word2vec: learning from the unlabelled reviews")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, loc="lower right", framealpha=0.9)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="aclImdb_v1.tar.gz or aclImdb/")
    parser.add_argument("--vectors", required=True, help="word vectors learnt on IMDb")
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.5, 1.0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--svm", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--name", default="semi_supervised")
    parser.add_argument("--work", default=None)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="semi-supervised-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    data = imdb.load(args.data)
    test = data.test
    svm = svm_baseline(data) if args.svm else None
    rows = {}
    for name in args.rows:
        rows[name] = run_row(name, args, test, work)
        print(f"{name}: test {rows[name]['test_accuracy']:.4f} in "
              f"{rows[name]['train_minutes']:.1f} min", flush=True)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    picture = Path(args.out) / f"{args.name}.png"
    plot(rows, svm, picture)
    path = write_results(args.name, {"environment": environment(seed=args.seed),
                                     "work": str(work), "vectors": args.vectors,
                                     "svm": svm, "rows": rows, "plot": picture.name}, args.out)
    print(markdown_table(
        ["row", "what", "epochs", "train min", "valid", "test", "curve (min: test)"],
        [[name, r["description"], r["epochs"], f"{r['train_minutes']:.1f}",
          f"{100 * r['valid_accuracy']:.2f}", f"{100 * r['test_accuracy']:.2f}",
          ", ".join(f"{p['train_minutes']:.0f}: {100 * p['test_accuracy']:.2f}"
                    for p in r["curve"])] for name, r in rows.items()]
        + ([["svm", "TF-IDF + linear SVM", "-", f"{svm['wall_seconds'] / 60:.1f}", "-",
             f"{100 * svm['test_accuracy']:.2f}", "-"]] if svm else [])))
    print(f"wrote {path} and {picture}")


if __name__ == "__main__":
    main()
