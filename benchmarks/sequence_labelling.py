"""Sequence labelling side by side with Flair's tagger trained from scratch, on the same splits
and machine: UD English EWT (UPOS), a small treebank (EWT's first N training sentences), UD
Japanese GSD (UPOS; trained on its dev file, 10% of it held out as dev, scored on its test
file) and UNER Danish (named entities, span F1).

    python benchmarks/sequence_labelling.py --ewt DIR --gsd DIR --uner DIR [--sets uner-da ja-gsd]

gatedrnn trains its default preset (steps set by the data's size, the best dev epoch kept).
Flair trains its SequenceTagger (BiLSTM 256, CRF) over one-hot word embeddings and its
character BiLSTM, both learnt on the data (nothing downloaded), SGD 0.1 annealed on dev, for
FLAIR_EPOCHS epochs (``--flair-same-time``: or until it would run past our default tagger's
training time); its best dev model is scored. One scorer for both: UPOS accuracy (and
on words unseen in training), or entity F1. Japanese is also tagged from each test sentence's
raw text (``tagging.evaluate_raw_text``). ``--no-chars``: taggers without characters too;
``--vectors FILE``: EWT's taggers also from word vectors learnt on unlabelled English text."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, markdown_table, write_results  # noqa: E402
from flair_tagger import train_and_tag  # noqa: E402

from gatedrnn.data import ud  # noqa: E402
from gatedrnn.entities import EntityRecognizer, load_files  # noqa: E402
from gatedrnn.entities import evaluate as evaluate_entities  # noqa: E402
from gatedrnn.entities import train as train_entities  # noqa: E402
from gatedrnn.entities.evaluation import span_scores  # noqa: E402
from gatedrnn.runinfo import environment  # noqa: E402
from gatedrnn.tagging import Tagger  # noqa: E402
from gatedrnn.tagging import evaluate_raw_text  # noqa: E402
from gatedrnn.tagging import train as train_tagger  # noqa: E402


def splits(args, name: str):
    """(kind, the set's train, dev and test sentences, as gatedrnn reads them)."""
    if name == "uner-da":
        return "ner", load_files(*(Path(args.uner) / f"da_ddt-ud-{s}.iob2"
                                   for s in ("train", "dev", "test")))
    if name == "ja-gsd":
        return "pos", ud.load_files(Path(args.gsd) / "ja_gsd-ud-dev.conllu", None,
                                    Path(args.gsd) / "ja_gsd-ud-test.conllu")
    treebank = ud.load(args.ewt)
    if name == "ewt-small":
        treebank.train = treebank.train[:args.small]
    return "pos", treebank


def ours(kind: str, data, out: Path, options: dict) -> dict:
    started = time.perf_counter()
    summary = (train_entities if kind == "ner" else train_tagger)(
        data, out=out, show_progress=False, log=lambda m: print(m, flush=True), **options)
    seconds = time.perf_counter() - started
    model = (EntityRecognizer if kind == "ner" else Tagger).load(out)
    started = time.perf_counter()
    forms = [s.forms for s in data.test]
    predicted = (model.predict_tags(forms) if kind == "ner" else
                 [[model.vocab.upos[i] for i in row] for row in model.predict_ids(forms)[0]])
    rate = sum(len(s) for s in data.test) / (time.perf_counter() - started)
    history = [round(h["valid_accuracy"], 4) for h in summary["history"]]
    row = {"train_seconds": seconds, "epochs": len(history), "dev_history": history,
           "predict_tokens_per_s": rate, "params": summary["params"],
           **scores(kind, data, predicted)}
    if kind == "ner":
        row["unseen_entity_recall"] = evaluate_entities(model, data.test)["unseen_entity_recall"]
    elif model.language == "japanese":
        row["raw_text"] = evaluate_raw_text(model, data.test)
    return row


def scores(kind: str, data: dict, predicted) -> dict:
    """The same numbers for every system: entity F1, or UPOS accuracy (and on the words,
    exactly as written, that training never saw)."""
    test = data.test
    if kind == "ner":
        result = span_scores([s.tags for s in test], predicted)
        return {"score": result["micro"]["f1"], "metric": "entity F1",
                "per_type_f1": {k: v["f1"] for k, v in result["per_type"].items()}}
    known = {f for s in data.train for f in s.forms}
    right = total = unseen = unseen_right = 0
    for sentence, guess in zip(test, predicted):
        for form, gold, tag in zip(sentence.forms, sentence.upos, guess):
            right, total = right + (gold == tag), total + 1
            if form not in known:
                unseen, unseen_right = unseen + 1, unseen_right + (gold == tag)
    return {"score": right / total, "metric": "UPOS accuracy",
            "unseen_accuracy": unseen_right / unseen if unseen else None, "unseen_tokens": unseen}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ewt", help="UD English EWT's folder")
    parser.add_argument("--gsd", help="UD Japanese GSD's folder (dev and test files)")
    parser.add_argument("--uner", help="UNER Danish DDT's folder (.iob2 files)")
    parser.add_argument("--sets", nargs="+", default=["uner-da", "ja-gsd"],
                        choices=["uner-da", "ja-gsd", "ewt", "ewt-small"])
    parser.add_argument("--small", type=int, default=2231, help="ewt-small's sentences")
    parser.add_argument("--flair-epochs", type=int, default=20)  # --no-flair: ours only
    parser.add_argument("--flair", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--flair-same-time", action="store_true",
                        help="stop Flair before an epoch that would end past our training time")
    parser.add_argument("--no-chars", action="store_true", help="also taggers without chars")
    parser.add_argument("--vectors", help="also EWT's taggers from these (English) vectors")
    for option, default in (("--name", "sequence_labelling"), ("--work", None),
                            ("--out", str(RESULTS))):
        parser.add_argument(option, default=default)
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="sequence-labelling-")).resolve()
    rows = {}
    for name in args.sets:
        kind, data = splits(args, name)
        variants = {"gatedrnn": {}}
        if args.no_chars and kind == "pos":
            variants["gatedrnn, no characters"] = {"model_overrides": {"char_encoder": "none"}}
        if args.vectors and name.startswith("ewt"):
            variants["gatedrnn + word vectors"] = {"vectors": args.vectors}
        systems = {system: ours(kind, data, work / name / system.replace(" ", ""), options)
                   for system, options in variants.items()}
        if args.flair:
            budget = systems["gatedrnn"]["train_seconds"] if args.flair_same_time else None
            predicted, timings = train_and_tag(kind, data, work / name / "flair",
                                               args.flair_epochs, budget)
            systems["flair (from scratch)"] = {**timings, **scores(kind, data, predicted)}
        rows[name] = {"sizes": {s: len(getattr(data, s)) for s in ("train", "dev", "test")},
                      "systems": systems}
        print(f"{name}: " + ", ".join(f"{k} {v['score']:.4f}" for k, v in systems.items()),
              flush=True)
    path = write_results(args.name, {"environment": environment(), "work": str(work),
                                     "flair_epochs": args.flair_epochs,
                                     "flair_same_time": args.flair_same_time, "rows": rows}, args.out)
    print(markdown_table(
        ["set", "system", "metric", "test", "unseen words", "train min", "epochs", "tokens/s"],
        [[name, system, r["metric"], f"{100 * r['score']:.2f}",
          f"{100 * r['unseen_accuracy']:.2f}" if r.get("unseen_accuracy") else "-",
          f"{r['train_seconds'] / 60:.1f}", r["epochs"], f"{r['predict_tokens_per_s']:,.0f}"]
         for name, row in rows.items() for system, r in row["systems"].items()]))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
