"""Tokenizers for any language (gatedrnn.data.tokenizers): words in any spaced script, a
subword model learnt from the training texts and kept with the checkpoint, Japanese through
MeCab/UniDic, and the automatic choice by script."""

import pytest

from gatedrnn.data.tokenizers import (
    TokenizerError,
    choose_tokenizer,
    load_tokenizer,
    make_tokenizer,
)
from gatedrnn.data.text import basic_english

JAPANESE = ["この映画はとても面白かった。", "退屈で長すぎる映画だった。", "俳優の演技が素晴らしい。"]


def test_words_in_any_spaced_script_and_basic_english_unchanged():
    words = make_tokenizer("word")
    assert words("Ça, c'est GÉNIAL!<br />Très bien") == ["ça", ",", "c'est", "génial", "!",
                                                         "très", "bien"]
    assert words("Фильм был отличный") == ["фильм", "был", "отличный"]
    text = "It's \"really\" (truly) great!<br /><br />Yes."
    assert make_tokenizer("basic_english")(text) == basic_english(text)


def test_a_subword_model_is_learnt_kept_and_read_back(tmp_path):
    texts = [f"the film number {k} was {'great' if k % 2 else 'dull'}" for k in range(200)]
    tokenizer = make_tokenizer("subword", texts, vocab_size=60)
    pieces = tokenizer("the film was great")
    assert pieces and "".join(pieces).replace("▁", " ").strip() == "the film was great"
    config, files = tokenizer.config(), tokenizer.files()
    assert config["kind"] == "subword" and config["pieces"] <= 60
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    assert load_tokenizer(config, tmp_path)("an unseen film") == tokenizer("an unseen film")
    (tmp_path / config["file"]).unlink()
    with pytest.raises(TokenizerError, match="tokenizer.model is missing.*copy the whole"):
        load_tokenizer(config, tmp_path)


def test_japanese_words_from_mecab():
    pytest.importorskip("fugashi")
    tokens = make_tokenizer("japanese")(JAPANESE[0])
    assert tokens[:4] == ["この", "映画", "は", "とても"] and tokens[-1] == "。"


@pytest.mark.parametrize("texts, chosen", [
    (JAPANESE, "japanese"),
    (["这部电影非常好看", "太无聊了"], "subword"),
    (["a great film", "Фильм был отличный"], "word"),
])
def test_auto_chooses_by_script_and_says_why(texts, chosen):
    said = []
    name, why = choose_tokenizer(texts)
    assert name == chosen and why
    if chosen != "subword":
        make_tokenizer("auto", texts, log=said.append)
        assert said == [f"tokenizer: {chosen} ({why}; --tokenizer chooses another)"]


def test_old_checkpoints_name_their_tokenizer_as_a_string():
    assert load_tokenizer("basic_english")("Great!") == ["great", "!"]
    assert load_tokenizer(None)("Great!") == ["great", "!"]
    with pytest.raises(TokenizerError, match="unknown tokenizer 'klingon'; choose one of auto"):
        make_tokenizer("klingon")
