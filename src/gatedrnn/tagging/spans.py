"""Named entities as spans: reading them out of IOB2 tags, repairing tags that break the
scheme, and scoring predicted spans against gold ones (precision, recall and F1 per entity
type, as CoNLL's conlleval and seqeval count them: a span is right only when its type, its
first and its last token all are).

IOB2: ``B-X`` opens an entity of type X, ``I-X`` continues it, ``O`` is outside any. ``I-X``
after ``O`` or after an entity of another type breaks the scheme; read leniently (as
conlleval does) it opens a new entity, which is what ``repair`` writes as ``B-X``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    """An entity: its type and its tokens ``start`` to ``end`` (exclusive)."""

    type: str
    start: int
    end: int


def _parts(tag: str) -> tuple[str, str | None]:
    """("B" | "I" | "O", type or None) of a tag; anything else is refused."""
    if tag == "O":
        return "O", None
    prefix, dash, kind = tag.partition("-")
    if not dash or prefix not in ("B", "I") or not kind:
        raise ValueError(f"{tag!r} is not an IOB2 tag (O, B-TYPE or I-TYPE)")
    return prefix, kind


def spans(tags: list[str]) -> list[Span]:
    """The entities of one sentence's IOB2 tags (an ``I-X`` that cannot continue an entity
    opens one, as conlleval reads it)."""
    found, open_type, open_start = [], None, 0
    for i, tag in enumerate([*tags, "O"]):
        prefix, kind = _parts(tag)
        continues = prefix == "I" and kind == open_type
        if open_type is not None and not continues:
            found.append(Span(open_type, open_start, i))
            open_type = None
        if prefix in ("B", "I") and not continues:
            open_type, open_start = kind, i
    return found


def repair(tags: list[str]) -> tuple[list[str], int]:
    """The tags with every ``I-X`` that cannot continue an entity made ``B-X``, and how many
    were changed (the entities read are the same: see ``spans``)."""
    fixed, changed, previous = [], 0, None
    for tag in tags:
        prefix, kind = _parts(tag)
        if prefix == "I" and previous != kind:
            tag, changed = f"B-{kind}", changed + 1
        fixed.append(tag)
        previous = kind
    return fixed, changed


def span_scores(gold: list[list[str]], predicted: list[list[str]]) -> dict:
    """Entity precision, recall and F1 over sentences of IOB2 tags: per type (with its gold
    count, ``support``), micro-averaged over all entities, and the types' macro-average F1."""
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
