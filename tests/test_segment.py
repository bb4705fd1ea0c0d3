"""Raw text in any language to tokens with their offsets, and Japanese end to end: a tagger
trained on a Japanese treebank tags a raw Japanese sentence."""

from __future__ import annotations

import json
import random

import pytest
from click.testing import CliRunner

from gatedrnn.cli import main
from gatedrnn.data.segment import choose_language, segment, treebank_language


def _offsets_hold(text: str, sentences) -> bool:
    return all(text[t.start:t.end] == t.text for s in sentences for t in s)


def test_words_keep_case_and_offsets_and_sentences_end_at_final_punctuation():
    text = "Anders bor i København. Han er glad!\nU.S. prices fall, etc. and so on."
    sentences = segment(text, "words")
    assert [[t.text for t in s] for s in sentences] == [
        ["Anders", "bor", "i", "København", "."], ["Han", "er", "glad", "!"],
        ["U", ".", "S", ".", "prices", "fall", ",", "etc", ".", "and", "so", "on", "."]]
    assert _offsets_hold(text, sentences)


def test_english_follows_ud_ewt_and_keeps_offsets():
    text = "I don't think it's U.S. policy."
    (sentence,) = segment(text, "english")
    assert [t.text for t in sentence] == ["I", "do", "n't", "think", "it", "'s", "U.S.",
                                          "policy", "."]
    assert _offsets_hold(text, [sentence])


def test_language_is_chosen_from_kana_or_a_treebank_name():
    assert choose_language("私は東京に行きました。") == "japanese"
    assert choose_language("Anders bor i København.") == "words"
    assert treebank_language("en_ewt-ud-train.conllu", "whatever") == "english"
    assert treebank_language("ja_gsd-ud-dev.conllu", "whatever") == "japanese"
    assert treebank_language("fr_gsd-ud-train.conllu", "Le chat dort.") == "words"
    with pytest.raises(ValueError, match="unknown language"):
        segment("x", "klingon")


def test_japanese_is_cut_into_unidic_short_unit_words_with_offsets():
    pytest.importorskip("fugashi")
    text = "私は東京に行きました。猫が魚を食べた。"
    sentences = segment(text, "auto")
    assert [[t.text for t in s] for s in sentences] == [
        ["私", "は", "東京", "に", "行き", "まし", "た", "。"],
        ["猫", "が", "魚", "を", "食べ", "た", "。"]]
    assert _offsets_hold(text, sentences)


UPOS = {"私": "PRON", "彼": "PRON", "猫": "NOUN", "犬": "NOUN", "は": "ADP", "が": "ADP",
        "に": "ADP", "で": "ADP", "を": "ADP", "東京": "PROPN", "大阪": "PROPN", "京都": "PROPN",
        "本": "NOUN", "魚": "NOUN", "寿司": "NOUN", "行き": "VERB", "食べ": "VERB",
        "買っ": "VERB", "まし": "AUX", "た": "AUX", "。": "PUNCT"}


def _japanese_treebank(path, count: int) -> None:
    rng = random.Random(0)
    lines = []
    for n in range(count):
        who, place = rng.choice(["私", "彼"]), rng.choice(["東京", "大阪", "京都"])
        what, verb = rng.choice([("本", "買っ"), ("寿司", "食べ"), ("魚", "食べ")])
        forms = [who, "は", place, "で", what, "を", verb, *(["まし"] if n % 2 else []), "た",
                 "。"]
        lines += [f"# sent_id = s{n}", f"# text = {''.join(forms)}"]
        lines += [f"{i}\t{f}\t{f}\t{UPOS[f]}\t_\t_\t0\tdep\t_\t_" for i, f in enumerate(forms, 1)]
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_a_japanese_treebank_trains_and_tags_raw_japanese_end_to_end(tmp_path):
    pytest.importorskip("fugashi")
    train = tmp_path / "ja_toy-ud-train.conllu"
    _japanese_treebank(train, 60)
    out = tmp_path / "run"
    runner = CliRunner()
    result = runner.invoke(main, ["tagger", "train", "--train", str(train), "--preset", "tiny",
                                  "--epochs", "12", "--out", str(out)])
    assert result.exit_code == 0, result.output
    config = json.loads((out / "best" / "config.json").read_text(encoding="utf-8"))
    assert config["language"] == "japanese"
    result = runner.invoke(main, ["tagger", "predict", str(out), "--format", "json",
                                  "私は京都で寿司を食べました。"])
    assert result.exit_code == 0, result.output
    (tagged,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert tagged["tokens"] == ["私", "は", "京都", "で", "寿司", "を", "食べ", "まし", "た", "。"]
    right = sum(UPOS[t] == u for t, u in zip(tagged["tokens"], tagged["upos"]))
    assert right >= 8
    # scored from raw text: the fixture's words are MeCab's, so segmentation is exact
    from gatedrnn.data import ud
    from gatedrnn.tagging import Tagger, evaluate_raw_text
    report = evaluate_raw_text(Tagger.load(out), ud.read_conllu(train))
    assert report["segmentation"]["f1"] == 1.0 and report["sentences"] == 60
    assert report["upos"]["f1"] > 0.8 and report["skipped"] == 0


def test_raw_text_scoring_counts_a_segmentation_error_on_both_sides(trained_tagger_english):
    from gatedrnn.data import ud
    from gatedrnn.tagging import evaluate_raw_text

    tagger = trained_tagger_english
    gold = ud.Sentence(["New York", "is", "big", "."], ["PROPN", "AUX", "ADJ", "PUNCT"],
                       ["_"] * 4, text="New York is big.")
    report = evaluate_raw_text(tagger, [gold, ud.Sentence(["x"], ["X"], ["_"])])
    # found: New, York, is, big, . (5); gold: New York, is, big, . (4); right: 3
    assert report["segmentation"]["precision"] == pytest.approx(3 / 5)
    assert report["segmentation"]["recall"] == pytest.approx(3 / 4)
    assert report["skipped"] == 1  # the sentence without a text


@pytest.fixture(scope="module")
def trained_tagger_english(ud_treebank, tmp_path_factory):
    from gatedrnn.tagging import Tagger, train

    out = tmp_path_factory.mktemp("english")
    train(ud_treebank, "tiny", out, overrides={"epochs": 1}, show_progress=False,
          log=lambda m: None)
    tagger = Tagger.load(out)
    assert tagger.language == "english"  # the fixture's files are named en_ewt-ud-*
    return tagger
