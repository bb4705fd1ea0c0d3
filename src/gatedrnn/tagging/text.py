"""Raw English text to sentences of tokens, close to UD EWT's conventions."""

from __future__ import annotations

import re

# ---- raw text -------------------------------------------------------------------------------

# A simple English tokenizer close to UD EWT's conventions (documented in the README): URLs and
# e-mail addresses stay whole (without trailing punctuation); numbers keep their inner . and ,; "don't" → do n't, "can't" →
# ca n't, "it's" → it 's (also 're 've 'll 'd 'm); abbreviations with inner periods (U.S.)
# stay whole; other punctuation characters are tokens of their own.
_TOKEN = re.compile(r"""
      (?:https?://|www\.)\S+?(?=[.,;:!?)\]"']*(?:\s|$))
    | [\w.+-]+@[\w-]+(?:\.[\w-]+)+
    | (?:[A-Za-z]\.){2,}
    | \d+(?:[.,:]\d+)*
    | \w+(?=n't\b) | n't\b
    | \w+(?='(?:s|re|ve|ll|d|m)\b) | '(?:s|re|ve|ll|d|m)\b
    | \w+(?:[-']\w+)*
    | \S
""", re.VERBOSE | re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")


def tokenize(text: str) -> list[list[str]]:
    """Raw text → sentences of tokens. Each line is split at ., ! or ? followed by a space and a
    capital letter or digit; then each sentence into tokens (see ``_TOKEN``)."""
    sentences = []
    for line in text.splitlines():
        for part in _SENTENCE_END.split(line.strip()):
            tokens = _TOKEN.findall(part)
            if tokens:
                sentences.append(tokens)
    return sentences
