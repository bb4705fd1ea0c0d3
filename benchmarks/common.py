"""Timing and reporting helpers shared by the benchmark scripts."""

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
    """RESULTS/NAME.json (or OUT_DIR/NAME.json), written atomically (flushed, renamed)."""
    from gatedrnn.train.checkpoint import write_json_atomic
    directory = Path(out_dir) if out_dir else RESULTS
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    write_json_atomic(path, payload)
    return path


def svm_baseline(data) -> dict:
    """TF-IDF uni+bigram + linear SVM on all 25,000 IMDb training reviews (the bar as usually
    quoted): its test accuracy and wall time (gatedrnn.sentiment.baselines)."""
    from gatedrnn.sentiment.baselines import tfidf_svm
    return tfidf_svm(data)


def without_tensors(results: dict) -> dict:
    """``results`` as JSON can hold it (tensors and other objects become null)."""
    return json.loads(json.dumps(results, default=lambda o: None))


def cached_row(work: Path, name: str, compute) -> tuple[dict, dict]:
    """A benchmark row's (record, probabilities): read from WORK/NAME.row.json and
    NAME.probs.pt when an earlier run made them (marked "reused"), else ``compute()``d and
    stored there, so an interrupted benchmark continues where it stopped."""
    import torch
    row_file, probs_file = Path(work) / f"{name}.row.json", Path(work) / f"{name}.probs.pt"
    if row_file.exists() and probs_file.exists():
        return ({**json.loads(row_file.read_text(encoding="utf-8")), "reused": True},
                torch.load(probs_file))
    from gatedrnn.train.checkpoint import write_json_atomic
    record, probabilities = compute()
    partial = probs_file.with_name(f".{probs_file.name}.tmp")
    torch.save(probabilities, partial)
    os.replace(partial, probs_file)
    write_json_atomic(row_file, without_tensors(record))  # last: a row file means both exist
    return record, probabilities
