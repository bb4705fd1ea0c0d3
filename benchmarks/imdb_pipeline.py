"""IMDb's best pipeline, timed, and its variants: the package builds it
(gatedrnn.sentiment.pipeline; `gatedrnn sentiment train --recipe best` is its best measured
form); this script chooses the variant, adds the TF-IDF + linear SVM baseline in the same run,
and prints and writes the figures.

    python benchmarks/imdb_pipeline.py --data ../shared/data/aclImdb_v1.tar.gz --work /tmp/pipe \\
        [--members 2] [--students 1] [--rounds 2] [--adversarial EPS [--adversarial-from R]] \\
        [--student-epochs N] [--doc-vectors [--doc-vectors-preset dv-ngram dv-trigram]] \\
        [--no-ensemble-teacher] [--taught-doc-vectors] [--split-by film|review] [--out results]

The best measured: --rounds 0 --doc-vectors --doc-vectors-preset dv-ngram dv-trigram (93.02 /
93.08% test in two fresh runs, 61-67 min on a 2-core EPYC). WORK keeps every checkpoint and
each step's record; a rerun with the same WORK reuses the finished steps. The steps are
described in gatedrnn/sentiment/pipeline.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import markdown_table, svm_baseline, write_results  # noqa: E402

from gatedrnn.data import imdb  # noqa: E402
from gatedrnn.sentiment.pipeline import PipelineOptions, run_pipeline  # noqa: E402


def parse_arguments(argv=None) -> tuple[argparse.Namespace, PipelineOptions]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--members", type=int, default=2, help="BiLSTM members (seeds 0..N-1).")
    parser.add_argument("--semi-members", type=int, default=0,
                        help="BiLSTMs that also learn from the unlabelled reviews (preset semi).")
    parser.add_argument("--students", type=int, default=1, help="Distilled students per round.")
    parser.add_argument("--rounds", type=int, default=2,
                        help="Co-training rounds: round r + 1's students learn from "
                             "nbsvm-r<r> and round r's students (0: no students).")
    parser.add_argument("--student-epochs", type=int, default=None)
    parser.add_argument("--adversarial", type=float, default=None, metavar="EPS",
                        help="Students train adversarially (embeddings pushed along the "
                             "loss's gradient; twice the time per epoch).")
    parser.add_argument("--adversarial-from", type=int, default=1, metavar="ROUND",
                        help="With --adversarial, the first round that trains so (0: the "
                             "BiLSTM members too).")
    parser.add_argument("--unlabelled", type=int, default=None,
                        help="Unlabelled reviews a student learns from [default: all 50,000].")
    parser.add_argument("--split-by", choices=["review", "film"], default="film",
                        help="Validation split by whole film (as IMDb's test is) or by review.")
    parser.add_argument("--ensemble-teacher", action=argparse.BooleanOptionalAction,
                        default=True, help="Last, an NBSVM taught by the ensemble validation "
                                           "chose (nbsvm-ensemble), then every combination "
                                           "again with it.")
    parser.add_argument("--doc-vectors", action=argparse.BooleanOptionalAction, default=False,
                        help="Train document-vector members (--doc-vectors-preset).")
    parser.add_argument("--doc-vectors-preset", choices=["dv-ngram", "dv-trigram"], nargs="+",
                        default=["dv-ngram"], help="One member per preset, with --doc-vectors.")
    parser.add_argument("--taught-doc-vectors", action=argparse.BooleanOptionalAction,
                        default=False, help="After nbsvm-ensemble, the first doc-vector "
                                            "preset taught by the same ensemble.")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    if args.doc_vectors_preset != ["dv-ngram"] and not args.doc_vectors:
        parser.error("--doc-vectors-preset chooses what --doc-vectors trains: give "
                     "--doc-vectors too")
    try:
        options = PipelineOptions(
            members=args.members, semi_members=args.semi_members, students=args.students,
            rounds=args.rounds,
            student_epochs=args.student_epochs, adversarial=args.adversarial,
            adversarial_from=args.adversarial_from, unlabelled=args.unlabelled,
            split_by=args.split_by, ensemble_teacher=args.ensemble_teacher,
            doc_vector_presets=tuple(args.doc_vectors_preset) if args.doc_vectors else (),
            taught_doc_vectors=args.taught_doc_vectors)
    except ValueError as exc:
        parser.error(str(exc))
    return args, options


def main(argv=None):
    args, options = parse_arguments(argv)
    report = run_pipeline(args.data, args.work, options, log=lambda m: print(m, flush=True))
    report["svm_baseline"] = svm = svm_baseline(imdb.load(args.data))
    path = write_results("imdb_pipeline", report, args.out)

    table, elapsed = [], 0.0
    for name, step in report["steps"].items():
        elapsed += step["seconds"]
        table.append([name, f"{step['seconds'] / 60:.1f}" + (" (reused)" if step.get("reused")
                                                             else ""), f"{elapsed / 60:.1f}"])
    print(markdown_table(["step", "wall (min)", "pipeline up to here (min)"], table))
    rows = report["rows"]
    print(markdown_table(["model", "validation (%)", "test (%)"],
                         [[n, f"{100 * r['valid']:.2f}", f"{100 * r['test']:.2f}"]
                          for n, r in rows.items()]
                         + [["TF-IDF + linear SVM (all 25k train)", "—",
                             f"{100 * svm['test_accuracy']:.2f}"]]))
    candidates = [(rule, members, result)
                  for rule, key in (("mean", "ensembles"), ("log-odds", "ensembles_log_odds"),
                                    ("stacked", "ensembles_stacked"))
                  for members, result in report[key].items()]
    top = sorted(candidates, key=lambda c: -c[2]["valid"])[:10]
    print(markdown_table(["ensemble, by validation accuracy", "combined by", "validation (%)",
                          "test (%)"],
                         [[m, rule, f"{100 * a['valid']:.2f}", f"{100 * a['test']:.2f}"]
                          for rule, m, a in top]))
    final = report["final_by_nested_cv"]
    if final:
        estimates, c = final["nested_valid"], final["calibration"]
        print(f"final ({final['procedure']}: nested validation {100 * estimates['search']:.2f}% "
              f"search, {100 * estimates['stack-all']:.2f}% stack of all): {final['members']}, "
              f"{final['rule']}: test {100 * final['test']:.2f}%")
        print(f"final, calibrated as a whole (temperature {c['temperature']:.3f}, fitted on "
              f"validation): test ECE {100 * c['test']['before']['ece']:.2f}% → "
              f"{100 * c['test']['after']['ece']:.2f}%; loads as one model from "
              f"{c['directory']}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
