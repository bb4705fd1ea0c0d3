"""What language-model pretraining buys the IMDb classifier, against the CPU time it costs.

    python benchmarks/lm_pretraining.py --data ../shared/data/aclImdb_v1.tar.gz \\
        [--work runs/lm_pretraining] [--fractions 0 0.25 0.5 2] [--lm-preset awd] \\
        [--no-linear] [--softmax] [--out results]

1. The ULMFiT recipe (``gatedrnn sentiment train --recipe ulmfit``), through the pipeline: a
   forward and a backward LM side by side (one thread each), saving snapshots part way, each
   fine-tuned into a classifier; the two combined as validation chooses. Then the same pipeline
   with the NBSVM as a third member (unless --no-linear).
2. The cost curve: the forward LM's snapshots (and, for 0, an untrained LM with the same
   vocabulary) fine-tuned the same way, each with the held-out perplexity of the LM it started
   from; pretraining compute is counted in core-minutes (the LM's wall time × its threads ×
   the fraction of its epochs). A fraction above 1 trains a forward LM for that many epochs
   on its own (its schedule spans them all).
3. --softmax: the output layer's training step for the preset's vocabulary and embedding, by
   kind (full, adaptive, sampled), in tokens/s: why the awd preset uses the adaptive softmax.

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

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, markdown_table, time_interleaved, write_results  # noqa: E402

from gatedrnn.data import imdb  # noqa: E402
from gatedrnn.lm import evaluate_lm  # noqa: E402
from gatedrnn.models.language_model import LanguageModel, LanguageModelConfig  # noqa: E402
from gatedrnn.runinfo import environment  # noqa: E402
from gatedrnn.sentiment.pipeline import (  # noqa: E402
    PipelineOptions,
    accuracy,
    model_probabilities,
    run_pipeline,
    run_steps,
)
from gatedrnn.sentiment.presets import LM_PRESETS  # noqa: E402
from gatedrnn.sentiment.recipes import RECIPES  # noqa: E402
from gatedrnn.train import checkpoint  # noqa: E402


def untrained_language_model(trained: Path, out: Path, seed: int = 0) -> Path:
    """OUT: a language model shaped like TRAINED, with its vocabulary, at its initial weights
    (the cost curve's 0-epoch point)."""
    if (out / "config.json").exists():
        return out
    directory = checkpoint.resolve(trained)
    config = checkpoint.read_config(directory)
    torch.manual_seed(seed)
    model = LanguageModel(LanguageModelConfig.from_dict(config["model"]))
    checkpoint.save(out, config=config, state_dict=model.state_dict(),
                    vocab_tokens=checkpoint.load_vocab_tokens(directory),
                    metrics={"epochs": 0, "steps": 0})
    return out


def fine_tune(name: str, sources: dict[str, Path], data: str, work: Path, log) -> dict:
    """Fine-tune a classifier (preset ulmfit) from each LM in ``sources`` (label → LM), side by
    side, one thread each; the step's record."""
    split = ["--split-seed", "0", "--split-by", "film", "--json"]
    threads = 1 if len(sources) > 1 else 2
    return run_steps(name, {label: ["sentiment", "train", "--data", data, "--preset", "ulmfit",
                                    "--init-from", str(source), *split, "--out",
                                    str(work / label)]
                            for label, source in sources.items()}, work, threads, log)


def lm_minutes(step: dict) -> dict:
    """Core-minutes of each LM in the pipeline's language-model step (its own training time ×
    the threads it had), and its peak RSS."""
    out = {}
    for label, summary in step["summaries"].items():
        rss = max((h.get("peak_rss_mb") or 0) for h in summary["history"])
        out[label] = {"wall_minutes": summary["train_seconds"] / 60,
                      "core_minutes": summary["train_seconds"] * step["threads_each"] / 60,
                      "tokens_per_s": summary["history"][-1].get("tokens_per_s"),
                      "peak_rss_mb": rss, "valid_perplexity": summary["valid_perplexity"],
                      "epochs": len(summary["history"])}
    return out


def softmax_speed(preset: str, repeats: int = 5) -> dict:
    """Tokens/s of the output layer's forward + backward for a batch of the preset's LM
    (batch × bptt hidden states, Zipf-distributed targets), per kind of softmax."""
    from gatedrnn.nn.softmax import sampled_softmax_loss
    chosen = LM_PRESETS[preset]
    vocab, width = chosen.vocab_size, chosen.model["embedding_dim"]
    tokens = chosen.fit["batch_size"] * chosen.bptt
    generator = torch.Generator().manual_seed(0)
    zipf = 1.0 / torch.arange(1, vocab + 1, dtype=torch.float64)
    targets = torch.multinomial(zipf, tokens, replacement=True, generator=generator)
    states = torch.randn(tokens, width, requires_grad=True)
    full = torch.nn.Linear(width, vocab)
    adaptive = torch.nn.AdaptiveLogSoftmaxWithLoss(width, vocab, chosen.model["cutoffs"],
                                                   div_value=4.0)

    def step(loss_fn):
        def run():
            loss = loss_fn()
            loss.backward()
        return run

    def full_loss(bf16=False):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = full(states)
        return torch.nn.functional.cross_entropy(logits.float(), targets)

    def sampled(k, bf16=False):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return sampled_softmax_loss(states, full.weight, full.bias, targets, zipf.float(),
                                        k, generator)

    calls = {"full (fp32)": (step(full_loss), None),
             "full (bf16)": (step(lambda: full_loss(True)), None),
             f"adaptive {chosen.model['cutoffs']} (fp32)": (
                 step(lambda: adaptive(states, targets).loss), None),
             "sampled 2048 (fp32)": (step(lambda: sampled(2048)), None),
             "sampled 2048 (bf16)": (step(lambda: sampled(2048, True)), None),
             "sampled 8192 (fp32)": (step(lambda: sampled(8192)), None)}
    timed = time_interleaved(calls, repeats)
    return {"vocabulary": vocab, "hidden": width, "tokens_per_step": tokens,
            "threads": torch.get_num_threads(),
            "kinds": {label: {**t, "tokens_per_s": tokens / t["median_s"]}
                      for label, t in timed.items()}}


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
    parser.add_argument("--lm-preset", default="awd", choices=list(LM_PRESETS))
    parser.add_argument("--fractions", type=float, nargs="*", default=[0, 0.25, 0.5],
                        help="Points of the cost curve besides one epoch, in LM epochs (0: an untrained "
                             "LM; below 1: snapshots of the recipe's LM; above 1: a longer LM)")
    parser.add_argument("--no-linear", action="store_true",
                        help="Skip the pipeline with the NBSVM as a third member")
    parser.add_argument("--softmax", action="store_true", help="Also time the softmax kinds")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--name", default="lm_pretraining")
    args = parser.parse_args()
    work = Path(args.work).resolve()
    data = str(Path(args.data).resolve())
    snapshots = tuple(sorted(f for f in args.fractions if 0 < f < 1))
    started = time.perf_counter()

    def log(message):
        print(f"[{(time.perf_counter() - started) / 60:5.1f} min] {message}", flush=True)

    options = PipelineOptions(**{**RECIPES["ulmfit"].pipeline,
                                 "ulmfit_lm_preset": args.lm_preset,
                                 "lm_snapshots": snapshots})
    recipe = run_pipeline(data, work, options, log=log)
    lms = lm_minutes(recipe["steps"]["language models"])
    recipe["lm_core_minutes"] = sum(m["core_minutes"] for m in lms.values())
    with_linear = None
    if not args.no_linear:
        with_linear = run_pipeline(data, work, PipelineOptions(**{
            **RECIPES["ulmfit"].pipeline, "ulmfit_lm_preset": args.lm_preset,
            "lm_snapshots": snapshots, "linear_preset": "nbsvm"}),
            final_directory=work / "final-with-nbsvm", log=log)

    # the cost curve: the forward LM part way (and untrained), fine-tuned as at one epoch;
    # past one epoch, a forward LM trained that long on its own
    sources, longer = {}, {}
    for fraction in args.fractions:
        label = f"ulmfit-forward-{fraction:g}"
        if fraction == 0:
            sources[label] = untrained_language_model(work / "lm-forward",
                                                      work / "lm-forward-untrained")
        elif fraction < 1:
            sources[label] = work / "lm-forward" / "snapshots" / f"epoch-{fraction:g}"
        elif fraction > 1:
            epochs = round(fraction)
            longer[label] = run_steps(f"lm-forward-{epochs}ep", {f"lm-forward-{epochs}ep": [
                "lm", "pretrain", "--data", data, "--preset", args.lm_preset, "--direction",
                "forward", "--epochs", str(epochs), "--out", str(work / f"lm-forward-{epochs}ep"),
                "--json"]}, work, 2, log)
            sources[label] = work / f"lm-forward-{epochs}ep"
    labels = list(sources)
    fine_tunes = {}
    for start in range(0, len(labels), 2):
        pair = {label: sources[label] for label in labels[start:start + 2]}
        step = fine_tune("curve-" + "-".join(pair), pair, data, work, log)
        fine_tunes.update({label: step for label in pair})

    dataset = imdb.load(data)
    _, valid_part = imdb.validation_split(dataset.train, 0.1, 0, by="film")
    splits = {"valid": valid_part, "test": dataset.test}
    truth = {name: torch.tensor([r.label for r in reviews]) for name, reviews in splits.items()}
    rows, curve = {}, {}
    forward = lms["lm-forward"]
    points = {1.0: ("ulmfit-forward", work / "lm-forward",
                    recipe["steps"]["ulmfit"])}
    points.update({f: (label, sources[label], fine_tunes[label])
                   for f, label in zip(args.fractions, labels)})
    for fraction, (name, lm_dir, step) in sorted(points.items()):
        log(f"evaluating {name}")
        probabilities, _ = model_probabilities(work / name, splits)
        perplexity = evaluate_lm(lm_dir, data, show_progress=False)
        summary = step["summaries"][name]
        if name in longer:  # its own LM run: its own time
            own = lm_minutes(longer[name])[f"lm-forward-{round(fraction)}ep"]
            epochs, core_minutes = own["epochs"], own["core_minutes"]
        else:
            epochs, core_minutes = fraction * forward["epochs"], fraction * forward["core_minutes"]
        row = {"lm_epochs": epochs, "lm_core_minutes": core_minutes,
               "lm_perplexity": perplexity["perplexity"],
               "lm_next_word_accuracy": perplexity["next_word_accuracy"],
               "fine_tune_minutes": step["seconds"] / 60,
               "fine_tune_threads": step["threads_each"],
               "fine_tune_peak_rss_mb": max((h.get("peak_rss_mb") or 0)
                                            for h in summary["history"]),
               **{f"{split}_accuracy": accuracy(probabilities[split], truth[split])
                  for split in splits}}
        curve[name] = rows[name] = row
    backward_probabilities, _ = model_probabilities(work / "ulmfit-backward", splits)
    backward_perplexity = evaluate_lm(work / "lm-backward", data, show_progress=False)
    backward_step = recipe["steps"]["ulmfit"]
    rows["ulmfit-backward"] = {
        "lm_epochs": lms["lm-backward"]["epochs"],
        "lm_core_minutes": lms["lm-backward"]["core_minutes"],
        "lm_perplexity": backward_perplexity["perplexity"],
        "lm_next_word_accuracy": backward_perplexity["next_word_accuracy"],
        "fine_tune_minutes": backward_step["seconds"] / 60,
        "fine_tune_threads": backward_step["threads_each"],
        **{f"{split}_accuracy": accuracy(backward_probabilities[split], truth[split])
           for split in splits}}

    recipe_minutes = (recipe["steps"]["language models"]["seconds"]
                      + recipe["steps"]["ulmfit"]["seconds"]
                      + recipe["steps"]["evaluation"]["seconds"]) / 60
    payload = {
        "environment": environment(seed=0), "work": str(work), "lm_preset": args.lm_preset,
        "lm_preset_settings": {"vocab_size": LM_PRESETS[args.lm_preset].vocab_size,
                               "bptt": LM_PRESETS[args.lm_preset].bptt,
                               "model": LM_PRESETS[args.lm_preset].model,
                               "fit": LM_PRESETS[args.lm_preset].fit},
        "perplexity_vocabulary": perplexity["vocabulary"],
        "language_models": lms,
        "rows": rows, "curve": curve,
        "recipe": {"lm_core_minutes": recipe["lm_core_minutes"],
                   "wall_minutes": recipe_minutes,
                   "rows": recipe["rows"], "ensembles_mean": recipe["ensembles"],
                   "ensembles_log_odds": recipe["ensembles_log_odds"],
                   "final_by_nested_cv": recipe["final_by_nested_cv"]},
        "with_nbsvm": None if with_linear is None else {
            "rows": with_linear["rows"], "ensembles_mean": with_linear["ensembles"],
            "ensembles_log_odds": with_linear["ensembles_log_odds"],
            "ensembles_stacked": with_linear["ensembles_stacked"],
            "final_by_nested_cv": with_linear["final_by_nested_cv"],
            "nbsvm_minutes": with_linear["steps"]["members"]["seconds"] / 60},
        "references": references(),
        "softmax": softmax_speed(args.lm_preset) if args.softmax else None,
    }
    path = write_results(args.name, payload, args.out)
    plot(payload, Path(args.out) / f"{args.name}.png")

    table = [[name, f"{r['lm_epochs']:g}", f"{r['lm_core_minutes']:.0f}",
              f"{r['lm_perplexity']:.1f}", f"{r['fine_tune_minutes']:.0f}",
              f"{100 * r['valid_accuracy']:.2f}", f"{100 * r['test_accuracy']:.2f}"]
             for name, r in sorted(rows.items(), key=lambda kv: kv[1]["lm_core_minutes"])]
    final = recipe["final_by_nested_cv"]
    table.append([f"recipe ulmfit: {final['members']} ({final['rule']})", "", "", "",
                  f"{recipe_minutes:.0f} wall", f"{100 * final['valid']:.2f}",
                  f"{100 * final['test']:.2f}"])
    if with_linear is not None:
        final = with_linear["final_by_nested_cv"]
        table.append([f"+ nbsvm: {final['members']} ({final['rule']})", "", "", "", "",
                      f"{100 * final['valid']:.2f}", f"{100 * final['test']:.2f}"])
    for name, ref in payload["references"].items():
        table.append([f"{name} (earlier)", "", "", "", "", "",
                      f"{100 * ref['test_accuracy']:.2f}"])
    print(markdown_table(["model", "LM epochs", "LM core-min", "LM ppl", "fine-tune min",
                          "valid %", "test %"], table))
    if payload["softmax"]:
        print(markdown_table(["softmax", "tokens/s"], [
            [k, f"{v['tokens_per_s']:,.0f}"] for k, v in payload["softmax"]["kinds"].items()]))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
