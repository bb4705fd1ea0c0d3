"""IMDb's best pipeline, end to end and timed: word vectors → BiLSTM members and NBSVM →
students distilled from them on the unlabelled reviews ⇄ an NBSVM distilled from the students
→ ensembles chosen on validation.

    python benchmarks/imdb_pipeline.py --data ../shared/data/aclImdb_v1.tar.gz --work /tmp/pipe \\
        [--members 2] [--students 1] [--rounds 2] [--adversarial EPS [--adversarial-from R]] \\
        [--student-epochs N] [--doc-vectors [--doc-vectors-preset dv-ngram dv-trigram]] \\
        [--no-ensemble-teacher] [--out results]

The best measured (README): --rounds 0 --doc-vectors --doc-vectors-preset dv-ngram dv-trigram,
93.02 / 93.08% test in two fresh draws, 61-67 min on a 2-core EPYC.

Steps (each a `gatedrnn` command in its own process; WORK keeps every checkpoint, so
`gatedrnn sentiment predict WORK/student-0 WORK/nbsvm ...` uses them afterwards):
  1. word vectors   gatedrnn embeddings train (skip-gram, 128-d, unlabelled + training reviews)
     dv-ngram       gatedrnn sentiment train --preset dv-ngram: document vectors (PV-DBOW over
                    words and bigrams, unlabelled + training reviews) and a logistic regression,
                    with --doc-vectors; an ensemble member, not a teacher
                    (--doc-vectors-preset dv-trigram: trigrams too; several presets,
                    one member each)
  2. members        gatedrnn sentiment train --preset fast --vectors ... --seed k, all members
                    and the NBSVM side by side, one thread each (with --adversarial and
                    --adversarial-from 0, the BiLSTM members train adversarially too)
  3. students       gatedrnn sentiment train --preset fast --vectors ... --teacher (members +
                    NBSVM): the 50,000 unlabelled reviews with the teacher's probabilities as
                    soft labels, plus the labelled training part (with --adversarial, also
                    each batch with its word embeddings pushed along the loss's gradient)
  4. nbsvm-r1       the NBSVM refitted on the labelled part and the unlabelled reviews as
                    the students label them; with --rounds 2, round 2's students learn from
                    nbsvm-r1 and round 1's students, and nbsvm-r2 from all students
  5. evaluation     every checkpoint on the validation split and the 25,000 test reviews;
                    every combination, combined three ways (RULES: probabilities averaged,
                    log-odds averaged, a logistic regression over log-odds fitted on
                    validation), the best chosen by validation accuracy (never test); the
                    TF-IDF + linear SVM baseline in the same run. The final ensemble is that
                    pick or the stack of every model, whichever scores higher in nested
                    cross-validation on validation (ensemble_selection.py)
  6. nbsvm-ensemble the NBSVM taught by the probability average validation chose in step 5,
                    then step 5's combinations again with it (--no-ensemble-teacher skips it)
     dv-ensemble    with --taught-doc-vectors, the first --doc-vectors-preset taught by the
                    same ensemble (its regression also fits the unlabelled reviews under
                    their probabilities)
All models share the validation split (seed 0, by film unless --split-by review: IMDb's
test shares one film with train, and a split by review flatters models that learn films);
test is read only in steps 5 and 6, never to choose. The wall time of
each step and of the whole pipeline is reported. A rerun with the same WORK reuses finished
steps (their recorded times are kept, and the report says which were reused).
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import markdown_table, svm_baseline, write_results  # noqa: E402
from ensemble_selection import (  # noqa: E402
    RULES, nested_estimates, stack_accuracy, stack_validation_scores, stacker)

from gatedrnn.data import imdb  # noqa: E402
from gatedrnn.runinfo import environment  # noqa: E402
from gatedrnn.sentiment import Predictor, combine_scores, save_ensemble  # noqa: E402
from gatedrnn.train import calibration  # noqa: E402


def run_steps(name: str, commands: dict[str, list[str]], work: Path, threads: int) -> dict:
    """Run ``gatedrnn`` commands side by side (``threads`` each); a step recorded in
    WORK/NAME.step.json is reused. Returns the step's record."""
    record_file = work / f"{name}.step.json"
    wanted = {label: ["gatedrnn", *args] for label, args in commands.items()}
    if record_file.exists():
        record = json.loads(record_file.read_text(encoding="utf-8"))
        if record["commands"] != wanted:
            raise RuntimeError(f"{record_file} was made by other commands than this run's "
                               f"({record['commands']} vs {wanted}); use another --work")
        return {**record, "reused": True}
    started = time.perf_counter()
    running = {}
    for label, args in commands.items():
        log = open(work / f"{label}.log", "w", encoding="utf-8")
        running[label] = (subprocess.Popen(
            [sys.executable, "-m", "gatedrnn.cli", "--threads", str(threads), *args],
            stdout=subprocess.PIPE, stderr=log, text=True), log)
    summaries = {}
    for label, (process, log) in running.items():
        out, _ = process.communicate()
        log.close()
        if process.returncode != 0:
            raise RuntimeError(f"step {name}: gatedrnn {' '.join(commands[label])} failed; see "
                               f"{work / (label + '.log')}")
        try:
            summaries[label] = json.loads(out)
        except ValueError:
            summaries[label] = None
    record = {"seconds": time.perf_counter() - started, "threads_each": threads,
              "commands": wanted, "summaries": summaries}
    record_file.write_text(json.dumps(record, indent=2), encoding="utf-8")
    return record


def accuracy(probabilities: torch.Tensor, labels: torch.Tensor) -> float:
    return float((probabilities.argmax(1) == labels).float().mean())


def log_odds(probabilities: torch.Tensor) -> torch.Tensor:
    p = probabilities[:, 1].double().clamp(1e-7, 1 - 1e-7)
    return torch.log(p) - torch.log1p(-p)


def combined_accuracy(rule: str, chosen: list[dict], labels: dict) -> dict:
    """{"valid", "test"} accuracy of the members' per-split probabilities in ``chosen``
    combined by ``rule``."""
    if rule == "mean":
        return {split: accuracy(torch.stack([c[split] for c in chosen]).mean(0), labels[split])
                for split in labels}
    if rule == "log-odds":
        return {split: float(((torch.stack([log_odds(c[split]) for c in chosen]).mean(0) > 0)
                              .long() == labels[split]).double().mean())
                for split in labels}
    features = {split: torch.stack([log_odds(c[split]) for c in chosen], 1).numpy()
                for split in labels}
    y = labels["valid"].numpy()
    valid = stack_accuracy(features["valid"], y)
    fitted = stacker().fit(features["valid"], y)
    return {"valid": valid,
            "test": float((fitted.predict(features["test"]) == labels["test"].numpy()).mean()),
            "weights": fitted.coef_.ravel().round(4).tolist()}


def model_probabilities(checkpoint: Path, splits: dict) -> tuple[dict, bool]:
    """The checkpoint's probabilities on each split, and whether they were read back: they are
    stored next to it, and a rerun reads them unless the checkpoint is newer."""
    stored = checkpoint.parent / f"{checkpoint.name}.probabilities.pt"
    if stored.exists() and (checkpoint / "best").stat().st_mtime < stored.stat().st_mtime:
        return torch.load(stored), True
    # raw scores: the ensembles combine (and the final one calibrates) the members' own
    predictor = Predictor.load(checkpoint, calibrated=False)
    probabilities = {split: predictor.probabilities([r.text for r in reviews], 128)
                     for split, reviews in splits.items()}
    torch.save(probabilities, stored)
    return probabilities, False


def calibrate_final(final: dict, probabilities: dict, labels: dict, work: Path,
                    split_by: str) -> dict:
    """Temperature scaling of the final ensemble as a whole: fitted on validation (the stack's
    scores there cross-validated, since its weights were fitted on them), measured on test.
    Writes WORK/final, an ensemble directory that predict, evaluate and serve load as one
    model with that temperature."""
    names = final["members"].split(" + ")
    per_member = {split: torch.stack([probabilities[n][split].clamp_min(1e-38).log()
                                      for n in names]) for split in labels}
    weights, bias = None, 0.0
    if final["rule"] == "stacked":
        features = torch.stack([log_odds(probabilities[n]["valid"]) for n in names], 1).numpy()
        fitted = stacker().fit(features, labels["valid"].numpy())
        weights, bias = fitted.coef_.ravel().tolist(), float(fitted.intercept_[0])
        z = torch.from_numpy(stack_validation_scores(features, labels["valid"].numpy()))
        scores = {"valid": torch.stack([torch.zeros_like(z), z], 1),
                  "test": combine_scores(per_member["test"], "stacked", weights, bias)}
    else:
        scores = {split: combine_scores(per_member[split], final["rule"]) for split in labels}
    record = {**calibration.fit_and_report(scores["valid"], labels["valid"]),
              "split": "validation"}
    on_test = {}
    for name, temperature in (("before", 1.0), ("after", record["temperature"])):
        report = calibration.report(torch.softmax(scores["test"].double() / temperature, 1),
                                    labels["test"])
        on_test[name] = {k: report[k] for k in ("accuracy", "ece", "brier", "nll",
                                                "accuracy_coverage", "reliability")}
    directory = save_ensemble(work / "final", [work / n for n in names], final["rule"], weights,
                              bias, calibration=record,
                              extra={"validation_split_seed": 0, "validation_split_by": split_by})
    return {"temperature": record["temperature"], "validation": record, "test": on_test,
            "directory": str(directory)}


def every_ensemble(probabilities: dict, labels: dict) -> dict:
    """rule → {"a + b + ...": accuracies} for every combination of two models or more."""
    ensembles = {rule: {} for rule in RULES}
    names = list(probabilities)
    for size in range(2, len(names) + 1):
        for chosen in itertools.combinations(names, size):
            for rule in RULES:
                ensembles[rule][" + ".join(chosen)] = combined_accuracy(
                    rule, [probabilities[n] for n in chosen], labels)
    return ensembles


def student_options(args: argparse.Namespace, round_number: int) -> list[str]:
    """What a round's students are given beyond the fast preset, their seed and teachers."""
    options = []
    if args.unlabelled:
        options += ["--unlabelled", str(args.unlabelled)]
    if args.student_epochs:
        options += ["--epochs", str(args.student_epochs)]
    if args.adversarial and round_number >= args.adversarial_from:
        options += ["--adversarial", str(args.adversarial)]
    return options


def member_options(args: argparse.Namespace) -> list[str]:
    """What the BiLSTM members (round 0) are given beyond the fast preset and their seed."""
    if args.adversarial and args.adversarial_from == 0:
        return ["--adversarial", str(args.adversarial)]
    return []


def doc_vector_train(args: argparse.Namespace, preset: str) -> list[str]:
    """The `gatedrnn` command that trains document-vector preset PRESET on the shared split."""
    return ["sentiment", "train", "--data", args.data, "--preset", preset,
            "--split-seed", "0", "--split-by", args.split_by, "--json"]


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--members", type=int, default=2, help="BiLSTM members (seeds 0..N-1).")
    parser.add_argument("--students", type=int, default=1, help="Distilled students (seeds).")
    parser.add_argument("--rounds", type=int, default=2,
                        help="Co-training rounds: round r + 1's students learn from "
                             "nbsvm-r<r> and round r's students.")
    parser.add_argument("--student-epochs", type=int, default=None)
    parser.add_argument("--adversarial", type=float, default=None, metavar="EPS",
                        help="The students train adversarially (gatedrnn sentiment train "
                             "--adversarial EPS: word embeddings pushed along the loss's "
                             "gradient; twice the time per epoch).")
    parser.add_argument("--adversarial-from", type=int, default=1, metavar="ROUND",
                        help="With --adversarial, only the students of this round and later "
                             "train adversarially (2: round 1's students train plainly, in "
                             "half the time per epoch; 0: the BiLSTM members too).")
    parser.add_argument("--unlabelled", type=int, default=None,
                        help="Unlabelled reviews the students train on [default: all 50,000].")
    parser.add_argument("--split-by", choices=["review", "film"], default="film",
                        help="Validation split by whole film (as IMDb's test is) or by review.")
    parser.add_argument("--ensemble-teacher", action=argparse.BooleanOptionalAction,
                        default=True,
                        help="Last, an NBSVM taught by the ensemble validation chose "
                             "(nbsvm-ensemble), then every combination again with it.")
    parser.add_argument("--doc-vectors", action=argparse.BooleanOptionalAction, default=False,
                        help="Train the dv-ngram member (document vectors over words and "
                             "bigrams) after the word vectors, and add it to the ensembles "
                             "(off by default: next to the students it moved validation's "
                             "pick by +0.01..+0.15 point on test and took the pipeline to "
                             "95 min, README).")
    parser.add_argument("--doc-vectors-preset", choices=["dv-ngram", "dv-trigram"],
                        nargs="+", default=["dv-ngram"],
                        help="The document-vector presets --doc-vectors trains, each an "
                             "ensemble member (dv-trigram: trigrams too, 91.04%% test alone "
                             "against 90.36-90.60%%, 19 min against 8-12; both: two members "
                             "whose vectors differ).")
    parser.add_argument("--taught-doc-vectors", action=argparse.BooleanOptionalAction,
                        default=False,
                        help="After nbsvm-ensemble, the first --doc-vectors-preset taught "
                             "by the same ensemble (dv-ensemble: its regression also fits "
                             "the unlabelled reviews under the ensemble's probabilities), "
                             "then every combination again with it. Needs step 6 (not "
                             "--no-ensemble-teacher).")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    if args.adversarial_from != 1 and not args.adversarial:
        parser.error("--adversarial-from chooses the rounds --adversarial EPS applies to: "
                     "give --adversarial too")
    if args.adversarial and not 0 <= args.adversarial_from <= args.rounds:
        parser.error(f"--adversarial-from {args.adversarial_from} names no round of "
                     f"--rounds {args.rounds}: choose 0..{args.rounds} (0: the members too)")
    if args.doc_vectors_preset != ["dv-ngram"] and not args.doc_vectors:
        parser.error("--doc-vectors-preset chooses what --doc-vectors trains: give "
                     "--doc-vectors too")
    if args.taught_doc_vectors and not args.ensemble_teacher:
        parser.error("--taught-doc-vectors is taught by step 6's ensemble: drop "
                     "--no-ensemble-teacher")
    if len(set(args.doc_vectors_preset)) < len(args.doc_vectors_preset):
        parser.error("--doc-vectors-preset names a preset twice: each trains one member, "
                     "name it once")
    return args


def main(argv=None):
    args = parse_arguments(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    data_arg = ["--data", args.data]
    vectors = work / "word2vec.vec"
    fast = ["sentiment", "train", *data_arg, "--preset", "fast", "--vectors", str(vectors),
            "--split-seed", "0", "--split-by", args.split_by, "--json"]
    steps = {}
    steps["word vectors"] = run_steps("vectors", {"vectors": [
        "embeddings", "train", *data_arg, "--out", str(vectors), "--dim", "128"]}, work, 2)
    others = []
    if args.doc_vectors:
        # Members whose errors should differ from the BiLSTMs' and the NBSVM's: a dense
        # code of the words and n-grams, learnt from the unlabelled reviews
        for preset in args.doc_vectors_preset:
            others.append(preset)
            steps[preset] = run_steps(preset, {preset: [
                *doc_vector_train(args, preset), "--out", str(work / preset)]}, work, 2)
    members = {f"member-{k}": [*fast, "--seed", str(k), "--out", str(work / f"member-{k}"),
                               *member_options(args)]
               for k in range(args.members)}
    nbsvm = ["sentiment", "train", *data_arg, "--preset", "nbsvm", "--split-seed", "0",
             "--split-by", args.split_by, "--json"]
    members["nbsvm"] = [*nbsvm, "--out", str(work / "nbsvm")]
    steps["members"] = run_steps("members", members, work, 1 if len(members) > 1 else 2)
    teacher = [str(work / name) for name in members]
    students = []
    for round_number in range(1, args.rounds + 1):
        trained = []
        for k in range(args.students):
            name = f"student-{k}" if round_number == 1 else f"student-r{round_number}-{k}"
            command = [*fast, "--seed", str(k), "--out", str(work / name),
                       *[a for t in teacher for a in ("--teacher", t)],
                       *student_options(args, round_number)]
            # One after the other with both cores: the second finds the teacher's
            # probabilities in the cache.
            steps[name] = run_steps(name, {name: command}, work, 2)
            trained.append(name)
        students += trained
        # Co-training: the NBSVM again, now also on the unlabelled reviews as the students so
        # far label them (a linear model learns what 22,500 labelled reviews cannot show it:
        # 92.34% test vs 91.69%, split by review), then the next round learns from it and
        # this round's students, which supersede the members they learnt from.
        linear = f"nbsvm-r{round_number}"
        steps[linear] = run_steps(linear, {linear: [
            *nbsvm, "--out", str(work / linear),
            *[a for s in students for a in ("--teacher", str(work / s))]]}, work, 2)
        teacher = [str(work / linear), *[str(work / name) for name in trained]]
        students.append(linear)

    started = time.perf_counter()
    data = imdb.load(args.data)
    _, valid_part = imdb.validation_split(data.train, 0.1, 0, by=args.split_by)
    splits = {"valid": valid_part, "test": data.test}
    labels = {name: torch.tensor([r.label for r in reviews]) for name, reviews in splits.items()}
    probabilities, reread = {}, []
    for name in [*members, *others, *students]:
        probabilities[name], reused = model_probabilities(work / name, splits)
        reread += [name] if reused else []
    ensembles = every_ensemble(probabilities, labels)
    evaluation_seconds = time.perf_counter() - started
    if args.ensemble_teacher and ensembles["mean"]:
        # The NBSVM once more, taught by the ensemble validation chose (2.2 min; 92.24% test
        # alone and 92.84% with round 2's student, against 92.70% for the ensemble itself)
        chosen = max(ensembles["mean"], key=lambda n: ensembles["mean"][n]["valid"])
        taught_by = [a for n in chosen.split(" + ") for a in ("--teacher", str(work / n))]
        steps["nbsvm-ensemble"] = run_steps("nbsvm-ensemble", {"nbsvm-ensemble": [
            *nbsvm, "--out", str(work / "nbsvm-ensemble"), *taught_by]}, work, 2)
        last = ["nbsvm-ensemble"]
        if args.taught_doc_vectors:
            # the same teacher for the document vectors' regression (the vectors are
            # trained as the first --doc-vectors-preset's: gensim's epochs are most of
            # this step)
            steps["dv-ensemble"] = run_steps("dv-ensemble", {"dv-ensemble": [
                *doc_vector_train(args, args.doc_vectors_preset[0]),
                "--out", str(work / "dv-ensemble"), *taught_by]}, work, 2)
            last.append("dv-ensemble")
        started = time.perf_counter()
        for name in last:
            probabilities[name], reused = model_probabilities(work / name, splits)
            reread += [name] if reused else []
        ensembles = every_ensemble(probabilities, labels)
        evaluation_seconds += time.perf_counter() - started
    rows = {name: {split: accuracy(probabilities[name][split], labels[split]) for split in splits}
            for name in probabilities}
    steps["evaluation"] = {"seconds": evaluation_seconds, "probabilities_reused_for": reread}
    svm = svm_baseline(data)
    pipeline_seconds = sum(s["seconds"] for s in steps.values())
    candidates = [(rule, names, result) for rule, table in ensembles.items()
                  for names, result in table.items()]
    best = {rule: max(table, key=lambda n: table[n]["valid"]) for rule, table in ensembles.items()
            if table}
    overall = max(candidates, key=lambda c: c[2]["valid"]) if candidates else None
    final = None
    if len(probabilities) > 1:
        # The search's top score is partly validation's noise; nested cross-validation on
        # validation says whether its pick or the stack of every model is the safer final one
        names = list(probabilities)
        nested = nested_estimates(
            torch.stack([log_odds(probabilities[n]["valid"]) for n in names], 1).numpy(),
            labels["valid"].numpy())
        if nested["chosen"] == "stack-all":
            final = {"rule": "stacked", "members": " + ".join(names),
                     **ensembles["stacked"][" + ".join(names)]}
        else:
            final = {"rule": overall[0], "members": overall[1], **overall[2]}
        final = {"procedure": nested["chosen"], "nested_valid": nested, **final}
        final["calibration"] = calibrate_final(final, probabilities, labels, work, args.split_by)
    single = max(rows, key=lambda n: rows[n]["valid"])
    recurrent = max((n for n in rows if n.startswith(("member", "student"))),
                    key=lambda n: rows[n]["valid"])
    results = {"environment": environment(seed=0), "work": str(work), "split_by": args.split_by,
               "steps": steps,
               "pipeline_seconds": pipeline_seconds,
               "reused_steps": [n for n, s in steps.items() if s.get("reused")],
               "rows": rows, "ensembles": ensembles["mean"],
               "ensembles_log_odds": ensembles["log-odds"],
               "ensembles_stacked": ensembles["stacked"],
               "best_single_by_validation": {"name": single, **rows[single]},
               "best_recurrent_by_validation": {"name": recurrent, **rows[recurrent]},
               "best_ensemble_by_validation": ({"members": best["mean"],
                                                **ensembles["mean"][best["mean"]]}
                                               if best else None),
               "best_by_validation_per_rule": {rule: {"members": m, **ensembles[rule][m]}
                                               for rule, m in best.items()},
               "best_combination_by_validation": ({"rule": overall[0], "members": overall[1],
                                                   **overall[2]} if overall else None),
               "final_by_nested_cv": final,
               "svm_baseline": svm}
    path = write_results("imdb_pipeline", results, args.out)

    table, elapsed = [], 0.0
    for n, step in steps.items():
        elapsed += step["seconds"]
        table.append([n, f"{step['seconds'] / 60:.1f}" + (" (reused)" if step.get("reused")
                                                          else ""), f"{elapsed / 60:.1f}"])
    print(markdown_table(["step", "wall (min)", "pipeline up to here (min)"], table))
    print(markdown_table(["model", "validation (%)", "test (%)"],
                         [[n, f"{100 * r['valid']:.2f}", f"{100 * r['test']:.2f}"]
                          for n, r in rows.items()]
                         + [["TF-IDF + linear SVM (all 25k train)", "—",
                             f"{100 * svm['test_accuracy']:.2f}"]]))
    top = sorted(candidates, key=lambda c: -c[2]["valid"])[:10]
    print(markdown_table(["ensemble, by validation accuracy", "combined by", "validation (%)",
                          "test (%)"],
                         [[m, rule, f"{100 * a['valid']:.2f}", f"{100 * a['test']:.2f}"]
                          for rule, m, a in top]))
    if final:
        estimates = final["nested_valid"]
        print(f"final ({final['procedure']}: nested validation {100 * estimates['search']:.2f}% "
              f"search, {100 * estimates['stack-all']:.2f}% stack of all): {final['members']}, "
              f"{final['rule']}: test {100 * final['test']:.2f}%")
        c = final["calibration"]
        print(f"final, calibrated as a whole (temperature {c['temperature']:.3f}, fitted on "
              f"validation): test ECE {100 * c['test']['before']['ece']:.2f}% → "
              f"{100 * c['test']['after']['ece']:.2f}%, Brier "
              f"{c['test']['before']['brier']:.4f} → {c['test']['after']['brier']:.4f}; "
              f"loads as one model from {c['directory']}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
