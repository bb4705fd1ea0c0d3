"""Scoring an entity tagger on gold sentences: entity (span) precision, recall and F1 per
type, micro and macro, and the recall of entities with a word training never saw."""

from __future__ import annotations

from ..data.columns import TaggedSentence
from ..data.iob2 import spans
from .predict import EntityRecognizer


def evaluate(recognizer: EntityRecognizer, sentences: list[TaggedSentence]) -> dict:
    """Span scores of the recognizer's tags against the gold ones (see ``span_scores``), with
    the token accuracy and the recall of the gold entities that hold a word unseen in training
    (what characters are for)."""
    if not sentences:
        raise ValueError("nothing to evaluate: no sentences")
    gold = [s.tags for s in sentences]
    predicted = recognizer.predict_tags([s.forms for s in sentences])
    scores = span_scores(gold, predicted)
    unk = recognizer.vocab.words.unk_index
    unseen = found = 0
    tokens = right = 0
    for sentence, tags in zip(sentences, predicted):
        words = recognizer.vocab.word_ids(sentence.forms)
        guessed = set(spans(tags))
        for span in spans(sentence.tags):
            if unk in words[span.start:span.end]:
                unseen += 1
                found += span in guessed
        tokens += len(tags)
        right += sum(g == p for g, p in zip(sentence.tags, tags))
    return {"sentences": len(sentences), "tokens": tokens, "token_accuracy": right / tokens,
            **scores, "unseen_entities": unseen,
            "unseen_entity_recall": found / unseen if unseen else None,
            "checkpoint": recognizer.source}


def span_scores(gold: list[list[str]], predicted: list[list[str]]) -> dict:
    """Entity precision, recall and F1 over sentences of IOB2 tags: per type (with its gold
    count, ``support``), micro-averaged over all entities, and the types' macro-average F1.
    A span is right only when its type, its first and its last token all are (CoNLL's
    conlleval and seqeval count so)."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold sentences but {len(predicted)} predicted")
    counts: dict[str, list[int]] = {}  # type → [true positives, predicted, gold]
    for i, (g, p) in enumerate(zip(gold, predicted)):
        if len(g) != len(p):
            raise ValueError(f"sentence {i}: {len(g)} gold tags but {len(p)} predicted")
        gold_spans, predicted_spans = set(spans(g)), set(spans(p))
        for span in gold_spans | predicted_spans:
            row = counts.setdefault(span.type, [0, 0, 0])
            row[0] += span in gold_spans and span in predicted_spans
            row[1] += span in predicted_spans
            row[2] += span in gold_spans

    def scores(tp: int, n_predicted: int, n_gold: int) -> dict:
        precision = tp / n_predicted if n_predicted else 0.0
        recall = tp / n_gold if n_gold else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"precision": precision, "recall": recall, "f1": f1, "support": n_gold}

    per_type = {kind: scores(*counts[kind]) for kind in sorted(counts)}
    total = [sum(row[k] for row in counts.values()) for k in range(3)]
    return {"per_type": per_type, "micro": scores(*total),
            "macro_f1": (sum(s["f1"] for s in per_type.values()) / len(per_type)
                         if per_type else 0.0)}
