"""POS tagging on UD English EWT: the bidirectional and unidirectional taggers side by side.

    python benchmarks/pos.py --data ../shared/data/ud_english_ewt [--skip uni] [--out results]

Rows:
  most frequent tag      each training word's most frequent UPOS/XPOS, unknown words NOUN/NN
                         (how much a tagger adds over a lookup table)
  bilstm preset          `gatedrnn tagger train` (word + char BiLSTM → BiLSTM 2×256)
  unidirectional         the same preset with a left-to-right sentence encoder
With --members N the bidirectional row is an ensemble of N taggers (seeds SEED, SEED+1, ...)
trained side by side, one process per core share (`gatedrnn tagger train --members N`).
Each training runs in its own process and is scored on EWT test: UPOS and XPOS accuracy,
overall and on words unseen in training; tagging speed is tokens/s over the whole test set,
batched, and the median time to tag one sentence.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import markdown_table, write_results  # noqa: E402

from gatedrnn.data import ud  # noqa: E402
from gatedrnn.runinfo import environment  # noqa: E402
from gatedrnn.tagging import Tagger, evaluate  # noqa: E402

VARIANTS = {"bi": [], "uni": ["--unidirectional"]}


def most_frequent_tag(treebank: ud.Treebank) -> dict:
    upos, xpos = {}, {}
    for sentence in treebank.train:
        for form, u, x in zip(sentence.forms, sentence.upos, sentence.xpos):
            upos.setdefault(form, Counter())[u] += 1
            xpos.setdefault(form, Counter())[x] += 1
    right_u = right_x = oov = oov_right = total = 0
    for sentence in treebank.test:
        for form, u, x in zip(sentence.forms, sentence.upos, sentence.xpos):
            known = form in upos
            guess_u = upos[form].most_common(1)[0][0] if known else "NOUN"
            guess_x = xpos[form].most_common(1)[0][0] if known else "NN"
            right_u += guess_u == u
            right_x += guess_x == x
            oov += not known
            oov_right += (not known) and guess_u == u
            total += 1
    return {"upos_accuracy": right_u / total, "xpos_accuracy": right_x / total,
            "oov_upos_accuracy": oov_right / oov if oov else None}


def train_variant(data: str, name: str, out: Path, extra: list[str]) -> dict:
    command = [sys.executable, "-m", "gatedrnn.cli", "tagger", "train", "--data", data,
               "--out", str(out), "--json", *VARIANTS[name], *extra]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{name} training failed:\n{done.stderr[-3000:]}")
    summary = json.loads(done.stdout)
    summary["wall_seconds"] = time.perf_counter() - started
    return summary


@torch.inference_mode()
def tagging_speed(tagger: Tagger, sentences: list[ud.Sentence], repeats: int = 3,
                  singles: int = 300) -> dict:
    tokens = [s.forms for s in sentences]
    count = sum(len(t) for t in tokens)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        tagger.tag(tokens)
        times.append(time.perf_counter() - start)
    single = []
    for sentence in tokens[:singles]:
        start = time.perf_counter()
        tagger.tag([sentence])
        single.append(time.perf_counter() - start)
    return {"batched_tokens_per_s": count / statistics.median(times),
            "single_sentence_median_ms": 1e3 * statistics.median(single)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder of en_ewt-ud-*.conllu")
    parser.add_argument("--skip", nargs="*", default=[], choices=list(VARIANTS))
    parser.add_argument("--epochs", type=int, default=None, help="override the preset's epochs")
    parser.add_argument("--word-dropout-alpha", type=float, default=None,
                        help="override the preset's frequency-aware word dropout")
    parser.add_argument("--seed", type=int, default=0, help="training seed of the taggers")
    parser.add_argument("--members", type=int, default=1,
                        help="the bidirectional tagger as an ensemble of this many")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    treebank = ud.load(args.data)
    extra = ["--seed", str(args.seed)] + (["--epochs", str(args.epochs)] if args.epochs else [])
    if args.word_dropout_alpha is not None:
        extra += ["--word-dropout-alpha", str(args.word_dropout_alpha)]
    results = {"environment": environment(seed=args.seed), "command": " ".join(sys.argv),
               "test_tokens": sum(map(len, treebank.test))}
    baseline = most_frequent_tag(treebank)
    results["most_frequent_tag"] = baseline
    rows = [["most frequent tag (lookup)", "—", f"{100 * baseline['upos_accuracy']:.2f}",
             f"{100 * baseline['oov_upos_accuracy']:.2f}",
             f"{100 * baseline['xpos_accuracy']:.2f}", "—", "—"]]
    work = Path(tempfile.mkdtemp(prefix="pos_bench_"))
    for name in VARIANTS:
        if name in args.skip:
            continue
        members = args.members if name == "bi" else 1
        summary = train_variant(args.data, name, work / name,
                                extra + (["--members", str(members)] if members > 1 else []))
        tagger = Tagger.load(work / name)
        report = evaluate(tagger, treebank.test)
        speed = tagging_speed(tagger, treebank.test)
        results[name] = {"train": summary, "test": report, "speed": speed}
        label = ("bilstm preset (bidirectional)" if name == "bi"
                 else "bilstm preset, unidirectional encoder")
        if members > 1:
            label = f"ensemble of {members} × {label}"
            report["members_test"] = [evaluate(m, treebank.test)["upos_accuracy"]
                                      for m in tagger.members]
        epochs = len((summary["members"][0] if members > 1 else summary)["history"])
        rows.append([f"{label}, {epochs} epochs, "
                     f"{summary['params'] / 1e6:.1f} M params",
                     f"{summary['wall_seconds'] / 60:.1f}",
                     f"{100 * report['upos_accuracy']:.2f}",
                     f"{100 * report['oov_upos_accuracy']:.2f}",
                     f"{100 * report['xpos_accuracy']:.2f}",
                     f"{speed['batched_tokens_per_s']:.0f}",
                     f"{speed['single_sentence_median_ms']:.1f}"])
        print(f"{name}: UPOS {report['upos_accuracy']:.4f} in "
              f"{summary['wall_seconds'] / 60:.1f} min", flush=True)
    print(markdown_table(["tagger", "train (min)", "test UPOS (%)", "UPOS unseen words (%)",
                          "test XPOS (%)", "tagging tokens/s", "one sentence (ms)"], rows))
    print(f"wrote {write_results('pos', results, args.out)}")


if __name__ == "__main__":
    main()
