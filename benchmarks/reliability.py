"""The reliability suite's heavy parts, with figures: SIGKILL at many points of three trainings,
Hypothesis fuzzing of every reader and the command line, and the HTTP server under stress.

    python benchmarks/reliability.py [--kills 20] [--examples 1000] [--requests 10000]
        [--clients 32] [--checkpoint CKPT] [--out results]

Builds its own small data sets (the tests' fixtures) and tiny models; --checkpoint serves a
real sentiment checkpoint in the stress test instead (e.g. a `fast` one: its forward passes
cost what a user's would). The quick versions of all three run in the tests
(tests/test_reliability.py, tests/test_fuzz.py, tests/test_serve_stress.py). Writes
results/reliability.json.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
import reliability_fuzz  # noqa: E402
import reliability_fuzz_cli  # noqa: E402
import reliability_kill  # noqa: E402
import reliability_server  # noqa: E402
from common import markdown_table, write_results  # noqa: E402
from conftest import UD_PATTERN, _sentence, conllu_text, imdb_files, write_archive  # noqa: E402

from gatedrnn.runinfo import environment  # noqa: E402


def fixtures(work: Path) -> dict:
    """The tests' small IMDb archive and treebank, and a tiny model trained on each."""
    from gatedrnn.sentiment import train as train_sentiment
    from gatedrnn.tagging import train as train_tagger
    archive = write_archive(work / "aclImdb_v1.tar.gz", imdb_files())
    treebank = work / "ud"
    treebank.mkdir()
    rng = random.Random(0)
    for split, n in (("train", 120), ("dev", 30), ("test", 30)):
        (treebank / UD_PATTERN.format(split=split)).write_text(
            conllu_text([_sentence(rng) for _ in range(n)], split), encoding="utf-8")
    quiet = {"show_progress": False, "log": lambda m: None}
    train_sentiment(archive, "tiny", work / "sentiment", **quiet)
    train_tagger(treebank, "tiny", work / "tagger", overrides={"epochs": 1}, **quiet)
    return {"imdb_archive": archive, "ud": treebank, "sentiment": work / "sentiment" / "best",
            "tagger": work / "tagger" / "best",
            "conllu": (treebank / UD_PATTERN.format(split="train")).read_text(encoding="utf-8")}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs per training task.")
    parser.add_argument("--examples", type=int, default=1000, help="Fuzzed cases per reader.")
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--checkpoint", default=None,
                        help="A sentiment checkpoint to serve [default: a tiny one].")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="reliability_"))
    context = fixtures(work)
    results = {"environment": environment(seed=0), "kills": {}, "fuzz": {}}
    for task in reliability_kill.TASKS:
        started = time.perf_counter()
        record = reliability_kill.kill_chain(task, {"imdb": context["imdb_archive"],
                                                    "ud": context["ud"]}, work / "kills",
                                             args.kills)
        results["kills"][task] = {**record, "seconds": time.perf_counter() - started}
        print(f"{task}: {record['kills']} kills ({record['mid_save']} during a save), "
              f"bitwise equal: {record['final_weights_bitwise_equal']}", flush=True)
    readers = {**reliability_fuzz.READERS, **reliability_fuzz_cli.READERS}
    for reader in readers:
        started = time.perf_counter()
        try:
            record = reliability_fuzz.fuzz(reader, args.examples, context, readers)
        except Exception as exc:  # a crash: the smallest input Hypothesis found, reported
            record = {"cases": None, "crashed": 1, "failure": " ".join(repr(exc).split())}
        results["fuzz"][reader] = {**record, "seconds": time.perf_counter() - started}
        print(f"fuzz {reader}: {record}", flush=True)
    checkpoint = args.checkpoint or str(context["sentiment"])
    results["server"] = {"checkpoint": checkpoint, **reliability_server.stress(
        checkpoint, args.requests, args.clients)}
    path = write_results("reliability", results, args.out)

    kills = results["kills"].values()
    print(markdown_table(
        ["training", "kills", "during a save", "every checkpoint loadable",
         "final weights bitwise equal"],
        [[k["task"], k["kills"], k["mid_save"], k["every_checkpoint_loadable"],
          k["final_weights_bitwise_equal"]] for k in kills]))
    print(markdown_table(["reader", "cases", "crashed", "outcomes"],
                         [[name, r["cases"], r["crashed"], r.get("outcomes", r.get("failure"))]
                          for name, r in results["fuzz"].items()]))
    s = results["server"]
    print(markdown_table(
        ["requests", "clients", "invalid", "hung up", "slow", "5xx", "wrong", "p50 (ms)",
         "p99 (ms)", "requests/s", "RSS growth"],
        [[s["requests"], s["clients"], s["invalid"], s["hung_up"], s["slow_senders"],
          s["server_errors_5xx"], s["wrong_answers"], f"{s['p50_ms']:.1f}",
          f"{s['p99_ms']:.1f}", f"{s['requests_per_s']:.0f}", f"{100 * s['rss_growth']:+.1f}%"]]))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
