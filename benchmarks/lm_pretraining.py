"""What language-model pretraining buys the IMDb classifier, against the CPU time it costs.

    python benchmarks/lm_pretraining.py --data ../shared/data/aclImdb_v1.tar.gz \\
        [--work runs/lm_pretraining] [--fractions 0 0.25 0.5 2] [--lm-preset awd] \\
        [--no-linear] [--softmax] [--out results]

1. The ULMFiT recipe (``gatedrnn sentiment train --recipe ulmfit``), through the pipeline: a
   forward and a backward LM side by side (one thread each), saving snapshots part way, each
   fine-tuned into a classifier; the two combined as validation chooses. Then the same pipeline
   with the NBSVM as a third member (unless --no-linear).
2. The cost curve (gatedrnn.sentiment.pretraining_curve): the forward LM's snapshots (and,
   for 0, an untrained LM with the same vocabulary; above 1, a forward LM trained that many
   epochs on its own) fine-tuned the same way, each with the held-out perplexity of the LM it
   started from, against pretraining compute in core-minutes.
3. --softmax: the output layer's training step by kind of softmax (benchmarks/lm_softmax.py).

Writes results/lm_pretraining.json and lm_pretraining.png. WORK keeps every step, so a rerun
continues where an interruption stopped. The toy-scale point measured before (a 1×128 BiLSTM
LM, results/imdb_ablation.json) is a row, as are the references it has to beat.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, markdown_table, write_results  # noqa: E402

from gatedrnn.lm.presets import PRESETS  # noqa: E402
from gatedrnn.runinfo import environment  # noqa: E402
from gatedrnn.sentiment.pipeline import PipelineOptions, run_pipeline  # noqa: E402
from gatedrnn.sentiment.pretraining_curve import cost_curve  # noqa: E402
from gatedrnn.sentiment.recipes import RECIPES  # noqa: E402


def references() -> dict:
    """Earlier measured rows this benchmark is read against (from results/)."""
    ablation = json.loads((RESULTS / "imdb_ablation.json").read_text(encoding="utf-8"))
    rows = ablation["rows"]
    toy_lm = ablation["language_model"]
    best = json.loads((RESULTS / "recipe_best.json").read_text(encoding="utf-8"))
    return {
        "toy-lm": {"description": "toy scale (results/imdb_ablation.json 'lm'): a 1×128 BiLSTM "
                   "LM, 1 epoch at bptt 200, then the fast preset's recipe",
                   "test_accuracy": rows["lm"]["test_accuracy"],
                   "lm_core_minutes": toy_lm["seconds"] * 2 / 60,
                   "valid_perplexity": toy_lm.get("valid_perplexity")},
        "fast": {"description": "fast preset BiLSTM, no pretraining (imdb_ablation 'baseline')",
                 "test_accuracy": rows["baseline"]["test_accuracy"]},
        "svm": {"description": "TF-IDF uni+bigram + linear SVM (imdb_ablation 'svm')",
                "test_accuracy": rows["svm"]["test_accuracy"]},
        "best-recipe": {"description": "the best recipe's final ensemble (recipe_best.json; "
                        "linear models + BiLSTMs)",
                        "test_accuracy": best["final_by_nested_cv"]["test"]},
    }


def plot(payload: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    curve = sorted(payload["curve"].values(), key=lambda r: r["lm_core_minutes"])
    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    xs = [r["lm_core_minutes"] for r in curve]
    ys = [100 * r["test_accuracy"] for r in curve]
    ax.plot(xs, ys, "o-", color="tab:blue", label="forward LM → ULMFiT classifier")
    for r, x, y in zip(curve, xs, ys):
        ax.annotate(f"{r['lm_epochs']:g} ep, ppl {r['lm_perplexity']:.0f}", (x, y),
                    textcoords="offset points", xytext=(6, -12), fontsize=8)
    backward = payload["rows"].get("ulmfit-backward")
    if backward:
        ax.plot([backward["lm_core_minutes"]], [100 * backward["test_accuracy"]], "s",
                color="tab:orange", label="backward LM → classifier")
    both = payload["recipe"]["final_by_nested_cv"]
    if both:
        ax.plot([payload["recipe"]["lm_core_minutes"]], [100 * both["test"]], "D",
                color="tab:green", label="forward + backward (recipe ulmfit)")
    if payload["with_nbsvm"]:
        ax.plot([payload["recipe"]["lm_core_minutes"]],
                [100 * payload["with_nbsvm"]["final_by_nested_cv"]["test"]], "P",
                color="tab:purple", markersize=8, label="forward + backward + NBSVM")
    toy = payload["references"]["toy-lm"]
    ax.plot([toy["lm_core_minutes"]], [100 * toy["test_accuracy"]], "x", color="gray",
            markersize=9, label="toy-scale LM (1×128 BiLSTM; earlier run, AMD EPYC)")
    styles = {"svm": ":", "fast": "--", "best-recipe": "-."}
    for name, style in styles.items():
        ref = payload["references"][name]
        ax.axhline(100 * ref["test_accuracy"], linestyle=style, color="black", linewidth=0.8)
        ax.annotate(f"{name} {100 * ref['test_accuracy']:.2f}%", (0, 100 * ref["test_accuracy"]),
                    textcoords="offset points", xytext=(2, 3), fontsize=8)
    ax.set_xlabel("LM pretraining compute (CPU core-minutes, 2-core Xeon)")
    ax.set_ylabel("IMDb test accuracy (%)")
    ax.set_title("What language-model pretraining buys the IMDb classifier")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--work", default="runs/lm_pretraining")
    parser.add_argument("--lm-preset", default="awd", choices=list(PRESETS))
    parser.add_argument("--fractions", type=float, nargs="*", default=[0, 0.25, 0.5],
                        help="Points of the cost curve besides one epoch, in LM epochs (0: an "
                             "untrained LM; below 1: snapshots of the recipe's LM; above 1: a "
                             "longer LM)")
    parser.add_argument("--no-linear", action="store_true",
                        help="Skip the pipeline with the NBSVM as a third member")
    parser.add_argument("--softmax", action="store_true", help="Also time the softmax kinds")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--name", default="lm_pretraining")
    args = parser.parse_args()
    work = Path(args.work).resolve()
    data = str(Path(args.data).resolve())
    started = time.perf_counter()

    def log(message):
        print(f"[{(time.perf_counter() - started) / 60:5.1f} min] {message}", flush=True)

    ulmfit = {**RECIPES["ulmfit"].pipeline, "ulmfit_lm_preset": args.lm_preset,
              "lm_snapshots": tuple(sorted(f for f in args.fractions if 0 < f < 1))}
    recipe = run_pipeline(data, work, PipelineOptions(**ulmfit), log=log)
    with_linear = None if args.no_linear else run_pipeline(
        data, work, PipelineOptions(**{**ulmfit, "linear_preset": "nbsvm"}),
        final_directory=work / "final-with-nbsvm", log=log)
    curve = cost_curve(data, work, args.lm_preset, args.fractions, recipe, log)
    lms, rows = curve["language_models"], curve["rows"]
    recipe_minutes = sum(recipe["steps"][s]["seconds"]
                         for s in ("language models", "ulmfit", "evaluation")) / 60
    chosen = PRESETS[args.lm_preset]
    payload = {
        "environment": environment(seed=0), "work": str(work), "lm_preset": args.lm_preset,
        "lm_preset_settings": {"vocab_size": chosen.vocab_size, "bptt": chosen.bptt,
                               "model": chosen.model, "fit": chosen.fit},
        "perplexity_vocabulary": curve["perplexity_vocabulary"], "language_models": lms,
        "rows": rows, "curve": curve["curve"],
        "recipe": {"lm_core_minutes": sum(m["core_minutes"] for m in lms.values()),
                   "wall_minutes": recipe_minutes, "rows": recipe["rows"],
                   "ensembles_mean": recipe["ensembles"],
                   "ensembles_log_odds": recipe["ensembles_log_odds"],
                   "final_by_nested_cv": recipe["final_by_nested_cv"]},
        "with_nbsvm": None if with_linear is None else {
            "rows": with_linear["rows"], "ensembles_mean": with_linear["ensembles"],
            "ensembles_log_odds": with_linear["ensembles_log_odds"],
            "ensembles_stacked": with_linear["ensembles_stacked"],
            "final_by_nested_cv": with_linear["final_by_nested_cv"],
            "nbsvm_minutes": with_linear["steps"]["members"]["seconds"] / 60},
        "references": references(), "softmax": None,
    }
    if args.softmax:
        from lm_softmax import softmax_speed, table
        payload["softmax"] = softmax_speed(args.lm_preset)
    path = write_results(args.name, payload, args.out)
    plot(payload, Path(args.out) / f"{args.name}.png")

    lines = [[name, f"{r['lm_epochs']:g}", f"{r['lm_core_minutes']:.0f}",
              f"{r['lm_perplexity']:.1f}", f"{r['fine_tune_minutes']:.0f}",
              f"{100 * r['valid_accuracy']:.2f}", f"{100 * r['test_accuracy']:.2f}"]
             for name, r in sorted(rows.items(), key=lambda kv: kv[1]["lm_core_minutes"])]
    for title, report, minutes in (("recipe ulmfit", recipe, f"{recipe_minutes:.0f} wall"),
                                   ("+ nbsvm", with_linear, "")):
        if report is not None:
            final = report["final_by_nested_cv"]
            lines.append([f"{title}: {final['members']} ({final['rule']})", "", "", "",
                          minutes, f"{100 * final['valid']:.2f}", f"{100 * final['test']:.2f}"])
    for name, ref in payload["references"].items():
        lines.append([f"{name} (earlier)", "", "", "", "", "",
                      f"{100 * ref['test_accuracy']:.2f}"])
    print(markdown_table(["model", "LM epochs", "LM core-min", "LM ppl", "fine-tune min",
                          "valid %", "test %"], lines))
    if payload["softmax"]:
        print(table(payload["softmax"]))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
