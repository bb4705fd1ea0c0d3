"""Text to token ids: torchtext's ``basic_english`` tokenizer (token for token) and a Vocab."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

PAD, UNK = "<pad>", "<unk>"

# torchtext's basic_english applies these substitutions one after the other on lowercased text
# (then \s+ → " " and split). None of them can create a match for a later one except the
# removal of '"' (which could join "<br" and "/>"), so '"' goes first and the rest run as one
# alternation: same tokens, one pass instead of twelve.
_REPLACEMENTS = {"'": " '  ", ".": " . ", "<br />": " ", ",": " , ", "(": " ( ", ")": " ) ",
                 "!": " ! ", "?": " ? ", ";": " ", ":": " "}
_PATTERN = re.compile("|".join(re.escape(k) for k in _REPLACEMENTS))


def basic_english(text: str) -> list[str]:
    """Tokenise like ``torchtext.data.get_tokenizer("basic_english")`` (HTML ``<br />`` → space)."""
    text = text.lower().replace('"', "")
    return _PATTERN.sub(lambda m: _REPLACEMENTS[m.group(0)], text).split()


class Vocab:
    """Token ↔ id map with ``<pad>`` = 0 and ``<unk>`` = 1, most frequent tokens first."""

    def __init__(self, tokens: list[str]):
        if tokens[:2] != [PAD, UNK]:
            raise ValueError(f"a Vocab starts with {PAD!r}, {UNK!r}; got {tokens[:2]}")
        if len(set(tokens)) != len(tokens):
            raise ValueError("a Vocab cannot hold the same token twice")
        self.itos = list(tokens)
        self.stoi = {t: i for i, t in enumerate(tokens)}

    pad_index = 0
    unk_index = 1

    @classmethod
    def build(cls, texts: Iterable[list[str]], max_size: int | None = None,
              min_freq: int = 1) -> "Vocab":
        """From tokenised texts: tokens seen ≥ ``min_freq`` times, the ``max_size`` most frequent
        (ties broken alphabetically, as torchtext does), after the two specials."""
        if max_size is not None and max_size < 2:
            raise ValueError(f"max_size counts the specials and must be >= 2, got {max_size}")
        counts = Counter()
        for tokens in texts:
            counts.update(tokens)
        ranked = sorted((t for t, c in counts.items() if c >= min_freq and t not in (PAD, UNK)),
                        key=lambda t: (-counts[t], t))
        if max_size is not None:
            ranked = ranked[: max_size - 2]
        return cls([PAD, UNK, *ranked])

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def encode(self, tokens: list[str]) -> list[int]:
        get = self.stoi.get
        return [get(t, 1) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.itos[i] for i in ids]

    def save(self, path: str | Path) -> None:
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps({"itos": self.itos}, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | Path) -> "Vocab":
        try:
            itos = json.loads(Path(path).read_text(encoding="utf-8"))["itos"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path} is not a gatedrnn vocab file ({exc})") from exc
        return cls(itos)

    def fingerprint(self) -> str:
        """A short hash of the token list, stored in checkpoints to catch vocab mismatches."""
        return self.fingerprint_of(self.itos)

    @staticmethod
    def fingerprint_of(tokens: list[str]) -> str:
        import hashlib
        return hashlib.sha256("\n".join(tokens).encode("utf-8")).hexdigest()[:16]
