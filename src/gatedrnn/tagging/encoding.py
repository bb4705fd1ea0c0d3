"""Sentences to tensors: the tagger's vocabularies (words, characters, tags), encoded
data, batches, and the task the Trainer runs (loss and accuracy per tag set)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..data import ud
from ..data.text import PAD, UNK, Vocab
from ..train.loop import TrainingTask
from .common import DEFAULT_TAGS, IGNORE, MAX_WORD_CHARS

# ---- encoding -------------------------------------------------------------------------------


class FormVocab:
    """Words (exact forms seen in training, or lowercased) and characters: what a tagger's
    word reader (``models.tagger.ReadsWords``) needs of a vocabulary."""

    def __init__(self, words: list[str], chars: list[str], lowercase: bool = False):
        self.words = Vocab(words)
        self.lowercase = lowercase  # word embeddings for lowercased forms (characters keep case)
        self.chars = Vocab(chars)
        self._char_cache: dict[str, list[int]] = {}

    @staticmethod
    def count_forms(sentences, lowercase: bool = False) -> tuple[list[str], list[str]]:
        """(words, characters) of the sentences, most frequent first, each after PAD and UNK."""
        forms = Counter(f for s in sentences for f in s.forms)
        chars = Counter(c for form in forms for c in form)
        keys = Counter()
        for form, n in forms.items():
            keys[form.lower() if lowercase else form] += n
        words = sorted(keys, key=lambda w: (-keys[w], w))
        return [PAD, UNK, *words], [PAD, UNK, *sorted(chars, key=lambda c: (-chars[c], c))]

    def word_ids(self, forms: list[str]) -> list[int]:
        return self.words.encode([f.lower() for f in forms] if self.lowercase else forms)

    def char_ids(self, form: str) -> list[int]:
        ids = self._char_cache.get(form)
        if ids is None:
            cut = form if len(form) <= MAX_WORD_CHARS else form[:15] + form[-15:]
            ids = self.chars.encode(list(cut)) or [self.chars.unk_index]
            self._char_cache[form] = ids
        return ids

    def fingerprint(self) -> str:
        return self.words.fingerprint()


class TaggerVocab(FormVocab):
    """Words, characters, and the UPOS and XPOS tag sets."""

    def __init__(self, words: list[str], chars: list[str], upos: list[str], xpos: list[str],
                 lowercase: bool = False, feats: list[str] | None = None):
        super().__init__(words, chars, lowercase)
        self.upos = list(upos)
        self.xpos = list(xpos)
        self.feats = list(feats or [])  # whole FEATS values ("Number=Sing"), "_" among them
        self.upos_index = {t: i for i, t in enumerate(self.upos)}
        self.xpos_index = {t: i for i, t in enumerate(self.xpos)}
        self.feats_index = {t: i for i, t in enumerate(self.feats)}

    @classmethod
    def build(cls, sentences: list[ud.Sentence], lowercase: bool = False,
              tags: tuple[str, ...] = DEFAULT_TAGS) -> "TaggerVocab":
        """The vocabulary of ``sentences``, with the tag sets ``tags`` names (UPOS always)."""
        words, chars = cls.count_forms(sentences, lowercase)
        upos = sorted({t for s in sentences for t in s.upos})
        xpos = (sorted({t for s in sentences for t in s.xpos} - {ud.NO_TAG})
                if "xpos" in tags else [])
        feats = sorted({t for s in sentences for t in s.feats}) if "feats" in tags else []
        return cls(words, chars, upos, xpos, lowercase, feats)

    def with_words(self, words: list[str]) -> "TaggerVocab":
        """This vocabulary with ``words`` (lowercased if it is) added after its own."""
        known = set(self.words.itos)
        extra = list(dict.fromkeys(w.lower() if self.lowercase else w for w in words))
        return TaggerVocab(self.words.itos + [w for w in extra if w not in known],
                           self.chars.itos, self.upos, self.xpos, self.lowercase, self.feats)

    def to_dict(self) -> dict:
        return {"chars": self.chars.itos, "upos": self.upos, "xpos": self.xpos,
                "lowercase": self.lowercase, **({"feats": self.feats} if self.feats else {})}


@dataclass
class TaggedData:
    """Sentences as word ids, with their forms (for characters) and tag ids (IGNORE if unknown)."""

    sequences: list[list[int]]
    forms: list[list[str]]
    upos: list[list[int]]
    xpos: list[list[int]]
    feats: list[list[int]] | None = None  # None: no FEATS head to train

    def __len__(self) -> int:
        return len(self.sequences)

    @property
    def lengths(self) -> list[int]:
        return [len(s) for s in self.sequences]


def encode(sentences: list[ud.Sentence], vocab: TaggerVocab) -> TaggedData:
    return TaggedData(
        sequences=[vocab.word_ids(s.forms) for s in sentences],
        forms=[list(s.forms) for s in sentences],
        upos=[[vocab.upos_index.get(t, IGNORE) for t in s.upos] if s.upos else
              [IGNORE] * len(s) for s in sentences],
        xpos=[[vocab.xpos_index.get(t, IGNORE) for t in s.xpos] if s.xpos else
              [IGNORE] * len(s) for s in sentences],
        feats=([[vocab.feats_index.get(t, IGNORE) for t in s.feats] if s.feats else
                [IGNORE] * len(s) for s in sentences] if vocab.feats else None))


@dataclass
class TaggingBatch:
    words: torch.Tensor         # (B, T) word ids, 0-padded
    lengths: torch.Tensor       # (B,)
    chars: torch.Tensor         # (W, L) characters of the W distinct forms
    char_lengths: torch.Tensor  # (W,)
    form_index: torch.Tensor    # (B, T) row of each token's form in ``chars``
    upos: torch.Tensor          # (B, T) targets, IGNORE at padding
    xpos: torch.Tensor
    indices: list[int]
    feats: torch.Tensor | None = None

    @property
    def num_tokens(self) -> int:
        return int(self.lengths.sum())

    def inputs(self, device: str = "cpu") -> tuple:
        return (self.words.to(device), self.lengths.to(device), self.chars.to(device),
                self.char_lengths.to(device), self.form_index.to(device))


def collate_sentences(data: TaggedData, indices: list[int], vocab: TaggerVocab,
                      max_length: int | None = None) -> TaggingBatch:
    """Pad the chosen sentences into one batch; each distinct form's characters appear once."""
    rows = [(data.sequences[i][:max_length], data.forms[i][:max_length],
             data.upos[i][:max_length], data.xpos[i][:max_length]) for i in indices]
    longest = max(1, max(len(r[0]) for r in rows))
    shape = (len(rows), longest)
    words = torch.zeros(shape, dtype=torch.long)
    upos = torch.full(shape, IGNORE, dtype=torch.long)
    xpos = torch.full(shape, IGNORE, dtype=torch.long)
    feats = torch.full(shape, IGNORE, dtype=torch.long) if data.feats is not None else None
    for b, (ids, forms, u, x) in enumerate(rows):
        n = len(ids)
        if n:
            words[b, :n] = torch.tensor(ids)
            upos[b, :n] = torch.tensor(u)
            xpos[b, :n] = torch.tensor(x)
            if feats is not None:
                feats[b, :n] = torch.tensor(data.feats[indices[b]][:max_length])
    chars, char_lengths, form_index = collate_forms([r[1] for r in rows], vocab, longest)
    lengths = torch.tensor([max(1, len(r[0])) for r in rows])
    return TaggingBatch(words, lengths, chars, char_lengths, form_index, upos, xpos, list(indices),
                        feats)


def collate_forms(sentences: list[list[str]], vocab: FormVocab, longest: int
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(chars (W, L), char_lengths (W,), form_index (B, longest)): the characters of each
    distinct form of the sentences once, and each token's row among them (padding: row 0)."""
    form_index = torch.zeros(len(sentences), longest, dtype=torch.long)
    form_rows: dict[str, int] = {"": 0}  # row 0: padding positions point here
    for b, forms in enumerate(sentences):
        if forms:
            form_index[b, : len(forms)] = torch.tensor(
                [form_rows.setdefault(f, len(form_rows)) for f in forms])
    char_lists = [vocab.char_ids(form) if form else [0] for form in form_rows]
    char_lengths = torch.tensor([len(c) for c in char_lists])
    chars = torch.zeros(len(char_lists), int(char_lengths.max()), dtype=torch.long)
    for row, ids in enumerate(char_lists):
        chars[row, : len(ids)] = torch.tensor(ids)
    return chars, char_lengths, form_index


class TaggingTask(TrainingTask):
    """The Trainer's view of tagging: batches of sentences, loss = the sum of the heads' (UPOS,
    XPOS, FEATS) cross-entropies, accuracy = UPOS accuracy over real tokens."""

    def __init__(self, vocab: TaggerVocab, label_smoothing: float = 0.0):
        self.vocab = vocab
        self.label_smoothing = label_smoothing

    def collate(self, data: TaggedData, indices: list[int], max_length: int | None = None,
                random_crop: bool = False):
        if random_crop:
            raise ValueError("random_crop would cut sentences away from their tags' context; "
                             "it is for classification")
        return collate_sentences(data, indices, self.vocab, max_length)

    def loss(self, model, batch: TaggingBatch, device: str = "cpu"):
        upos_logits, xpos_logits, feats_logits = model(*batch.inputs(device))
        upos = batch.upos.to(device)
        loss = _tag_loss(upos_logits, upos, self.label_smoothing)
        if xpos_logits is not None:
            loss = loss + _tag_loss(xpos_logits, batch.xpos.to(device), self.label_smoothing)
        if feats_logits is not None and batch.feats is not None:
            loss = loss + _tag_loss(feats_logits, batch.feats.to(device), self.label_smoothing)
        real = upos != IGNORE
        correct = (upos_logits.argmax(-1)[real] == upos[real]).sum().item()
        return loss, correct, int(real.sum())


def _tag_loss(logits: torch.Tensor, targets: torch.Tensor,
              label_smoothing: float = 0.0) -> torch.Tensor:
    """Mean cross-entropy over the tokens that have a tag. A batch with none (sentences whose
    XPOS column is "_", say) contributes zero, not the NaN of an empty mean, which would stop
    training as diverged."""
    if not bool((targets != IGNORE).any()):
        return logits.sum() * 0.0
    return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=IGNORE,
                           label_smoothing=label_smoothing)
