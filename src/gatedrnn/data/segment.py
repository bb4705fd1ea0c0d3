"""Raw text to sentences of tokens that keep their place in the text (character offsets), in
any language, for taggers: a token is the text's own characters, case kept, never changed.

    english     UD English EWT's conventions (don't → do n't, U.S. whole)
    japanese    MeCab with UniDic (fugashi + unidic-lite): short-unit words, what UD Japanese
                GSD's word lines are (UniDic is the dictionary its segmentation follows)
    words       any language that separates words by spaces: runs of letters and digits
                (Unicode), each other visible character a token
    auto        japanese when kana are at least a tenth of the letters, else words

    segment("Anders bor i København. Han er glad.", "words")
    # [[Token("Anders", 0, 6), ...], [Token("Han", 25, 28), ...]]
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LANGUAGES = ("auto", "english", "japanese", "words")
# A simple English tokenizer close to UD EWT's conventions (documented in the README): URLs and
# e-mail addresses stay whole (without trailing punctuation); numbers keep their inner . and ,; "don't" → do n't, "can't" →
# ca n't, "it's" → it 's (also 're 've 'll 'd 'm); abbreviations with inner periods (U.S.)
# stay whole; other punctuation characters are tokens of their own.
ENGLISH_TOKEN = re.compile(r"""
      (?:https?://|www\.)\S+?(?=[.,;:!?)\]"']*(?:\s|$))
    | [\w.+-]+@[\w-]+(?:\.[\w-]+)+
    | (?:[A-Za-z]\.){2,}
    | \d+(?:[.,:]\d+)*
    | \w+(?=n't\b) | n't\b
    | \w+(?='(?:s|re|ve|ll|d|m)\b) | '(?:s|re|ve|ll|d|m)\b
    | \w+(?:[-']\w+)*
    | \S
""", re.VERBOSE | re.IGNORECASE)
_WORDS = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]", re.UNICODE)
# a sentence ends at . ! ? (and their full-width forms) followed by space, or at 。！？ at once
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[«„“]?[^\s\"'])|(?<=[。！？])")


@dataclass(frozen=True)
class Token:
    text: str
    start: int  # offsets into the text: text[start:end] == self.text
    end: int


def choose_language(text: str) -> str:
    """"japanese" when kana are at least a tenth of the letters, else "words"."""
    letters = [c for c in text if c.isalpha()]
    kana = sum(1 for c in letters if "\u3040" <= c <= "\u30ff")
    return "japanese" if letters and kana >= 0.1 * len(letters) else "words"


def treebank_language(file_name: str, sample: str) -> str:
    """How to cut raw text for a tagger trained on a treebank: from its UD file name's language
    code (``en_ewt-ud-train.conllu``: english, ``ja_gsd-...``: japanese), else from its text."""
    code = file_name.rsplit("/", 1)[-1].split("_", 1)[0].lower()
    named = {"en": "english", "ja": "japanese"}.get(code)
    return named or choose_language(sample)


def segment(text: str, language: str = "auto") -> list[list[Token]]:
    """The sentences of ``text`` (split at each line and after sentence-final punctuation), each
    a list of tokens with their offsets into ``text``."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; choose one of {', '.join(LANGUAGES)}")
    if language == "auto":
        language = choose_language(text)
    split = _splitter(language)
    sentences = []
    for line in re.finditer(r"[^\n]+", text):
        for start, end in _sentences(line.group()):
            offset = line.start() + start
            tokens = [Token(t, offset + a, offset + b)
                      for t, a, b in split(line.group()[start:end])]
            if tokens:
                sentences.append(tokens)
    return sentences


def _sentences(line: str) -> list[tuple[int, int]]:
    """(start, end) of the line's sentences: cut after sentence-final punctuation, unless what
    follows starts with a lowercase letter ("U.S. prices", "etc. and")."""
    cuts = [0]
    for boundary in _SENTENCE_END.finditer(line):
        if not line[boundary.end():boundary.end() + 1].islower():
            cuts.append(boundary.end())
    cuts.append(len(line))
    return [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]


def _splitter(language: str):
    """A function from a sentence to its (token, start, end) triples."""
    if language == "english":
        return lambda s: [(m.group(), m.start(), m.end()) for m in ENGLISH_TOKEN.finditer(s)]
    if language == "japanese":
        return _Japanese()
    return lambda s: [(m.group(), m.start(), m.end()) for m in _WORDS.finditer(s)]


class _Japanese:
    """MeCab's words, found again in the sentence to give their offsets (MeCab's surfaces are
    the sentence's own characters, spaces left out). The text is read as written, not
    NFKC-normalised: UD Japanese keeps full-width letters and digits as they were typed."""

    def __init__(self):
        from .tokenizers import Japanese
        self.tagger = Japanese().tagger

    def __call__(self, sentence: str) -> list[tuple[str, int, int]]:
        found, position = [], 0
        for word in self.tagger(sentence):
            at = sentence.find(word.surface, position)
            if at < 0:
                raise ValueError(f"MeCab returned {word.surface!r}, which is not in the "
                                 f"sentence after offset {position}: {sentence!r}")
            found.append((word.surface, at, at + len(word.surface)))
            position = at + len(word.surface)
        return found
