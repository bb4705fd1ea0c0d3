"""Tagger recipes over several seeds, and ensembles of their members, on UD English EWT.

    python benchmarks/pos_recipes.py --data ../shared/data/ud_english_ewt \
        [--runs base:0,1 e10:0,1,2 ...] [--jobs 2] [--device cpu|cuda] [--out results]

Each (recipe, seed) of --runs, in the order given, trains the `bilstm` preset with the
recipe's changes in a worker process (``--jobs`` at a time, each with ``--threads`` threads),
keeps its best dev epoch, and scores it on dev and test. A recipe's members are then ensembled by averaging their tag
probabilities: the first 2, 3, ... seeds. Accuracies are UPOS. The per-token probabilities are
saved (``pos_recipes_probabilities.npz``) so other combinations can be scored afterwards.

This compares recipes' *accuracy*. Training times are those of the device it ran on; the
2-core CPU times of the recipes that matter are measured by benchmarks/pos.py.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import get_context
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import markdown_table, write_results  # noqa: E402

# name: (description, FitConfig overrides, TaggerConfig overrides)
RECIPES = {
    "base": ("the bilstm preset (16 epochs)", {}, {}),
    "e10": ("10 epochs", {"epochs": 10}, {}),
    "e12": ("12 epochs", {"epochs": 12}, {}),
    "e8": ("8 epochs", {"epochs": 8}, {}),
    "b64": ("batch 64 sentences, lr 3e-3", {"batch_size": 64, "lr": 3e-3}, {}),
    "drop50": ("dropout 0.5", {}, {"dropout": 0.5}),
    "cnn": ("character CNN (100 filters) instead of the character BiLSTM", {},
            {"char_encoder": "cnn", "char_hidden": 100}),
    "h384": ("sentence BiLSTM 2×384", {}, {"hidden_size": 384}),
}


def gold_ids(sentences, tags: list[str]) -> np.ndarray:
    index = {t: i for i, t in enumerate(tags)}
    return np.array([index.get(t, -1) for s in sentences for t in s.upos])


def run_job(data: str, recipe: str, seed: int, work: str, device: str, threads: int,
            limit: int | None) -> dict:
    """Train one member, then its UPOS probabilities on dev and test (tokens concatenated)."""
    import torch

    from gatedrnn.data import ud
    from gatedrnn.tagging import Tagger, evaluate, train

    torch.set_num_threads(threads)
    started = time.perf_counter()
    try:
        _, fit, model = RECIPES[recipe]
        out = Path(work) / f"{recipe}-{seed}"
        summary = train(data, "bilstm", out, seed=seed, overrides={**fit, "device": device},
                        model_overrides=model, limit=limit, show_progress=False,
                        log=lambda *_: None)
        tagger = Tagger.load(out, device=device)
        treebank = ud.load(data, show_progress=False)
        result = {"recipe": recipe, "seed": seed, "upos_tags": tagger.vocab.upos,
                  "epochs": len(summary["history"]),
                  "best_epoch": max((h for h in summary["history"] if h.get("best")),
                                    key=lambda h: h["epoch"])["epoch"],
                  "train_seconds": summary["train_seconds"], "params": summary["params"]}
        for split in ("dev", "test"):
            sentences = treebank.split(split)
            report = evaluate(tagger, sentences)
            upos, _ = tagger.probabilities([s.forms for s in sentences])
            result[split] = {"upos_accuracy": report["upos_accuracy"],
                             "oov_upos_accuracy": report["oov_upos_accuracy"],
                             "xpos_accuracy": report["xpos_accuracy"]}
            result[f"{split}_probabilities"] = torch.cat(upos).numpy().astype(np.float16)
        return result
    except Exception:  # noqa: BLE001 - reported with the job, the others go on
        return {"recipe": recipe, "seed": seed, "error": traceback.format_exc(),
                "seconds": time.perf_counter() - started}


def ensembles(results: list[dict], gold: dict) -> list[dict]:
    """Per recipe: the first 1, 2, ... seeds' probabilities averaged."""
    rows = []
    for recipe in dict.fromkeys(r["recipe"] for r in results):
        members = sorted((r for r in results if r["recipe"] == recipe and "error" not in r),
                         key=lambda r: r["seed"])
        for k in range(1, len(members) + 1):
            row = {"recipe": recipe, "members": k, "seeds": [m["seed"] for m in members[:k]]}
            for split in ("dev", "test"):
                mean = sum(m[f"{split}_probabilities"].astype(np.float32)
                           for m in members[:k]) / k
                row[split] = float((mean.argmax(1) == gold[split]).mean())
                row[f"{split}_single_mean"] = float(np.mean(
                    [m[split]["upos_accuracy"] for m in members[:k]]))
            rows.append(row)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder of en_ewt-ud-*.conllu")
    parser.add_argument("--runs", nargs="+", default=["base:0,1", "e10:0,1"],
                        metavar="RECIPE:SEEDS", help=f"recipes ({', '.join(RECIPES)}) and the "
                        "seeds of their members, trained in this order: base:0,1 e10:0")
    parser.add_argument("--jobs", type=int, default=1, help="members trained at once")
    parser.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2) // 2))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--limit", type=int, default=None, help="training sentences (trials)")
    parser.add_argument("--budget-minutes", type=float, default=None,
                        help="start no member after this many minutes")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)

    from gatedrnn.data import ud
    from gatedrnn.runinfo import environment

    treebank = ud.load(args.data, show_progress=False)
    plan = []
    for item in args.runs:
        recipe, _, seeds = item.partition(":")
        if recipe not in RECIPES or not all(x.strip().isdigit() for x in seeds.split(",")):
            parser.error(f"--runs takes RECIPE:SEED[,SEED...] with a recipe among "
                         f"{', '.join(RECIPES)}; got {item!r}")
        plan += [(recipe, int(seed)) for seed in seeds.split(",")]
    results_dir = Path(args.out) if args.out else Path(__file__).resolve().parents[1] / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    work = tempfile.mkdtemp(prefix="pos_recipes_")
    report = {"environment": environment(), "command": " ".join(sys.argv),
              "device": args.device, "recipes": {r: RECIPES[r][0] for r, _ in plan},
              "members": [], "ensembles": []}
    started = time.perf_counter()
    done: list[dict] = []
    gold = None
    pool = ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn"))
    pending, queue = set(), list(plan)
    while queue or pending:
        over = (args.budget_minutes is not None
                and time.perf_counter() - started > 60 * args.budget_minutes)
        while queue and len(pending) < args.jobs and not over:
            recipe, seed = queue.pop(0)
            pending.add(pool.submit(run_job, args.data, recipe, seed, work, args.device,
                                    args.threads, args.limit))
        if not pending:
            break
        finished, pending = wait(pending, return_when=FIRST_COMPLETED)
        for future in finished:
            result = future.result()
            done.append(result)
            minutes = (time.perf_counter() - started) / 60
            if "error" in result:
                print(f"[{minutes:5.1f} min] {result['recipe']} seed {result['seed']} FAILED:\n"
                      f"{result['error']}", flush=True)
                continue
            if gold is None:
                gold = {split: gold_ids(treebank.split(split), result["upos_tags"])
                        for split in ("dev", "test")}
            print(f"[{minutes:5.1f} min] {result['recipe']} seed {result['seed']}: dev "
                  f"{100 * result['dev']['upos_accuracy']:.2f} test "
                  f"{100 * result['test']['upos_accuracy']:.2f} "
                  f"({result['train_seconds'] / 60:.1f} min)", flush=True)
        ok = [r for r in done if "error" not in r]
        report["members"] = [{k: v for k, v in r.items() if not k.endswith("_probabilities")}
                             for r in done]
        report["ensembles"] = ensembles(ok, gold) if ok else []
        report["wall_minutes"] = (time.perf_counter() - started) / 60
        write_results("pos_recipes", report, results_dir)
        # Written aside and renamed: a run stopped mid-write keeps the previous whole file.
        partial = results_dir / "pos_recipes_probabilities.partial.npz"
        np.savez_compressed(partial, **{f"{r['recipe']}-{r['seed']}-{split}":
                                        r[f"{split}_probabilities"]
                                        for r in ok for split in ("dev", "test")})
        partial.replace(results_dir / "pos_recipes_probabilities.npz")
    pool.shutdown(cancel_futures=True)
    rows = [[r["recipe"], str(r["members"]), f"{100 * r['dev_single_mean']:.2f}",
             f"{100 * r['dev']:.2f}", f"{100 * r['test_single_mean']:.2f}",
             f"{100 * r['test']:.2f}"] for r in report["ensembles"]]
    print(markdown_table(["recipe", "members", "dev single (mean)", "dev ensemble",
                          "test single (mean)", "test ensemble"], rows))
    print(f"wrote {results_dir / 'pos_recipes.json'}")


if __name__ == "__main__":
    main()
