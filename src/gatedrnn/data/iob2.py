"""Named entities as spans of IOB2 tags: reading them out, and repairing tags that break
the scheme (scoring them: ``gatedrnn.entities.evaluation.span_scores``).

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


def is_tag(tag: str) -> bool:
    """Is ``tag`` an IOB2 tag (O, B-TYPE or I-TYPE)?"""
    return tag == "O" or (tag[:2] in ("B-", "I-") and len(tag) > 2)


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
