"""Loading an entity tagger and finding entities with it: in token lists (tags and spans of
tokens) or in raw text (spans with character offsets)."""

from __future__ import annotations

from pathlib import Path

import torch

from ..data.batching import bucket_batches
from ..data.columns import TaggedSentence
from ..data.iob2 import spans
from ..data.segment import LANGUAGES, segment
from ..models.crf_tagger import CRFTagger
from .common import DEFAULT_OUT, TASK
from .encoding import EntityVocab, collate_entities, encode


class EntityRecognizer:
    """A trained entity tagger. Tags come from the CRF's best sequence (Viterbi), so they always
    form well-made IOB2 entities. An entity's ``confidence`` is the least, over its tokens, of
    the CRF's marginal probability (forward-backward) of the tag the entity gives the token.

    ``language`` is how raw text is cut into tokens (``data/segment.py``): by default what
    training's text looked like."""

    def __init__(self, model: CRFTagger, vocab: EntityVocab, source: str = "",
                 device: str = "cpu", language: str = "auto"):
        if language not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, got {language!r}")
        self.model = model.eval().to(device)
        self.vocab = vocab
        self.source = source
        self.device = device
        self.language = language

    @classmethod
    def load(cls, path: str | Path = DEFAULT_OUT, device: str = "cpu") -> "EntityRecognizer":
        """A checkpoint (or training output) directory."""
        from ..registry import load
        return load(path, TASK, device=device)

    @torch.no_grad()  # not inference_mode: the marginals are a gradient (forward-backward)
    def decode(self, sentences: list[list[str]], batch_size: int = 64, max_tokens: int = 8192,
               marginals: bool = True) -> tuple[list[list[int]], list[torch.Tensor]]:
        """Per sentence, the best tag ids and the (n, K) marginal probabilities of its tags
        (with ``marginals=False``, empty: forward-backward costs a pass more)."""
        data = encode([TaggedSentence(list(s), []) for s in sentences], self.vocab)
        best: list[list[int]] = [[] for _ in sentences]
        probabilities_of = [torch.empty(0, len(self.vocab.tags)) for _ in sentences]
        for indices in bucket_batches(data.lengths, batch_size, shuffle=False,
                                      max_tokens=max_tokens):
            indices = [i for i in indices if data.lengths[i]]
            if not indices:
                continue
            batch = collate_entities(data, indices, self.vocab)
            emissions = self.model(*batch.inputs(self.device)).float()
            lengths = batch.lengths.to(self.device)
            paths = self.model.decode(emissions, lengths)
            probabilities = (self.model.crf.marginals(emissions, lengths).cpu() if marginals
                             else None)
            for row, i in enumerate(indices):
                best[i] = paths[row]
                if probabilities is not None:
                    probabilities_of[i] = probabilities[row, : data.lengths[i]]
        return best, probabilities_of

    def collate_tokens(self, tokens: list[str]):
        """One sentence's tokens as the network's batch of one."""
        return collate_entities(encode([TaggedSentence(list(tokens), [])], self.vocab), [0],
                                self.vocab)

    def tag_names(self, tagged: dict) -> tuple[list[str], list[int]]:
        """The IOB2 tags of ``tag()``'s answer for one sentence, and their ids."""
        return tagged["tags"], [self.vocab.tag_index[t] for t in tagged["tags"]]

    def predict_tags(self, sentences: list[list[str]], batch_size: int = 64) -> list[list[str]]:
        """The IOB2 tags of every token."""
        best, _ = self.decode(sentences, batch_size, marginals=False)
        return [[self.vocab.tags[k] for k in path] for path in best]

    def tag(self, sentences: list[list[str]], batch_size: int = 64) -> list[dict]:
        """[{"tokens", "tags", "entities": [{"type", "text", "start", "end", "confidence"}]}]
        for each token list; ``start`` and ``end`` count tokens (end exclusive)."""
        for s in sentences:
            if isinstance(s, str) or not all(isinstance(t, str) and t for t in s):
                raise TypeError("tag() takes a list of sentences, each a list of non-empty "
                                "token strings; use entities() for raw text")
        best, marginals = self.decode(sentences, batch_size)
        results = []
        for tokens, path, probability in zip(sentences, best, marginals):
            tags = [self.vocab.tags[k] for k in path]
            found = []
            for span in spans(tags):
                chosen = probability[torch.arange(span.start, span.end),
                                     torch.tensor(path[span.start:span.end])]
                found.append({"type": span.type, "text": " ".join(tokens[span.start:span.end]),
                              "start": span.start, "end": span.end,
                              "confidence": round(float(chosen.min()), 6)})
            results.append({"tokens": list(tokens), "tags": tags, "entities": found})
        return results

    def entities(self, texts: list[str], batch_size: int = 64) -> list[dict]:
        """[{"text", "entities": [{"type", "text", "start", "end", "confidence"}]}] for each
        raw text: ``start`` and ``end`` are character offsets (text[start:end] is the entity)."""
        if isinstance(texts, str):
            raise TypeError("entities() takes a list of texts")
        cut = [segment(text, self.language) for text in texts]
        flat = [sentence for sentences in cut for sentence in sentences]
        tagged = iter(self.tag([[t.text for t in s] for s in flat], batch_size))
        results = []
        for text, sentences in zip(texts, cut):
            found = []
            for sentence in sentences:
                for entity in next(tagged)["entities"]:
                    first, last = sentence[entity["start"]], sentence[entity["end"] - 1]
                    found.append({"type": entity["type"], "text": text[first.start:last.end],
                                  "start": first.start, "end": last.end,
                                  "confidence": entity["confidence"]})
            results.append({"text": text, "entities": found})
        return results


def to_conll(tagged: list[dict]) -> str:
    """``tag()``'s answer as CoNLL columns: a token and its tag a line, a blank line after
    each sentence."""
    return "".join("".join(f"{t}\t{g}\n" for t, g in zip(s["tokens"], s["tags"])) + "\n"
                   for s in tagged)
