"""Entities read out of IOB2 tags, repaired, and scored per type: checked by hand and against
seqeval (the reference implementation of conlleval's counting) on hand-made cases."""

import pytest

from gatedrnn.data.iob2 import Span, repair, spans
from gatedrnn.entities.evaluation import span_scores

CASES = [  # (gold, predicted): sentences of IOB2 tags
    (["B-PER", "I-PER", "O", "B-LOC"], ["B-PER", "I-PER", "O", "B-LOC"]),      # all right
    (["B-PER", "I-PER", "O"], ["B-PER", "O", "O"]),                            # cut short
    (["O", "B-ORG", "I-ORG", "I-ORG"], ["O", "B-ORG", "I-ORG", "B-ORG"]),      # split in two
    (["B-LOC", "B-LOC", "O"], ["B-LOC", "I-LOC", "O"]),                        # two joined
    (["O", "O", "B-MISC"], ["O", "I-MISC", "I-MISC"]),                         # I after O
    (["B-PER", "O", "O"], ["B-ORG", "O", "O"]),                                # wrong type
    (["O", "O", "O"], ["B-PER", "I-ORG", "O"]),                                # type switch
    (["B-LOC", "I-LOC", "I-LOC"], ["B-LOC", "I-LOC", "I-LOC"]),                # to the end
]


def test_spans_are_read_as_conlleval_reads_them():
    assert spans(["B-PER", "I-PER", "O", "B-LOC"]) == [Span("PER", 0, 2), Span("LOC", 3, 4)]
    assert spans(["B-LOC", "B-LOC"]) == [Span("LOC", 0, 1), Span("LOC", 1, 2)]
    assert spans(["O", "I-MISC", "I-MISC"]) == [Span("MISC", 1, 3)]          # I opens one
    assert spans(["B-PER", "I-ORG"]) == [Span("PER", 0, 1), Span("ORG", 1, 2)]
    assert spans([]) == [] and spans(["O", "O"]) == []
    with pytest.raises(ValueError, match="'PER' is not an IOB2 tag"):
        spans(["PER"])


def test_repair_makes_every_entity_open_with_b_and_reads_the_same_spans():
    for gold, predicted in CASES:
        for tags in (gold, predicted):
            fixed, changed = repair(tags)
            assert spans(fixed) == spans(tags)
            assert all(not (t.startswith("I-") and (i == 0 or fixed[i - 1][2:] != t[2:]))
                       for i, t in enumerate(fixed))
    assert repair(["O", "I-PER", "I-PER", "I-LOC"]) == (["O", "B-PER", "I-PER", "B-LOC"], 2)


def test_scores_by_hand():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-PER", "O"]]
    predicted = [["B-PER", "I-PER", "O", "O"], ["B-PER", "O"]]
    scores = span_scores(gold, predicted)
    assert scores["per_type"]["PER"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0,
                                         "support": 2}
    assert scores["per_type"]["LOC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0,
                                         "support": 1}
    assert scores["micro"]["precision"] == 1.0 and scores["micro"]["recall"] == 2 / 3
    assert scores["micro"]["f1"] == pytest.approx(0.8) and scores["macro_f1"] == 0.5


def test_scores_match_seqeval():
    seqeval = pytest.importorskip("seqeval.metrics")
    gold = [g for g, _ in CASES]
    predicted = [p for _, p in CASES]
    ours = span_scores(gold, predicted)
    theirs = seqeval.classification_report(gold, predicted, output_dict=True, zero_division=0)
    for kind, row in ours["per_type"].items():
        for key, their_key in (("precision", "precision"), ("recall", "recall"),
                               ("f1", "f1-score"), ("support", "support")):
            assert row[key] == pytest.approx(theirs[kind][their_key]), (kind, key)
    assert ours["micro"]["f1"] == pytest.approx(seqeval.f1_score(gold, predicted))
    assert ours["macro_f1"] == pytest.approx(theirs["macro avg"]["f1-score"])


def test_mismatched_inputs_are_named():
    with pytest.raises(ValueError, match="2 gold sentences but 1 predicted"):
        span_scores([["O"], ["O"]], [["O"]])
    with pytest.raises(ValueError, match="sentence 0: 2 gold tags but 1 predicted"):
        span_scores([["O", "O"]], [["O"]])
