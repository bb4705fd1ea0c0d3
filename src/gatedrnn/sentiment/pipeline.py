"""The best measured IMDb system, built end to end: word vectors → BiLSTM members, an NBSVM
and document-vector models → (optionally) students distilled from them on the unlabelled
reviews ⇄ an NBSVM distilled from the students → every combination scored on validation →
the final ensemble, chosen by nested cross-validation on validation and calibrated as a whole.

Each step is a library call (sentiment.train, train_word_vectors, lm.pretrain) in its own
process (members side by side, one thread each; train/side_by_side.py); WORK keeps every
checkpoint, its log and the step's record (WORK/NAME.step.json: the calls and what they
returned), so a rerun with the same WORK reuses the finished steps: an interrupted pipeline
resumes at the step it was in. ``gatedrnn sentiment train --recipe best`` runs it (see ``recipes``);
benchmarks/imdb_pipeline.py times it and tries its variants.

Steps:
  1. word vectors   skip-gram on the unlabelled + training reviews
     doc vectors    each of ``doc_vector_presets`` (PV-DBOW + a regression), one member each
  2. members        ``members`` BiLSTMs (``member_preset`` from the word vectors, seeds 0..)
                    and the NBSVM, side by side; then ``semi_members`` BiLSTMs that also
                    learn from the unlabelled reviews (preset semi), one at a time
  3. students       per round: students learn the members' (then the last round's)
                    probabilities on the unlabelled reviews; an NBSVM learns theirs
  4. evaluation     every model on validation and test; every combination of two or more
                    under each rule (mean, log-odds, stacked), chosen by validation only
  5. nbsvm-ensemble the NBSVM taught by the best average, then step 4 again with it
All models share one validation split (seed 0, by film unless ``split_by="review"``); test is
read only to report, never to choose.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from ..data import imdb
from ..runinfo import environment
from ..train import calibration
from ..train.checkpoint import write_json_atomic
from ..train.side_by_side import Call, CallFailed, run_side_by_side
from .ensemble import combine_scores, save_ensemble
from .predict import Predictor
from .selection import (
    RULES,
    nested_estimates,
    stack_accuracy,
    stack_validation_scores,
    stacker,
)


@dataclass(frozen=True)
class PipelineOptions:
    """What the pipeline trains. The defaults are the best measured system (``--recipe best``)."""

    members: int = 2                    # BiLSTM members, seeds 0..members-1
    member_preset: str = "fast"
    # BiLSTMs of the semi preset (from the word vectors, seeds 0..), each a step of its own
    # with both cores (about 20 min each on 2)
    semi_members: int = 0
    # embeddings train options (None: no word vectors, which only the BiLSTM members use)
    word_vectors: dict | None = field(default_factory=lambda: {"dim": 128})
    linear_preset: str | None = "nbsvm"  # None: no linear member
    # ULMFiT members: a forward and a backward LM (this gatedrnn lm preset), each fine-tuned
    # into a classifier (sentiment preset ulmfit); None: none
    ulmfit_lm_preset: str | None = None
    lm_snapshots: tuple = ()            # fractions of the LMs' epochs also saved (cost curve)
    doc_vector_presets: tuple = ("dv-ngram", "dv-trigram")  # one member each; () for none
    rounds: int = 0                     # co-training rounds of students (0: none)
    students: int = 1                   # students per round
    student_epochs: int | None = None
    unlabelled: int | None = None       # unlabelled reviews a student learns from (None: all)
    adversarial: float | None = None    # students (and from round 0, members) adversarial
    adversarial_from: int = 1
    ensemble_teacher: bool = True       # step 5: nbsvm-ensemble
    taught_doc_vectors: bool = False    # step 5 also teaches the first doc-vector preset
    split_by: str = "film"

    def __post_init__(self):
        if self.members < 0 or self.semi_members < 0:
            raise ValueError(f"members and semi_members must be >= 0, got {self.members} and "
                             f"{self.semi_members}")
        if (self.members or self.semi_members) and self.word_vectors is None:
            raise ValueError("the BiLSTM members start from word vectors: give word_vectors, "
                             "or set members and semi_members to 0")
        if (self.rounds or self.ensemble_teacher) and not (self.linear_preset and self.members):
            raise ValueError("students and the ensemble teacher retrain the linear model from "
                             "the members: they need members and a linear_preset")
        if self.adversarial_from != 1 and not self.adversarial:
            raise ValueError("adversarial_from chooses the rounds adversarial applies to: "
                             "give adversarial too")
        if self.adversarial and not 0 <= self.adversarial_from <= self.rounds:
            raise ValueError(f"adversarial_from {self.adversarial_from} names no round of "
                             f"rounds={self.rounds}: choose 0..{self.rounds} (0: the members too)")
        if self.taught_doc_vectors and not (self.ensemble_teacher and self.doc_vector_presets):
            raise ValueError("taught_doc_vectors teaches the first doc-vector preset with "
                             "step 5's ensemble: it needs ensemble_teacher and a "
                             "doc_vector_presets entry")
        if len(set(self.doc_vector_presets)) < len(self.doc_vector_presets):
            raise ValueError("doc_vector_presets names a preset twice: each trains one member")
        if self.lm_snapshots and not self.ulmfit_lm_preset:
            raise ValueError("lm_snapshots saves the ULMFiT language models part way: it "
                             "needs ulmfit_lm_preset")
        if not all(f > 0 for f in self.lm_snapshots):
            raise ValueError(f"lm_snapshots are fractions of the LM's epochs above 0, got "
                             f"{self.lm_snapshots}")
        if self.split_by not in ("film", "review"):
            raise ValueError(f"split_by must be 'film' or 'review', got {self.split_by!r}")


# The library functions the steps call, each in a process of its own (train/side_by_side.py)
TRAIN = "gatedrnn.sentiment.training:train"
WORD_VECTORS = "gatedrnn.sentiment.training:train_word_vectors"
PRETRAIN_LM = "gatedrnn.lm.training:pretrain"


def run_steps(name: str, calls: dict[str, Call], work: Path, threads: int, log=print) -> dict:
    """Run library ``calls`` side by side (``threads`` each), each in its own process with its
    log in WORK/LABEL.log; a step recorded in WORK/NAME.step.json is reused. Returns the
    step's record."""
    record_file = work / f"{name}.step.json"
    wanted = json.loads(json.dumps({label: call.record() for label, call in calls.items()}))
    if record_file.exists():
        record = json.loads(record_file.read_text(encoding="utf-8"))
        if "calls" not in record:
            raise RuntimeError(f"{record_file} was written by an older gatedrnn, whose steps "
                               "ran commands: delete it to run the step again (a training it "
                               "cut short resumes from its last/)")
        if record["calls"] != wanted:
            raise RuntimeError(f"{record_file} was made by other calls ({record['calls']}) than "
                               f"this run's ({wanted}): use another work directory, or delete "
                               "that file to rerun the step")
        log(f"step {name}: reused ({record['seconds'] / 60:.1f} min when it ran)")
        return {**record, "reused": True}
    log(f"step {name}: {', '.join(calls)} ({threads} thread(s) each); progress in "
        f"{work}/{{{','.join(calls)}}}.log")
    started = time.perf_counter()
    try:
        summaries = run_side_by_side({label: call.resumed() for label, call in calls.items()},
                                     threads, work)
    except CallFailed as exc:
        raise RuntimeError(f"step {name}: {exc}; run it again to resume") from exc
    record = {"seconds": time.perf_counter() - started, "threads_each": threads,
              "calls": wanted,
              "summaries": json.loads(json.dumps(summaries, default=str))}
    write_json_atomic(record_file, record)
    log(f"step {name}: done in {record['seconds'] / 60:.1f} min")
    return record


def classifier(data, preset: str, out: Path, **arguments) -> Call:
    """A sentiment.train call (its ``log`` is the step's)."""
    return Call(TRAIN, {"data": str(data), "preset": preset, "out": str(out), **arguments})


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
        try:
            return torch.load(stored), True
        except Exception:  # a damaged cache (torch raises several types) is computed again
            pass
    # raw scores: the ensembles combine (and the final one calibrates) the members' own
    predictor = Predictor.load(checkpoint, calibrated=False)
    probabilities = {split: predictor.probabilities([r.text for r in reviews], 128)
                     for split, reviews in splits.items()}
    partial = stored.with_name(f".{stored.name}.tmp")
    torch.save(probabilities, partial)
    os.replace(partial, stored)  # whole or absent, never half written
    return probabilities, False


def calibrate_final(final: dict, probabilities: dict, labels: dict, work: Path,
                    split_by: str, directory: Path | None = None) -> dict:
    """Temperature scaling of the final ensemble as a whole: fitted on validation (the stack's
    scores there cross-validated, since its weights were fitted on them), measured on test.
    Writes ``directory`` (WORK/final by default), an ensemble directory that predict,
    evaluate and serve load as one model with that temperature."""
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
    directory = save_ensemble(directory or work / "final", [work / n for n in names],
                              final["rule"], weights,
                              bias, calibration=record,
                              extra={"validation_split_seed": 0, "validation_split_by": split_by})
    return {"temperature": record["temperature"], "validation": record, "test": on_test,
            "directory": str(directory)}


def every_ensemble(probabilities: dict, labels: dict, rules: tuple = RULES) -> dict:
    """rule → {"a + b + ...": accuracies} for every combination of two models or more."""
    ensembles = {rule: {} for rule in rules}
    names = list(probabilities)
    for size in range(2, len(names) + 1):
        for chosen in itertools.combinations(names, size):
            for rule in rules:
                ensembles[rule][" + ".join(chosen)] = combined_accuracy(
                    rule, [probabilities[n] for n in chosen], labels)
    return ensembles


def _student_options(options: PipelineOptions, round_number: int) -> dict:
    """What a round's students are given beyond their preset, seed and teachers."""
    overrides = {}
    if options.student_epochs:
        overrides["epochs"] = options.student_epochs
    if options.adversarial and round_number >= options.adversarial_from:
        overrides["adversarial"] = options.adversarial
    return {**({"unlabelled": options.unlabelled} if options.unlabelled else {}),
            **({"overrides": overrides} if overrides else {})}


def _ulmfit_steps(data: str, work: Path, options: PipelineOptions, split: dict, log):
    """A forward and a backward language model side by side, then a classifier fine-tuned from
    each (ULMFiT); returns both steps' records and the classifiers' names."""
    directions = ("forward", "backward")
    snapshots = ({"overrides": {"snapshots": list(options.lm_snapshots)}}
                 if options.lm_snapshots else {})
    language_models = run_steps("language-models", {f"lm-{d}": Call(PRETRAIN_LM, {
        "data": data, "preset": options.ulmfit_lm_preset, "direction": d,
        "out": str(work / f"lm-{d}"), **snapshots}) for d in directions}, work, 1, log)
    classifiers = run_steps("ulmfit", {f"ulmfit-{d}": classifier(
        data, "ulmfit", work / f"ulmfit-{d}", init_from=str(work / f"lm-{d}"), **split)
        for d in directions}, work, 1, log)
    return language_models, classifiers, [f"ulmfit-{d}" for d in directions]


def train_models(data, work: Path, options: PipelineOptions, log=print) -> tuple[dict, list]:
    """Steps 1-3: every model, each in WORK/NAME. Returns (step records, model names)."""
    data = str(data)
    split = {"split_seed": 0, "split_by": options.split_by}
    vectors = work / "word2vec.vec"
    steps = {}
    if options.word_vectors is not None:
        steps["word vectors"] = run_steps("vectors", {"vectors": Call(WORD_VECTORS, {
            "data": data, "out": str(vectors), **options.word_vectors})}, work, 2, log)
    names = []
    if options.ulmfit_lm_preset:
        steps["language models"], steps["ulmfit"], ulmfit = _ulmfit_steps(data, work, options,
                                                                          split, log)
        names += ulmfit
    for preset in options.doc_vector_presets:
        # members whose errors differ from the BiLSTMs' and the NBSVM's: a dense code of the
        # words and n-grams, learnt from the unlabelled reviews
        steps[preset] = run_steps(preset, {preset: classifier(data, preset, work / preset,
                                                              **split)}, work, 2, log)
        names.append(preset)
    adversarial_members = ({"overrides": {"adversarial": options.adversarial}}
                           if options.adversarial and options.adversarial_from == 0 else {})

    def member(name: str, seed: int, **arguments) -> Call:
        return classifier(data, options.member_preset, work / name, vectors=str(vectors),
                          seed=seed, **split, **arguments)

    members = {f"member-{k}": member(f"member-{k}", k, **adversarial_members)
               for k in range(options.members)}
    if options.linear_preset:
        members["nbsvm"] = classifier(data, options.linear_preset, work / "nbsvm", **split)
    if members:
        steps["members"] = run_steps("members", members, work, 1 if len(members) > 1 else 2,
                                     log)
    semi = [f"semi-{k}" for k in range(options.semi_members)]
    for k, name in enumerate(semi):
        # alone with both cores: its three passes per step would keep a one-thread process
        # busy long after the others ended
        steps[name] = run_steps(name, {name: classifier(
            data, "semi", work / name, vectors=str(vectors), seed=k, **split)}, work, 2, log)
    names = [*members, *semi, *names]
    teacher = [str(work / name) for name in members]
    students = []
    for round_number in range(1, options.rounds + 1):
        trained = []
        for k in range(options.students):
            name = f"student-{k}" if round_number == 1 else f"student-r{round_number}-{k}"
            # one after the other with both cores: the second finds the teacher's
            # probabilities in the cache
            steps[name] = run_steps(name, {name: member(
                name, k, teacher=teacher, **_student_options(options, round_number))},
                work, 2, log)
            trained.append(name)
        students += trained
        # Co-training: the NBSVM again, now also on the unlabelled reviews as the students so
        # far label them; the next round learns from it and this round's students
        refit = f"nbsvm-r{round_number}"
        steps[refit] = run_steps(refit, {refit: classifier(
            data, options.linear_preset, work / refit, **split,
            teacher=[str(work / s) for s in students])}, work, 2, log)
        teacher = [str(work / refit), *[str(work / name) for name in trained]]
        students.append(refit)
    return steps, [*names, *students]


def run_pipeline(data, work, options: PipelineOptions = PipelineOptions(), *,
                 final_directory=None, log=print) -> dict:
    """Build the system: train every model into WORK (reusing finished steps), score every
    combination on validation, choose and calibrate the final ensemble, and write it to
    ``final_directory`` (WORK/final by default) as one loadable model. Returns the report
    (steps and their times, each model's and each combination's accuracy, the final pick)."""
    # absolute paths in the recorded commands: a rerun from another directory reuses them
    work = Path(work).resolve()
    data = Path(data).resolve()
    work.mkdir(parents=True, exist_ok=True)
    steps, names = train_models(data, work, options, log)
    log("evaluation: every model on the validation split and the test set")
    started = time.perf_counter()
    dataset = imdb.load(data)
    _, valid_part = imdb.validation_split(dataset.train, 0.1, 0, by=options.split_by)
    splits = {"valid": valid_part, "test": dataset.test}
    labels = {name: torch.tensor([r.label for r in reviews]) for name, reviews in splits.items()}
    probabilities, reread = {}, []
    for name in names:
        probabilities[name], reused = model_probabilities(work / name, splits)
        reread += [name] if reused else []
    ensembles = every_ensemble(probabilities, labels)
    evaluation_seconds = time.perf_counter() - started
    if options.ensemble_teacher and ensembles["mean"]:
        # the NBSVM once more, taught by the probability average validation chose
        chosen = max(ensembles["mean"], key=lambda n: ensembles["mean"][n]["valid"])
        taught = {"teacher": [str(work / n) for n in chosen.split(" + ")], "split_seed": 0,
                  "split_by": options.split_by}
        steps["nbsvm-ensemble"] = run_steps("nbsvm-ensemble", {"nbsvm-ensemble": classifier(
            data, options.linear_preset, work / "nbsvm-ensemble", **taught)}, work, 2, log)
        last = ["nbsvm-ensemble"]
        if options.taught_doc_vectors:
            steps["dv-ensemble"] = run_steps("dv-ensemble", {"dv-ensemble": classifier(
                data, options.doc_vector_presets[0], work / "dv-ensemble", **taught)},
                work, 2, log)
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
    final = choose_final(probabilities, ensembles, labels)
    if final is not None:
        final["calibration"] = calibrate_final(final, probabilities, labels, work,
                                               options.split_by, final_directory)
        log(f"final: {final['members']}, {final['rule']} ({final['procedure']}): validation "
            f"{final['valid']:.2%}, test {final['test']:.2%}; temperature "
            f"{final['calibration']['temperature']:.3f}; written to "
            f"{final['calibration']['directory']}")
    best = {rule: max(table, key=lambda n: table[n]["valid"])
            for rule, table in ensembles.items() if table}
    single = max(rows, key=lambda n: rows[n]["valid"])
    recurrent = [n for n in rows if n.startswith(("member", "semi", "student", "ulmfit"))]
    recurrent = max(recurrent, key=lambda n: rows[n]["valid"]) if recurrent else None
    return {"environment": environment(seed=0), "work": str(work),
            "options": asdict(options), "split_by": options.split_by, "steps": steps,
            "pipeline_seconds": sum(s["seconds"] for s in steps.values()),
            "reused_steps": [n for n, s in steps.items() if s.get("reused")],
            "rows": rows, "ensembles": ensembles["mean"],
            "ensembles_log_odds": ensembles["log-odds"],
            "ensembles_stacked": ensembles["stacked"],
            "best_single_by_validation": {"name": single, **rows[single]},
            "best_recurrent_by_validation": ({"name": recurrent, **rows[recurrent]}
                                             if recurrent else None),
            "best_ensemble_by_validation": ({"members": best["mean"],
                                             **ensembles["mean"][best["mean"]]}
                                            if "mean" in best else None),
            "best_by_validation_per_rule": {rule: {"members": m, **ensembles[rule][m]}
                                            for rule, m in best.items()},
            "best_combination_by_validation": (
                max(({"rule": rule, "members": m, **ensembles[rule][m]}
                     for rule, m in best.items()), key=lambda c: c["valid"])
                if best else None),
            "final_by_nested_cv": final}


def choose_final(probabilities: dict, ensembles: dict, labels: dict) -> dict | None:
    """The final ensemble: validation's best combination or the stack of every model, whichever
    nested cross-validation on validation scores higher (the search's top score is partly
    validation's noise). None with a single model."""
    if len(probabilities) < 2:
        return None
    candidates = [(rule, names, result) for rule, table in ensembles.items()
                  for names, result in table.items()]
    overall = max(candidates, key=lambda c: c[2]["valid"])
    names = list(probabilities)
    nested = nested_estimates(
        torch.stack([log_odds(probabilities[n]["valid"]) for n in names], 1).numpy(),
        labels["valid"].numpy())
    if nested["chosen"] == "stack-all":
        final = {"rule": "stacked", "members": " + ".join(names),
                 **ensembles["stacked"][" + ".join(names)]}
    else:
        final = {"rule": overall[0], "members": overall[1], **overall[2]}
    return {"procedure": nested["chosen"], "nested_valid": nested, **final}


def run_recipe(name: str, data, out, *, seed: int = 0, resume: bool = False,
               show_progress: bool = True, log=print) -> dict:
    """Build recipe ``name`` (see ``recipes.RECIPES``) into ``out``, one directory that loads as
    one model. A one-preset recipe trains that preset there (OUT/best, OUT/last; ``resume``
    continues from OUT/last); a pipeline recipe keeps its models and logs in OUT/steps (a rerun
    always reuses the finished steps), writes the final ensemble's config.json in OUT and its
    report in OUT/recipe.json."""
    from .recipes import RECIPES
    from .training import train

    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; choose one of {', '.join(RECIPES)}")
    recipe = RECIPES[name]
    out = Path(out)
    if recipe.preset:
        return {"recipe": name, **train(data, recipe.preset, out, seed=seed, resume=resume,
                                        show_progress=show_progress, log=log)}
    if seed != 0:
        raise ValueError(f"recipe {name} trains its models with the seeds it was measured with "
                         "(members 0, 1, ...); --seed applies to one-preset recipes only")
    if data is None:  # every step reads one file: download it once, here
        data = imdb.fetch(imdb.URL, imdb.ARCHIVE, ("md5", imdb.MD5), show_progress=show_progress)
    log(f"recipe {name}: {recipe.description}; measured: {recipe.measured}")
    report = run_pipeline(data, out / "steps", PipelineOptions(**recipe.pipeline),
                          final_directory=out, log=log)
    report = {"recipe": name, **report}
    write_json_atomic(out / "recipe.json", report)
    return report
