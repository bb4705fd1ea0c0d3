"""bidirectional-pos (exercise 3): unidirectional vs bidirectional taggers on UD English EWT.

Every tagger gets the same inputs (word embedding + character BiLSTM, which reads only the word
itself), the same training budget (epochs) and one encoder layer; only the sentence encoder's
direction and width change. A wider unidirectional encoder with the bidirectional one's
parameter count separates "more parameters" from "reads the right context". Scored on EWT test:
UPOS overall, on words unseen in training, XPOS, and UPOS recall per tag.
"""

from __future__ import annotations

import tempfile
import time

from ..analysis import plots
from ..data import ud
from .base import ExperimentResult, ensure_dir, mean_std, progress
from .bidirectional import matched_hidden

NAME = "bidirectional-pos"
NEEDS_DATA = "ud"  # the runner passes data=; reproduce skips the experiment without a treebank


def _settings(quick: bool) -> dict:
    if quick:
        return {"hidden": 64, "epochs": 3, "limit": 3000, "seeds": 1}
    return {"hidden": 128, "epochs": 6, "limit": None, "seeds": 1}


def run(out_dir, quick: bool = False, seeds: int | None = None, show_progress: bool = True,
        overrides: dict | None = None, data=None) -> ExperimentResult:
    from ..tagging import Tagger, evaluate, train  # the tagger stack loads only when needed

    started = time.perf_counter()
    out = ensure_dir(out_dir)
    folder = ud.locate(data)
    if folder is None:
        raise FileNotFoundError(
            "bidirectional-pos needs UD English EWT: pass --data FOLDER (the folder of "
            "en_ewt-ud-*.conllu), set GATEDRNN_UD_DIR, or download it once with "
            "'gatedrnn tagger train'")
    settings = {**_settings(quick), **(overrides or {})}
    seeds = seeds or settings["seeds"]
    treebank = ud.load(folder, download=False)
    hidden = settings["hidden"]
    word_dim, char_features = 100, 2 * 32
    wide = matched_hidden(word_dim + char_features, hidden)
    variants = [("unidirectional", False, hidden), ("bidirectional", True, hidden),
                ("unidirectional, same params", False, wide)]
    rows, overall, per_tag = [], {}, {}
    bar = progress(2 * len(variants) * seeds, NAME, show_progress)
    for mode in ("LSTM", "GRU"):
        for label, bidirectional, size in variants:
            runs = []
            for seed in range(seeds):
                bar.set_postfix_str(f"{mode} {label} seed {seed}")
                with tempfile.TemporaryDirectory(prefix="bipos_") as tmp:
                    summary = train(folder, "bilstm", tmp, seed=seed,
                                    overrides={"epochs": settings["epochs"]},
                                    model_overrides={"mode": mode, "hidden_size": size,
                                                     "num_layers": 1,
                                                     "bidirectional": bidirectional,
                                                     "char_hidden": char_features // 2},
                                    limit=settings["limit"], show_progress=False,
                                    log=lambda m: None)
                    report = evaluate(Tagger.load(tmp), treebank.test)
                runs.append((summary, report))
                bar.update()
            summary, report = runs[0]
            test = [r["upos_accuracy"] for _, r in runs]
            name = f"{mode} {label}"
            rows.append({
                "cell": mode, "direction": label, "hidden": size,
                "encoder params": summary["encoder_params"], "epochs": settings["epochs"],
                "seeds": seeds,
                "dev UPOS": mean_std([s["best_valid_accuracy"] for s, _ in runs])[0],
                "test UPOS": mean_std(test)[0], "test UPOS std": mean_std(test)[1],
                "test UPOS unseen words": _mean([r["oov_upos_accuracy"] for _, r in runs]),
                "test XPOS": mean_std([r["xpos_accuracy"] for _, r in runs])[0],
                "train s": mean_std([s["train_seconds"] for s, _ in runs])[0],
                "per-tag recall": {t: m["recall"] for t, m in report["per_upos"].items()},
            })
            overall.setdefault("all test words", {})[name] = (100 * rows[-1]["test UPOS"],
                                                              100 * rows[-1]["test UPOS std"])
            if rows[-1]["test UPOS unseen words"] is not None:
                overall.setdefault("words unseen in training", {})[name] = (
                    100 * rows[-1]["test UPOS unseen words"], 0.0)
            if mode == "LSTM":
                for tag, recall in rows[-1]["per-tag recall"].items():
                    per_tag.setdefault(tag, {})[name] = (100 * recall, 0.0)
    bar.close()
    figures = [
        plots.grouped_bars(overall, out / "bidirectional_pos.png", "test UPOS accuracy (%)",
                           "POS tagging on UD English EWT: uni- vs bidirectional encoders",
                           ylim=_floor(overall)),
        plots.grouped_bars(per_tag, out / "bidirectional_pos_tags.png", "test recall (%)",
                           "UPOS recall per tag, LSTM taggers", ylim=_floor(per_tag)),
    ]
    sentences = len(treebank.train) if not settings["limit"] else settings["limit"]
    return ExperimentResult(
        name=NAME,
        description=(f"Taggers trained on {sentences} EWT training sentences for "
                     f"{settings['epochs']} epochs (Adam 2e-3 cosine, batch 32, dropout 0.33, "
                     f"word dropout 0.25), best epoch on dev, scored on EWT test "
                     f"({sum(len(s) for s in treebank.test)} words). Inputs: word embedding "
                     f"{word_dim} + character BiLSTM 2×{char_features // 2} (the same for every "
                     f"tagger); encoder: one layer, hidden {hidden} per direction, or {wide} "
                     "for the unidirectional encoder with the bidirectional one's parameter "
                     "count."),
        columns=["cell", "direction", "hidden", "encoder params", "epochs", "dev UPOS",
                 "test UPOS", "test UPOS unseen words", "test XPOS", "train s"],
        rows=rows, figures=figures,
        settings={**settings, "seeds": seeds, "wide_hidden": wide, "treebank": str(folder)},
        seconds=time.perf_counter() - started)


def _mean(values: list) -> float | None:
    """Mean of the values that exist (a test set may have no unseen words)."""
    present = [v for v in values if v is not None]
    return mean_std(present)[0] if present else None


def _floor(groups: dict) -> tuple[float, float]:
    """A y-range that shows the differences: from a little under the lowest bar to 100."""
    lowest = min(mean for bars in groups.values() for mean, _ in bars.values())
    return max(0.0, 5 * int((lowest - 5) // 5)), 100.0
