"""Tokenizers for text in any language, chosen by name and stored with the checkpoint:

    word        lowercased words and punctuation, in any script that separates words by
                spaces (Unicode letters and digits; what IMDb's basic_english does, beyond ASCII)
    subword     a SentencePiece unigram model trained on the training texts (any language,
                spaces or not); its model file travels inside the checkpoint
    japanese    MeCab with UniDic (fugashi + unidic-lite): short-unit words, as UD Japanese
    auto        chooses from the training texts' script, and says why

    tokenizer = make_tokenizer("auto", texts)       # chose japanese: 48% of letters are kana
    tokenizer("この映画はとても面白かった。")          # ['この', '映画', 'は', 'とても', ...]
    config, files = tokenizer.config(), tokenizer.files()      # into the checkpoint
    same = load_tokenizer(config, checkpoint_directory)

``basic_english`` (the tokenizer every IMDb checkpoint names) stays what it was.
"""

from __future__ import annotations

import io
import re
import unicodedata
from pathlib import Path

from .text import basic_english

NAMES = ("auto", "word", "subword", "japanese")
SUBWORD_FILE = "tokenizer.model"
_WORD = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]", re.UNICODE)


class TokenizerError(ValueError):
    """A tokenizer that cannot be made or loaded; the message says what to do."""


class Tokenizer:
    """Text → tokens; ``config()`` and ``files()`` are what a checkpoint keeps of it."""

    name = ""

    def __call__(self, text: str) -> list[str]:
        raise NotImplementedError

    def config(self) -> dict:
        return {"kind": self.name}

    def files(self) -> dict[str, bytes]:
        return {}


class BasicEnglish(Tokenizer):
    """The IMDb checkpoints' tokenizer (data.text.basic_english), kept as it was."""

    name = "basic_english"

    def __call__(self, text: str) -> list[str]:
        return basic_english(text)


class Words(Tokenizer):
    """Lowercased words (letters and digits of any script, with inner apostrophes) and single
    punctuation marks; HTML line breaks are spaces."""

    name = "word"

    def __call__(self, text: str) -> list[str]:
        text = unicodedata.normalize("NFKC", text.replace("<br />", " ")).lower()
        return _WORD.findall(text)


class SubWords(Tokenizer):
    """SentencePiece pieces (unigram model)."""

    name = "subword"

    def __init__(self, model: bytes):
        spm = _require("sentencepiece", "subword")
        self.model = model
        self.processor = spm.SentencePieceProcessor(model_proto=model)

    @classmethod
    def train(cls, texts: list[str], vocab_size: int = 8000) -> "SubWords":
        """A unigram model of at most ``vocab_size`` pieces learnt from ``texts`` (fewer when
        the texts cannot fill it)."""
        spm = _require("sentencepiece", "subword")
        lines = [t.replace("\n", " ") for t in texts if t.strip()]
        if not lines:
            raise TokenizerError("a subword model needs training texts; there are none")
        written = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(lines), model_writer=written, vocab_size=vocab_size,
            model_type="unigram", character_coverage=0.9995, hard_vocab_limit=False,
            input_sentence_size=200_000, shuffle_input_sentence=True, num_threads=2,
            minloglevel=2)
        return cls(written.getvalue())

    def __call__(self, text: str) -> list[str]:
        return self.processor.encode(unicodedata.normalize("NFKC", text), out_type=str)

    def config(self) -> dict:
        return {"kind": self.name, "file": SUBWORD_FILE, "pieces": self.processor.get_piece_size()}

    def files(self) -> dict[str, bytes]:
        return {SUBWORD_FILE: self.model}


class Japanese(Tokenizer):
    """MeCab (fugashi) with UniDic: the surface forms of its short-unit words."""

    name = "japanese"

    def __init__(self):
        fugashi = _require("fugashi", "japanese", "fugashi unidic-lite")
        try:
            self.tagger = fugashi.Tagger()
        except RuntimeError as exc:
            raise TokenizerError(f"MeCab found no dictionary ({exc}); pip install "
                                 "unidic-lite") from None

    def __call__(self, text: str) -> list[str]:
        text = unicodedata.normalize("NFKC", text)
        return [word.surface for word in self.tagger(text)]


def make_tokenizer(name: str, texts: list[str] | None = None, *, vocab_size: int = 8000,
                   log=print) -> Tokenizer:
    """The tokenizer ``name`` (see NAMES); "subword" learns its model from ``texts`` and
    "auto" chooses from them (saying what it chose and why)."""
    if name == "auto":
        name, why = choose_tokenizer(texts or [])
        log(f"tokenizer: {name} ({why}; --tokenizer chooses another)")
    if name == "word":
        return Words()
    if name == "basic_english":
        return BasicEnglish()
    if name == "japanese":
        return Japanese()
    if name == "subword":
        return SubWords.train(texts or [], vocab_size)
    raise TokenizerError(f"unknown tokenizer {name!r}; choose one of {', '.join(NAMES)}")


def choose_tokenizer(texts: list[str], sample: int = 2000) -> tuple[str, str]:
    """(name, reason) from the script of ``texts``: kana → japanese; other scripts written
    without spaces (Chinese, Thai, Lao, Khmer, Myanmar) → subword; else word."""
    counts = {"kana": 0, "unspaced": 0, "letters": 0}
    for text in texts[:sample]:
        for char in text[:2000]:
            if not char.isalpha():
                continue
            counts["letters"] += 1
            code = ord(char)
            if 0x3040 <= code <= 0x30FF or 0x31F0 <= code <= 0x31FF or 0xFF66 <= code <= 0xFF9D:
                counts["kana"] += 1
            elif (0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x0E00 <= code <= 0x0EFF
                  or 0x1780 <= code <= 0x17FF or 0x1000 <= code <= 0x109F):
                counts["unspaced"] += 1
    letters = max(1, counts["letters"])
    if counts["kana"] / letters > 0.05:
        return "japanese", f"{counts['kana'] / letters:.0%} of the letters are kana"
    if (counts["kana"] + counts["unspaced"]) / letters > 0.3:
        return "subword", (f"{counts['unspaced'] / letters:.0%} of the letters are of scripts "
                           "written without spaces")
    return "word", "the texts separate words by spaces"


def load_tokenizer(config, directory: str | Path | None = None) -> Tokenizer:
    """The tokenizer a checkpoint's config names (a name, or a dict with its kind and file)."""
    if config is None or isinstance(config, str):
        name = config or "basic_english"
        if name == "subword":
            raise TokenizerError("a subword tokenizer needs its model file; the checkpoint "
                                 "names none")
        return make_tokenizer(name)
    kind = config.get("kind")
    if kind == "subword":
        if directory is None:
            raise TokenizerError("a subword tokenizer is read from its checkpoint directory")
        path = Path(directory) / config.get("file", SUBWORD_FILE)
        if not path.exists():
            raise TokenizerError(f"{path} is missing: the checkpoint's subword model; copy the "
                                 "whole checkpoint directory again")
        return SubWords(path.read_bytes())
    return make_tokenizer(kind)


def _require(module: str, tokenizer: str, install: str | None = None):
    try:
        return __import__(module)
    except ImportError:
        raise TokenizerError(f"the {tokenizer} tokenizer needs {module}: pip install "
                             f"{install or module}") from None
