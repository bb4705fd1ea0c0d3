"""IMDb side by side: the chapter's recipe, our presets, and a TF-IDF + linear SVM baseline.

    python benchmarks/imdb.py --data ../shared/data/aclImdb_v1.tar.gz [--skip seed] [--bf16 seed]
        [--out results]

Rows:
  chapter recipe as written  torch.nn BiLSTM (the seed model) on batches padded to their longest
                             review; timed over --chapter-batches batches and extrapolated to an
                             epoch (it is not trained to the end: ~36 min per epoch here)
  seed preset                the same model on our pipeline (bucketing, exact lengths), trained
  fast preset                our recipe, trained
  TF-IDF + linear SVM        scikit-learn, uni+bigrams
Each training runs in its own process (so its peak memory is its own) and is evaluated on the
25,000 test reviews; prediction speed is measured on the fast preset's checkpoint.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import markdown_table, svm_baseline, write_results  # noqa: E402

from gatedrnn.data import imdb  # noqa: E402
from gatedrnn.data.batching import collate, padded_batches, padding_share  # noqa: E402
from gatedrnn.data.text import Vocab, basic_english  # noqa: E402
from gatedrnn.runinfo import environment  # noqa: E402
from gatedrnn.sentiment import Predictor, evaluate  # noqa: E402


class ChapterBiLSTM(nn.Module):
    """The chapter's model: embedding → nn.LSTM (padded batch, no lengths) → last states → fc."""

    def __init__(self, vocab_size, embedding_dim=100, hidden=256, layers=2, dropout=0.5):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden, layers, bidirectional=True, dropout=dropout,
                            batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(2 * hidden, 2)

    def forward(self, tokens):
        _, (hidden, _) = self.lstm(self.embedding(tokens))
        return self.fc(self.dropout(torch.cat([hidden[-2], hidden[-1]], dim=1)))


def chapter_recipe(data, batches_to_time: int) -> dict:
    train, _ = imdb.validation_split(data.train, 0.1, 0)
    tokens = [basic_english(r.text) for r in train]
    vocab = Vocab.build(tokens, max_size=10_000)
    encoded = [vocab.encode(t) for t in tokens]
    labels = [r.label for r in train]
    lengths = [len(e) for e in encoded]
    batches = padded_batches(lengths, 64, seed=0)
    torch.manual_seed(0)
    model = ChapterBiLSTM(len(vocab))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    times = []
    for index in batches[: batches_to_time + 1]:
        batch = collate([encoded[i] for i in index], [labels[i] for i in index])
        start = time.perf_counter()
        loss = nn.functional.cross_entropy(model(batch.tokens), batch.labels)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        times.append(time.perf_counter() - start)
    per_batch = statistics.fmean(times[1:])  # the first batch warms up
    return {"seconds_per_batch": per_batch, "batches_timed": batches_to_time,
            "batches_per_epoch": len(batches), "epoch_seconds": per_batch * len(batches),
            "padding_share": padding_share(lengths, batches),
            "tokens_per_s": sum(lengths) / (per_batch * len(batches))}


def train_preset(data_path: str, preset: str, out: Path, extra: list[str]) -> dict:
    command = [sys.executable, "-m", "gatedrnn.cli", "sentiment", "train", "--data", data_path,
               "--preset", preset, "--out", str(out), "--json", *extra]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{preset} training failed:\n{done.stderr[-3000:]}")
    summary = json.loads(done.stdout)
    summary["wall_seconds"] = time.perf_counter() - started
    return summary


def test_accuracy(checkpoint: Path, data) -> tuple[dict, float]:
    started = time.perf_counter()
    report = evaluate(Predictor.load(checkpoint), [r.text for r in data.test],
                      [r.label for r in data.test])
    return report, time.perf_counter() - started


def prediction_speed(checkpoint: Path, data, n_batched: int = 5000, n_single: int = 200) -> dict:
    predictor = Predictor.load(checkpoint)
    texts = [r.text for r in data.test[::max(1, len(data.test) // n_batched)]][:n_batched]
    start = time.perf_counter()
    predictor.predict(texts, batch_size=128)
    batched = len(texts) / (time.perf_counter() - start)
    singles = []
    for text in texts[:n_single]:
        start = time.perf_counter()
        predictor.predict([text])
        singles.append(time.perf_counter() - start)
    return {"batched_reviews_per_s": batched, "single_median_ms": 1e3 * statistics.median(singles),
            "single_p99_ms": 1e3 * sorted(singles)[int(0.99 * len(singles)) - 1]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--chapter-batches", type=int, default=8)
    parser.add_argument("--skip", nargs="*", default=[], choices=["chapter", "seed", "fast", "svm"])
    parser.add_argument("--bf16", nargs="*", default=[], choices=["seed", "fast"],
                        help="Train these presets with bfloat16 autocast (--bf16).")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    data = imdb.load(args.data)
    results, rows = {"environment": environment(seed=0)}, []
    work = Path(tempfile.mkdtemp(prefix="imdb_bench_"))

    if "chapter" not in args.skip:
        chapter = chapter_recipe(data, args.chapter_batches)
        results["chapter"] = chapter
        rows.append(["chapter recipe as written (timed, not trained)", "—",
                     f"{chapter['epoch_seconds'] / 60:.1f} min/epoch (extrapolated)",
                     f"{chapter['tokens_per_s']:.0f}", "—"])
        print(f"chapter: {chapter}", flush=True)
    for preset in ("seed", "fast"):
        if preset in args.skip:
            continue
        summary = train_preset(args.data, preset, work / preset,
                               ["--bf16"] if preset in args.bf16 else [])
        report, eval_seconds = test_accuracy(work / preset, data)
        epochs = len(summary["history"])
        epoch_seconds = statistics.fmean(h["train_seconds"] for h in summary["history"])
        results[preset] = {"train": summary, "test": report, "eval_seconds": eval_seconds,
                           "epoch_seconds": epoch_seconds,
                           "total_minutes": (summary["wall_seconds"] + eval_seconds) / 60}
        label = f"{preset} preset ({epochs} epochs{', bf16' if preset in args.bf16 else ''})"
        results[preset]["bf16"] = preset in args.bf16
        rows.append([label, f"{100 * report['accuracy']:.2f}",
                     f"{epoch_seconds / 60:.1f} min/epoch, {results[preset]['total_minutes']:.1f}"
                     " min train+test",
                     f"{statistics.fmean(h['tokens_per_s'] for h in summary['history']):.0f}",
                     f"{summary['peak_rss_mb']:.0f}"])
        print(f"{preset}: test {report['accuracy']:.4f}, {results[preset]['total_minutes']:.1f} "
              "min", flush=True)
    if "fast" not in args.skip:
        results["prediction"] = prediction_speed(work / "fast", data)
    if "svm" not in args.skip:
        svm = svm_baseline(data)
        results["svm"] = svm
        rows.append(["TF-IDF uni+bigram + linear SVM", f"{100 * svm['test_accuracy']:.2f}",
                     f"{svm['wall_seconds']:.0f} s fit+test", "—", "—"])
    if "chapter" in results and "seed" in results:
        results["seed_speedup_per_epoch"] = (results["chapter"]["epoch_seconds"]
                                             / results["seed"]["epoch_seconds"])
    print(markdown_table(["model", "test accuracy (%)", "time", "train tokens/s",
                          "peak RSS (MiB)"], rows))
    if "prediction" in results:
        p = results["prediction"]
        print(f"prediction (fast preset): {p['batched_reviews_per_s']:.0f} reviews/s batched, "
              f"one review {p['single_median_ms']:.1f} ms median, {p['single_p99_ms']:.1f} ms p99")
    if "seed_speedup_per_epoch" in results:
        print(f"seed preset vs the chapter's recipe, per epoch: "
              f"{results['seed_speedup_per_epoch']:.1f}x faster")
    print(f"wrote {write_results('imdb', results, args.out)}")


if __name__ == "__main__":
    main()
