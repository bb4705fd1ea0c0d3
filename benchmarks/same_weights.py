"""A refactor's check on real data: the same short trainings run with this checkout's package
and with another's (a git worktree of the commit before the change), their weights compared
bit for bit, their wall times side by side.

    git worktree add /tmp/before COMMIT
    python benchmarks/same_weights.py --baseline-src /tmp/before/src \\
        --imdb ../shared/data/aclImdb_v1.tar.gz --ud ../shared/data/ud_english_ewt [--out results]

Each training runs in a fresh process (PYTHONPATH picks the package), one after the other, the
two versions interleaved; the baseline runs twice, so that a training that is not repeatable
bit for bit (the n-gram model's solver) shows its own run-to-run difference beside the one
between the versions. The trainings exercise what a change to the training loop, the task
code or the checkpoints could alter: a recurrent classifier with adversarial training and a
moving average, the n-gram classifier, a tagger (bf16, moving average, label smoothing) and a
language model (weight dropout, adaptive softmax off, slanted rates); each on a slice of the
real data.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, markdown_table, write_results  # noqa: E402

# label → (what it trains, the code: IMDB, UD and OUT are filled in). Both versions' public
# APIs take these calls unchanged.
TRAININGS = {
    "sentiment fast + adversarial + EMA": (
        "fast preset, 1,000 reviews, 1 epoch, adversarial 0.3, moving average 0.99",
        "from gatedrnn.sentiment import train\n"
        "train(IMDB, 'fast', OUT, limit=1000, overrides={'epochs': 1, 'adversarial': 0.3, "
        "'ema_decay': 0.99}, show_progress=False, log=lambda m: None)"),
    "sentiment nbsvm": (
        "n-gram preset, 2,000 reviews",
        "from gatedrnn.sentiment import train\n"
        "train(IMDB, 'nbsvm', OUT, limit=2000, show_progress=False, log=lambda m: None)"),
    "tagger bilstm": (
        "bilstm preset (bf16, moving average, label smoothing, cosine), 400 sentences, 1 epoch",
        "from gatedrnn.tagging import train\n"
        "train(UD, 'bilstm', OUT, limit=400, overrides={'epochs': 1}, show_progress=False, "
        "log=lambda m: None)"),
    "language model awd-tiny": (
        "awd-tiny preset, 2,000 reviews, backward",
        "from gatedrnn.pretrain import pretrain\n"
        "pretrain(IMDB, OUT, preset='awd-tiny', direction='backward', max_reviews=2000, "
        "show_progress=False, log=lambda m: None)"),
}


def run(code: str, src: str, out: Path, imdb: str, ud: str) -> float:
    program = (f"import torch; torch.manual_seed(0)\nIMDB, UD, OUT = {imdb!r}, {ud!r}, "
               f"{str(out)!r}\n{code}")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", program], check=True,
                   env={**os.environ, "PYTHONPATH": src})
    return time.perf_counter() - started


def compare(a: Path, b: Path) -> dict:
    """Every checkpoint of run A against run B's: the largest weight difference (0.0: bit for
    bit) and whether their metrics are equal (times and memory left out)."""
    from safetensors.torch import load_file

    checked, largest, same_metrics = 0, 0.0, True
    for weights in sorted(a.rglob("model.safetensors")):
        twin = b / weights.relative_to(a)
        left, right = load_file(str(weights)), load_file(str(twin))
        if left.keys() != right.keys():
            return {"checkpoints": checked + 1, "max_difference": float("inf"),
                    "same_metrics": False}
        largest = max([largest] + [float((left[k].double() - right[k].double()).abs().max())
                                   for k in left if left[k].numel()])
        metrics = [json.loads((p.parent / "metrics.json").read_text()) for p in (weights, twin)]
        metrics = [{k: v for k, v in m.items() if "seconds" not in k and "rss" not in k
                    and "tokens_per_s" not in k} for m in metrics]
        same_metrics &= metrics[0] == metrics[1]
        checked += 1
    return {"checkpoints": checked, "max_difference": largest, "same_metrics": same_metrics}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline-src", required=True, help="the other checkout's src/")
    parser.add_argument("--imdb", required=True)
    parser.add_argument("--ud", required=True)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    sources = {"baseline": str(Path(args.baseline_src).resolve()),
               "this checkout": str(Path(__file__).resolve().parents[1] / "src")}
    imdb, ud = str(Path(args.imdb).resolve()), str(Path(args.ud).resolve())
    work = Path(tempfile.mkdtemp(prefix="same-weights-"))
    rows = {}
    for label, (description, code) in TRAININGS.items():
        seconds, outs = {}, {}
        for version in ("baseline", "this checkout", "baseline again"):
            outs[version] = work / version.replace(" ", "-") / label.replace(" ", "-")
            src = sources["this checkout" if version == "this checkout" else "baseline"]
            seconds[version] = run(code, src, outs[version], imdb, ud)
            print(f"{label}, {version}: {seconds[version]:.1f} s", flush=True)
        versions = compare(outs["baseline"], outs["this checkout"])
        noise = compare(outs["baseline"], outs["baseline again"])
        rows[label] = {"training": description, "seconds": seconds,
                       "ratio": seconds["this checkout"] / seconds["baseline"], **versions,
                       "baseline_run_to_run_difference": noise["max_difference"]}
    from gatedrnn.runinfo import environment
    commit = subprocess.run(["git", "-C", sources["baseline"], "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    path = write_results("same_weights", {"environment": environment(seed=0),
                                          "baseline_commit": commit, "rows": rows}, args.out)
    print(markdown_table(
        ["training", "checkpoints", "max abs Δweight vs baseline", "baseline vs itself",
         "same metrics", "baseline s", "this checkout s", "ratio"],
        [[label, r["checkpoints"], f"{r['max_difference']:.2g}",
          f"{r['baseline_run_to_run_difference']:.2g}", "yes" if r["same_metrics"] else "NO",
          f"{r['seconds']['baseline']:.1f}", f"{r['seconds']['this checkout']:.1f}",
          f"{r['ratio']:.3f}"] for label, r in rows.items()]))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
