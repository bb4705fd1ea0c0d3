"""Model selection for the `fast` preset: train candidate settings, compare VALIDATION accuracy.

One run on an NVIDIA H200 (2026-11-28, `--device cuda`, 3 epochs each) gave: max pooling 88.88%,
mean 89.92%, attention 90.88%, no truncation 87.84%, hidden 256 89.44% (then the device time
ran out); the preset now uses attention pooling.

    python benchmarks/imdb_sweep.py --data ../shared/data/aclImdb_v1.tar.gz [--device cuda]

Never looks at the test set. On a GPU the times are not CPU times; the table also reports the
tokens each candidate processes per epoch, which is what the CPU cost scales with.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import markdown_table, write_results  # noqa: E402

from gatedrnn.runinfo import environment  # noqa: E402
from gatedrnn.sentiment import train  # noqa: E402

CANDIDATES = {
    "fast as defined": ({}, {}, None),
    "no truncation": ({"max_length": None}, {}, None),
    "max pooling": ({}, {"pooling": "max"}, None),
    "mean pooling": ({}, {"pooling": "mean"}, None),
    "hidden 256": ({}, {"hidden_size": 256}, None),
    "4 epochs": ({"epochs": 4}, {}, None),
    "2 layers": ({}, {"num_layers": 2}, None),
    "batch 64, lr 3e-3": ({"batch_size": 64, "lr": 3e-3}, {}, None),
    "GRU": ({}, {"mode": "GRU"}, None),
    "vocab 50k, embedding 200": ({}, {"embedding_dim": 200}, 50_000),
    "max length 800": ({"max_length": 800}, {}, None),
    "embedding dropout 0.4": ({}, {"embedding_dropout": 0.4}, None),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    rows, payload = [], {}
    for name, (fit, model, vocab_size) in CANDIDATES.items():
        if args.only and name not in args.only:
            continue
        started = time.perf_counter()
        try:
            with tempfile.TemporaryDirectory() as out:
                summary = train(args.data, "fast", out, overrides={**fit, "device": args.device},
                                model_overrides=model, vocab_size=vocab_size, show_progress=False,
                                log=lambda m: None)
        except Exception:  # keep sweeping; report the failure
            traceback.print_exc()
            rows.append([name, "failed", "", "", ""])
            continue
        seconds = time.perf_counter() - started
        best = summary["best_valid_accuracy"]
        per_epoch = [round(h["valid_accuracy"], 4) for h in summary["history"]]
        payload[name] = {"fit": fit, "model": model, "vocab_size": vocab_size,
                         "best_valid_accuracy": best, "valid_by_epoch": per_epoch,
                         "seconds": seconds, "params": summary["params"],
                         "train_tokens_per_epoch": summary["train_tokens_per_epoch"]}
        rows.append([name, f"{best:.4f}", " ".join(map(str, per_epoch)),
                     summary["train_tokens_per_epoch"], f"{seconds:.0f}"])
        print(f"{name}: valid {best:.4f} {per_epoch} ({seconds:.0f} s)", flush=True)
    print(markdown_table(["candidate", "best valid acc", "valid acc by epoch",
                          "train tokens/epoch", f"s on {args.device}"], rows))
    write_results("imdb_sweep", {"device": args.device, "environment": environment(seed=0),
                                 "candidates": payload}, args.out)


if __name__ == "__main__":
    main()
