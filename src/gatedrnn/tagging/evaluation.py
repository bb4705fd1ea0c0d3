"""Scoring a tagger on gold sentences (overall, unseen words, per tag, calibration) and fitting
its temperatures."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..data import ud
from ..train import checkpoint
from .predict import Tagger, TaggerEnsemble, _softmax_each, gold_scores


def calibrate(tagger: Tagger, sentences: list[ud.Sentence]) -> dict:
    """Fit the UPOS and XPOS temperatures on ``sentences`` (dev) from the tagger's raw scores,
    set them, and return the record a checkpoint keeps (``calibration``)."""
    from ..train import calibration

    record = {"split": "dev"}
    for head, (scores, gold) in gold_scores(tagger, sentences).items():
        if len(gold):
            record[head] = calibration.fit_and_report(scores, gold)
            tagger.temperature[head] = record[head]["temperature"]
    if "upos" not in record:
        raise ValueError("nothing to calibrate on: no token with a known UPOS tag")
    if isinstance(tagger, TaggerEnsemble):
        tagger.whole = True
    return record


def calibrate_checkpoint(path: str | Path, sentences: list[ud.Sentence], log=print) -> dict:
    """Fit the temperatures of the tagger (or tagger ensemble) at ``path`` on ``sentences``
    and store them in its config.json (atomically); returns the record."""
    directory = checkpoint.resolve(path)
    record = calibrate(Tagger.load(directory, calibrated=False), sentences)
    checkpoint.update_config(directory, calibration=record)
    upos = record["upos"]
    log(f"calibration: UPOS temperature {upos['temperature']:.3f} on {upos['examples']:,} dev "
        f"tokens (ECE {upos['ece_before']:.2%} → {upos['ece_after']:.2%})")
    return record


def evaluate(tagger: Tagger, sentences: list[ud.Sentence], keep_raw_report: bool = False
             ) -> dict:
    """UPOS, XPOS and FEATS accuracy overall and on words unseen in training; per-UPOS-tag
    scores."""
    if not sentences:
        raise ValueError("nothing to evaluate: no sentences")
    forms = [s.forms for s in sentences]
    upos, xpos = tagger.predict_ids(forms)
    feats = tagger.feats_ids(forms)
    words_of = [tagger.vocab.word_ids(f) for f in forms]
    counts = Counter()
    per_tag = {t: Counter() for t in sorted({t for s in sentences for t in s.upos})}
    for sentence, words, pu, px, pf in zip(sentences, words_of, upos, xpos, feats):
        for position, gold in enumerate(sentence.upos):
            predicted = tagger.vocab.upos[pu[position]]
            unseen = words[position] == tagger.vocab.words.unk_index
            right_u = predicted == gold
            gold_x = sentence.xpos[position]
            scored_x = bool(px) and gold_x != ud.NO_TAG  # a treebank may have no XPOS
            right_x = scored_x and tagger.vocab.xpos[px[position]] == gold_x
            scored_f = bool(pf) and bool(sentence.feats)
            right_f = scored_f and tagger.vocab.feats[pf[position]] == sentence.feats[position]
            counts.update({"feats": right_f, "feats_tokens": scored_f,
                           "oov_feats": unseen and right_f, "oov_feats_tokens": unseen and scored_f})
            counts.update({"tokens": 1, "upos": right_u, "xpos": right_x,
                           "xpos_tokens": scored_x, "oov": unseen, "oov_upos": unseen and right_u,
                           "oov_xpos": unseen and right_x, "oov_xpos_tokens": unseen and scored_x})
            per_tag[gold]["support"] += 1
            per_tag[gold]["tp"] += right_u
            per_tag.setdefault(predicted, Counter())["predicted"] += 1
    scores = {}
    for tag, c in sorted(per_tag.items()):
        precision = c["tp"] / c["predicted"] if c["predicted"] else 0.0
        recall = c["tp"] / c["support"] if c["support"] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[tag] = {"precision": precision, "recall": recall, "f1": f1,
                       "support": c["support"]}
    tokens, oov = counts["tokens"], counts["oov"]
    return {"sentences": len(sentences), "tokens": tokens,
            # XPOS: None where there is none to score (no XPOS in the treebank or the model)
            "upos_accuracy": counts["upos"] / tokens,
            "xpos_accuracy": (counts["xpos"] / counts["xpos_tokens"] if counts["xpos_tokens"]
                              else None),
            "oov_tokens": oov, "oov_rate": oov / tokens,
            "oov_upos_accuracy": counts["oov_upos"] / oov if oov else None,
            "oov_xpos_accuracy": (counts["oov_xpos"] / counts["oov_xpos_tokens"]
                                  if counts["oov_xpos_tokens"] else None),
            # FEATS (the whole value right): None without a FEATS head or gold FEATS
            "feats_accuracy": (counts["feats"] / counts["feats_tokens"]
                               if counts["feats_tokens"] else None),
            "oov_feats_accuracy": (counts["oov_feats"] / counts["oov_feats_tokens"]
                                   if counts["oov_feats_tokens"] else None),
            "per_upos": scores,
            "calibration": calibration_report(tagger, sentences, keep_raw_report),
            "checkpoint": tagger.source}


def calibration_report(tagger: Tagger, sentences: list[ud.Sentence],
                       keep_raw_report: bool = False) -> dict:
    """UPOS calibration over every token (ECE, Brier, NLL, reliability bins, accuracy–coverage)
    as the tagger predicts, the same from its raw scores (whole with ``keep_raw_report``, as
    ``raw_report``), and the XPOS ECE."""
    from ..train import calibration

    heads = gold_scores(tagger, sentences)
    raw, gold = heads["upos"]
    if not len(gold):
        return {}
    t_upos, t_xpos = tagger.temperature["upos"], tagger.temperature["xpos"]
    report = calibration.report(_softmax_each([raw], t_upos)[0], gold)
    report["temperature"] = {"upos": t_upos, "xpos": t_xpos}
    raw_report = calibration.report(raw.softmax(-1), gold)
    report["uncalibrated"] = {k: v for k, v in raw_report.items() if k in ("ece", "brier", "nll")}
    if keep_raw_report:
        report["raw_report"] = raw_report
    if isinstance(tagger, TaggerEnsemble) and not tagger.whole:
        # members' own temperatures, averaged: what the tagger predicts is not raw ** (1/T)
        report["probabilities"] = "members' calibrated probabilities averaged"
        report.update(calibration.report(
            gold_scores(tagger, sentences, raw=False)["upos"][0], gold))
    xpos_raw, xpos_gold = heads["xpos"]
    if len(xpos_gold):
        report["xpos_ece"] = calibration.expected_calibration_error(
            _softmax_each([xpos_raw], t_xpos)[0], xpos_gold)
        report["xpos_ece_uncalibrated"] = calibration.expected_calibration_error(
            xpos_raw.softmax(-1), xpos_gold)
    return report


def evaluate_raw_text(tagger: Tagger, sentences: list[ud.Sentence]) -> dict:
    """The tagger from raw text, as a user runs it: each sentence's ``# text`` cut into tokens
    as the tagger's language is (``data.segment``) and tagged. Scored against the gold words by
    their character offsets: segmentation (the words' spans) and UPOS (span and tag both
    right), each as precision, recall and F1. Sentences without a text, or whose words are not
    found in it in order, are skipped and counted (``skipped``)."""
    from ..data.segment import segment

    counts = {"segmentation": [0, 0, 0], "upos": [0, 0, 0]}
    skipped = 0
    for sentence in sentences:
        gold, position = [], 0
        for form, tag in zip(sentence.forms, sentence.upos):
            at = (sentence.text or "").find(form, position)
            if at < 0:
                break
            gold.append((at, at + len(form), tag))
            position = at + len(form)
        if not sentence.text or len(gold) != len(sentence):
            skipped += 1
            continue
        cut = segment(sentence.text, tagger.language)
        tagged = tagger.tag([[t.text for t in s] for s in cut])
        found = [(t.start, t.end, tag) for s, result in zip(cut, tagged)
                 for t, tag in zip(s, result["upos"])]
        for key, width in (("segmentation", 2), ("upos", 3)):
            g, f = {x[:width] for x in gold}, {x[:width] for x in found}
            c = counts[key]
            c[0], c[1], c[2] = c[0] + len(g & f), c[1] + len(f), c[2] + len(g)
    if skipped == len(sentences):
        raise ValueError("no sentence has a # text line holding its words: nothing to score "
                         "from raw text")
    return {**{key: {"precision": tp / n_f if n_f else 0.0, "recall": tp / n_g,
                     "f1": 2 * tp / (n_f + n_g)} for key, (tp, n_f, n_g) in counts.items()},
            "sentences": len(sentences) - skipped, "skipped": skipped}

