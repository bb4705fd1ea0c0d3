"""Do the printed confidences keep their promise? ECE, Brier score and accuracy–coverage on the
test sets, raw and with the temperature each checkpoint was calibrated with, and a reliability
diagram per model.

    python benchmarks/calibration.py --data ../shared/data/aclImdb_v1.tar.gz \\
        --sentiment fast=runs/sentiment --sentiment pipeline=WORK/final \\
        --ud ../shared/data/ud_english_ewt --tagger bilstm=runs/tagger [--out results]

Each checkpoint is loaded as `gatedrnn sentiment predict` / `tagger predict` load it (an
ensemble directory as one model) and evaluated by the package's evaluate(); the benchmark
only gathers the figures. Sentiment models also label the issue's two probes (a plain
negation and a low rating said in words), raw and calibrated. Writes
results/calibration.json and results/calibration_NAME.png.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, markdown_table, write_results  # noqa: E402

from gatedrnn.analysis.plots import reliability_diagram  # noqa: E402
from gatedrnn.runinfo import environment  # noqa: E402

PROBES = ["Funny, smart and never boring.", "Two out of ten, and that is generous."]
KEPT = ("accuracy", "ece", "brier", "nll", "accuracy_coverage")


def named(values: list[str]) -> dict[str, Path]:
    pairs = {}
    for value in values:
        name, _, path = value.partition("=")
        if not path:
            raise SystemExit(f"give NAME=PATH, got {value!r}")
        pairs[name] = Path(path)
    return pairs


def summary(report: dict, raw: dict, temperature, path: Path) -> dict:
    from gatedrnn.train import checkpoint
    return {"temperature": temperature,
            # what the fit saw (validation or dev), as the checkpoint recorded it
            "fitted": checkpoint.read_config(checkpoint.resolve(path)).get("calibration"),
            "calibrated": {k: report[k] for k in KEPT},
            "uncalibrated": {k: raw[k] for k in KEPT}}


def sentiment_rows(models: dict, data, out: Path) -> dict:
    from gatedrnn.data import imdb
    from gatedrnn.sentiment import Predictor, evaluate

    if not models:
        return {}
    test = imdb.load(data).test
    texts, labels = [r.text for r in test], [r.label for r in test]
    rows = {}
    for name, path in models.items():
        started = time.perf_counter()
        predictor = Predictor.load(path)
        result = evaluate(predictor, texts, labels, keep_raw_report=True)
        report = result["calibration"]
        raw = report.pop("raw_report", report)
        rows[name] = {"task": "sentiment", "checkpoint": str(path), "test_reviews": len(texts),
                      **summary(report, raw, predictor.temperature, path),
                      "probes": {
                          "calibrated": predictor.predict(PROBES),
                          "uncalibrated": Predictor.load(path, calibrated=False).predict(PROBES)},
                      "seconds": time.perf_counter() - started}
        reliability_diagram({"uncalibrated": raw, "calibrated": report},
                            out / f"calibration_{name}.png",
                            f"IMDb test, {len(texts):,} reviews: {name}")
    return rows


def tagger_rows(models: dict, data, out: Path) -> dict:
    from gatedrnn.data import ud
    from gatedrnn.tagging import Tagger, calibration_report

    if not models:
        return {}
    test = ud.load(data).test
    rows = {}
    for name, path in models.items():
        started = time.perf_counter()
        tagger = Tagger.load(path)
        report = calibration_report(tagger, test, keep_raw_report=True)
        raw = report.pop("raw_report")
        rows[name] = {"task": "tagger (UPOS)", "checkpoint": str(path),
                      "test_tokens": sum(b["count"] for b in report["reliability"]),
                      **summary(report, raw, tagger.temperature, path),
                      "xpos_ece": {"uncalibrated": report.get("xpos_ece_uncalibrated"),
                                   "calibrated": report.get("xpos_ece")},
                      "seconds": time.perf_counter() - started}
        reliability_diagram({"uncalibrated": raw, "calibrated": report},
                            out / f"calibration_{name}.png", f"EWT test, UPOS tags: {name}")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="IMDb archive or folder (for --sentiment).")
    parser.add_argument("--sentiment", nargs="*", default=[], metavar="NAME=PATH")
    parser.add_argument("--ud", help="UD English EWT folder (for --tagger).")
    parser.add_argument("--tagger", nargs="*", default=[], metavar="NAME=PATH")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    out = Path(args.out) if args.out else RESULTS
    rows = {**sentiment_rows(named(args.sentiment), args.data, out),
            **tagger_rows(named(args.tagger), args.ud, out)}
    path = write_results("calibration", {"environment": environment(seed=0), "models": rows},
                         args.out)

    def pct(x):
        return f"{100 * x:.2f}"

    table = []
    for name, row in rows.items():
        raw, cal = row["uncalibrated"], row["calibrated"]
        t = row["temperature"]
        t = ", ".join(f"{k} {v:.3f}" for k, v in t.items()) if isinstance(t, dict) else f"{t:.3f}"
        table.append([name, row["task"], t, pct(cal["accuracy"]),
                      f"{pct(raw['ece'])} → {pct(cal['ece'])}",
                      f"{raw['brier']:.4f} → {cal['brier']:.4f}",
                      f"{raw['nll']:.4f} → {cal['nll']:.4f}",
                      " / ".join(pct(r["accuracy"]) for r in cal["accuracy_coverage"])])
    print(markdown_table(["model", "task", "temperature", "test accuracy (%)",
                          "ECE (%) raw → calibrated", "Brier", "NLL",
                          "accuracy at 100/90/80/70% coverage (%)"], table))
    for name, row in rows.items():
        for kind in ("uncalibrated", "calibrated"):
            for text, p in zip(PROBES, row.get("probes", {}).get(kind, [])):
                print(f"{name} ({kind}): {text!r} → {p['label']} {p['confidence']:.3f}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
