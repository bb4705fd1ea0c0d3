"""Sentences of IOB2 tags to tensors: the entity tagger's vocabulary (words, characters,
tags), encoded data, batches, and the task the Trainer runs (the CRF's loss; entity F1 on
validation)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data.columns import TaggedSentence
from ..data.iob2 import spans
from ..tagging.encoding import FormVocab, collate_forms
from ..train.loop import TrainingTask


class EntityVocab(FormVocab):
    """Words, characters, and the tags in id order ("O" first, then each type's B- and I-)."""

    def __init__(self, words: list[str], chars: list[str], tags: list[str],
                 lowercase: bool = False):
        super().__init__(words, chars, lowercase)
        self.tags = list(tags)
        self.tag_index = {t: i for i, t in enumerate(self.tags)}

    @classmethod
    def build(cls, sentences: list[TaggedSentence], lowercase: bool = False) -> "EntityVocab":
        words, chars = cls.count_forms(sentences, lowercase)
        types = sorted({t[2:] for s in sentences for t in s.tags if t != "O"})
        # every type gets both its tags, so that a type seen only as B- can still be continued
        return cls(words, chars, ["O", *(f"{p}-{k}" for k in types for p in "BI")], lowercase)

    @property
    def types(self) -> list[str]:
        return [t[2:] for t in self.tags if t.startswith("B-")]

    def to_dict(self) -> dict:
        return {"chars": self.chars.itos, "tags": self.tags, "lowercase": self.lowercase}


@dataclass
class EntityData:
    """Sentences as word ids, with their forms (for characters) and their gold tags."""

    sequences: list[list[int]]
    forms: list[list[str]]
    tags: list[list[str]]   # as written: a tag training never saw stays itself

    def __len__(self) -> int:
        return len(self.sequences)

    @property
    def lengths(self) -> list[int]:
        return [len(s) for s in self.sequences]


def encode(sentences: list[TaggedSentence], vocab: EntityVocab) -> EntityData:
    return EntityData([vocab.word_ids(s.forms) for s in sentences],
                      [list(s.forms) for s in sentences],
                      [list(s.tags) if s.tags else ["O"] * len(s) for s in sentences])


def unknown_tags(sentences: list[TaggedSentence], vocab: EntityVocab) -> dict[str, int]:
    """Tags of ``sentences`` that ``vocab`` (training) never saw, with their token counts."""
    counts: dict[str, int] = {}
    for sentence in sentences:
        for tag in sentence.tags:
            if tag not in vocab.tag_index:
                counts[tag] = counts.get(tag, 0) + 1
    return counts


@dataclass
class EntityBatch:
    words: torch.Tensor         # (B, T) word ids, 0-padded
    lengths: torch.Tensor       # (B,)
    chars: torch.Tensor         # (W, L) characters of the W distinct forms
    char_lengths: torch.Tensor  # (W,)
    form_index: torch.Tensor    # (B, T)
    tags: torch.Tensor          # (B, T) tag ids ("O" for padding and for unknown tags)
    gold: list[list[str]]       # the tags as written
    indices: list[int]

    @property
    def num_tokens(self) -> int:
        return int(self.lengths.sum())

    def inputs(self, device: str = "cpu") -> tuple:
        return (self.words.to(device), self.lengths.to(device), self.chars.to(device),
                self.char_lengths.to(device), self.form_index.to(device))


def collate_entities(data: EntityData, indices: list[int], vocab: EntityVocab,
                     max_length: int | None = None) -> EntityBatch:
    """Pad the chosen sentences into one batch; each distinct form's characters appear once."""
    rows = [(data.sequences[i][:max_length], data.forms[i][:max_length],
             data.tags[i][:max_length]) for i in indices]
    longest = max(1, max(len(r[0]) for r in rows))
    words = torch.zeros(len(rows), longest, dtype=torch.long)
    tags = torch.zeros(len(rows), longest, dtype=torch.long)  # 0 is "O"
    for b, (ids, _, gold) in enumerate(rows):
        if ids:
            words[b, : len(ids)] = torch.tensor(ids)
            tags[b, : len(ids)] = torch.tensor([vocab.tag_index.get(t, 0) for t in gold])
    chars, char_lengths, form_index = collate_forms([r[1] for r in rows], vocab, longest)
    lengths = torch.tensor([max(1, len(r[0])) for r in rows])
    return EntityBatch(words, lengths, chars, char_lengths, form_index, tags,
                       [r[2] for r in rows], list(indices))


class EntityTask(TrainingTask):
    """The Trainer's view of entity tagging. Training: the CRF's negative log-likelihood, mean
    over sentences. Validation: entities are decoded, and the "accuracy" the Trainer sums and
    selects on is micro entity F1, written as 2·TP / (predicted + gold) entities, a ratio of
    sums over batches: summed batch by batch it is exactly the set's F1."""

    reports_train_accuracy = False  # decoding every training batch would cost a Viterbi each
    score_name = "entity F1"

    def __init__(self, vocab: EntityVocab):
        self.vocab = vocab

    def collate(self, data: EntityData, indices: list[int], max_length: int | None = None,
                random_crop: bool = False):
        if random_crop:
            raise ValueError("random_crop would cut entities away from their context; it is "
                             "for classification")
        return collate_entities(data, indices, self.vocab, max_length)

    def loss(self, model, batch: EntityBatch, device: str = "cpu"):
        emissions = model(*batch.inputs(device))
        lengths = batch.lengths.to(device)
        loss = model.nll(emissions, batch.tags.to(device), lengths)
        if model.training:
            return loss, 0, len(batch.indices)
        predicted = [[self.vocab.tags[k] for k in row] for row in model.decode(emissions, lengths)]
        matched = found = wanted = 0
        for gold, guess in zip(batch.gold, predicted):
            gold_spans, guessed = set(spans(gold)), set(spans(guess))
            matched += len(gold_spans & guessed)
            found += len(guessed)
            wanted += len(gold_spans)
        return loss, 2 * matched, found + wanted
