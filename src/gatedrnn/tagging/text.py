"""Raw text to sentences of tokens: English close to UD EWT's conventions, other languages as
``data/segment.py`` cuts them (Japanese into UniDic's short-unit words, as UD Japanese)."""

from __future__ import annotations

import re

from ..data.segment import ENGLISH_TOKEN as _TOKEN
from ..data.segment import segment

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")


def tokenize(text: str, language: str = "english") -> list[list[str]]:
    """Raw text → sentences of tokens. English: each line is split at ., ! or ? followed by a
    space and a capital letter or digit; then each sentence into tokens (see ``_TOKEN``).
    Another ``language`` ("japanese", "words", "auto"): see ``data.segment.segment``."""
    if language != "english":
        return [[token.text for token in sentence] for sentence in segment(text, language)]
    sentences = []
    for line in text.splitlines():
        for part in _SENTENCE_END.split(line.strip()):
            tokens = _TOKEN.findall(part)
            if tokens:
                sentences.append(tokens)
    return sentences
