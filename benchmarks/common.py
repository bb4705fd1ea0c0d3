"""Timing and reporting helpers shared by the benchmark scripts, and the IMDb linear baseline
(not part of the package)."""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent.parent / "results"


def time_interleaved(calls: dict, repeats: int, warmup: int = 1) -> dict:
    """Time several callables round-robin, so that a slow spell of the machine hits all alike.

    ``calls`` maps a label to ``(fn, repeats_or_None)``; returns label → seconds per call.
    """
    for fn, _ in calls.values():
        for _ in range(warmup):
            fn()
    times = {label: [] for label in calls}
    for round_index in range(repeats):
        for label, (fn, own_repeats) in calls.items():
            if own_repeats is not None and round_index >= own_repeats:
                continue
            start = time.perf_counter()
            fn()
            times[label].append(time.perf_counter() - start)
    return {label: {"median_s": statistics.median(t), "min_s": min(t), "repeats": len(t)}
            for label, t in times.items()}


def markdown_table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_results(name: str, payload: dict, out_dir: str | os.PathLike | None = None) -> Path:
    directory = Path(out_dir) if out_dir else RESULTS
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def svm_baseline(data) -> dict:
    """TF-IDF uni+bigram + linear SVM on all 25,000 IMDb training reviews (the bar as usually
    quoted): its test accuracy and wall time."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC
    started = time.perf_counter()
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    features = vectorizer.fit_transform([r.text for r in data.train])
    classifier = LinearSVC(C=0.5).fit(features, [r.label for r in data.train])
    predicted = classifier.predict(vectorizer.transform([r.text for r in data.test]))
    accuracy = float((predicted == [r.label for r in data.test]).mean())
    return {"test_accuracy": accuracy, "wall_seconds": time.perf_counter() - started}
