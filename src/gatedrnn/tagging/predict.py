"""Loading a tagger (or an ensemble of them) and tagging with it: tags and calibrated
confidences."""

from __future__ import annotations

from pathlib import Path

import torch

from ..data import ud
from ..data.batching import bucket_batches
from ..models.tagger import SequenceTagger
from ..train import checkpoint
from .common import DEFAULT_OUT, TAG_SETS, TASK
from .encoding import TaggerVocab, collate_sentences, encode

# ---- loading, tagging, evaluation -----------------------------------------------------------


class Tagger:
    """A trained tagger: token lists in, UPOS and XPOS tags (and their confidences) out.

    ``temperature`` ({"upos": T, "xpos": T}) divides each head's logits before the softmax:
    fitted on dev at the end of training (the checkpoint's ``calibration``), or 1 for raw scores.
    ``language``: how ``tag_text`` cuts raw text into tokens, stored at training (checkpoints
    from before it read English).
    """

    def __init__(self, model: SequenceTagger, vocab: TaggerVocab, source: str = "",
                 device: str = "cpu", temperature: dict | None = None,
                 language: str = "english"):
        self.model = model.eval().to(device)
        self.vocab = vocab
        self.source = source
        self.language = language  # how raw text is cut into tokens (``tagging.text.tokenize``)
        self.device = device
        self.temperature = {"upos": 1.0, "xpos": 1.0, **(temperature or {})}

    @classmethod
    def load(cls, path: str | Path = DEFAULT_OUT, device: str = "cpu",
             calibrated: bool = True) -> "Tagger":
        """A checkpoint (or training output) directory; an ensemble's directory (``gatedrnn
        tagger train --members N``) gives its :class:`TaggerEnsemble`. ``calibrated=False``:
        raw scores (temperature 1)."""
        from ..registry import load
        return load(path, TASK, calibrated, device=device)

    @torch.inference_mode()
    def head_scores(self, sentences: list[list[str]], batch_size: int = 128,
                    max_tokens: int = 8192) -> dict[str, list[torch.Tensor]]:
        """Per head ("upos", "xpos", "feats"), per sentence, the raw (n, K) log-probabilities of
        its n tokens' tags, before any temperature (K = 0 for a head the tagger lacks)."""
        data = encode([ud.Sentence(list(s), [], []) for s in sentences], self.vocab)
        sizes = {head: len(getattr(self.vocab, head)) for head in TAG_SETS}
        result = {head: [torch.empty(0, sizes[head])] * len(data) for head in TAG_SETS}
        for indices in bucket_batches(data.lengths, batch_size, shuffle=False,
                                      max_tokens=max_tokens):
            batch = collate_sentences(data, indices, self.vocab)
            outputs = self.model(*batch.inputs(self.device))
            for head, logits in zip(TAG_SETS, outputs):
                scores = logits.float().log_softmax(-1).cpu() if logits is not None else None
                for row, i in enumerate(indices):
                    n = len(data.sequences[i])
                    result[head][i] = scores[row, :n] if scores is not None else \
                        torch.empty(n, 0)
        return result

    def scores(self, sentences: list[list[str]], batch_size: int = 128,
               max_tokens: int = 8192) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Per sentence, the raw UPOS (n, U) and XPOS (n, X) log-probabilities of its n tokens
        (before any temperature; X = 0 for a tagger without an XPOS head)."""
        heads = self.head_scores(sentences, batch_size, max_tokens)
        return heads["upos"], heads["xpos"]

    def feats_ids(self, sentences: list[list[str]], batch_size: int = 128) -> list[list[int]]:
        """The most probable FEATS id of every token (empty lists without a FEATS head)."""
        if not self.vocab.feats:
            return [[] for _ in sentences]
        return [f.argmax(-1).tolist() for f in self.head_scores(sentences, batch_size)["feats"]]

    def probabilities(self, sentences: list[list[str]], batch_size: int = 128,
                      max_tokens: int = 8192) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Per sentence, the UPOS (n, U) and XPOS (n, X) tag probabilities of its n tokens:
        softmax(scores / temperature)."""
        upos, xpos = self.scores(sentences, batch_size, max_tokens)
        return _softmax_each(upos, self.temperature["upos"]), \
            _softmax_each(xpos, self.temperature["xpos"])

    def predict_ids(self, sentences: list[list[str]],
                    batch_size: int = 128) -> tuple[list[list[int]], list[list[int]]]:
        """Most probable UPOS and XPOS ids of every token (XPOS lists empty without a head)."""
        upos, xpos = self.probabilities(sentences, batch_size)
        return ([u.argmax(-1).tolist() for u in upos],
                [x.argmax(-1).tolist() if x.shape[1] else [] for x in xpos])

    def _tagging(self, sentences, batch_size):
        """What ``tag`` reads, from one pass of the network: the UPOS and XPOS probabilities
        (softmax(scores / T)) and the FEATS ids."""
        heads = self.head_scores(sentences, batch_size)
        return (_softmax_each(heads["upos"], self.temperature["upos"]),
                _softmax_each(heads["xpos"], self.temperature["xpos"]),
                [f.argmax(-1).tolist() if f.shape[1] else [] for f in heads["feats"]])

    def collate_tokens(self, tokens: list[str]):
        """One sentence's tokens as the network's batch of one."""
        return collate_sentences(encode([ud.Sentence(list(tokens), [], [])], self.vocab), [0],
                                 self.vocab)

    def tag_names(self, tagged: dict) -> tuple[list[str], list[int]]:
        """The UPOS tags of ``tag()``'s answer for one sentence, and their ids."""
        return tagged["upos"], [self.vocab.upos_index[t] for t in tagged["upos"]]

    def tag_text(self, text: str, batch_size: int = 128) -> list[dict]:
        """``tag`` of raw text, cut into sentences and tokens as the tagger's language is."""
        from .text import tokenize
        return self.tag(tokenize(text, self.language), batch_size)

    def tag(self, sentences: list[list[str]], batch_size: int = 128) -> list[dict]:
        """[{"tokens", "upos", "xpos", "upos_confidence"}] for each token list (an empty list
        gets empty tags), and "feats" from a tagger with a FEATS head; ``upos_confidence`` is
        each UPOS tag's (calibrated) probability."""
        for s in sentences:
            if isinstance(s, str) or not all(isinstance(t, str) and t for t in s):
                raise TypeError("tag() takes a list of sentences, each a list of non-empty "
                                "token strings; use tokenize() for raw text")
        upos, xpos, feats = self._tagging(sentences, batch_size)
        results = []
        for s, u, x, f in zip(sentences, upos, xpos, feats):
            confidence, best = u.max(-1)
            results.append({
                "tokens": list(s), "upos": [self.vocab.upos[i] for i in best.tolist()],
                "xpos": ([self.vocab.xpos[i] for i in x.argmax(-1).tolist()]
                         if x.shape[1] else [ud.NO_TAG] * len(s)),
                "upos_confidence": [round(float(c), 6) for c in confidence],
                **({"feats": [self.vocab.feats[i] for i in f]} if self.vocab.feats else {})})
        return results


def _softmax_each(scores: list[torch.Tensor], temperature: float) -> list[torch.Tensor]:
    if temperature == 1.0:
        return [s.softmax(-1) for s in scores]
    return [(s.double() / temperature).softmax(-1).float() for s in scores]


def checkpoint_temperatures(config: dict) -> dict:
    """The checkpoint's fitted UPOS and XPOS temperatures (1 where never calibrated)."""
    record = config.get("calibration") or {}
    temperatures = {}
    for head in ("upos", "xpos"):
        value = (record.get(head) or {}).get("temperature", 1.0)
        if not (isinstance(value, (int, float)) and 0 < value < float("inf")):
            raise checkpoint.CheckpointError(
                f"config.json's {head} calibration temperature must be a positive number, got "
                f"{value!r}; recalibrate with 'gatedrnn tagger calibrate'")
        temperatures[head] = float(value)
    return temperatures


class TaggerEnsemble(Tagger):
    """Several taggers trained for the same tag sets; their probabilities are averaged.

    Each member reads the tokens with its own vocabulary; ``vocab`` (for the unseen-word
    statistics of :func:`evaluate`) is the first member's. Calibrated as a whole
    (``temperature`` given, as training an ensemble fits it): softmax(log of the members' raw
    averaged probabilities / T); otherwise the members' own calibrated probabilities are
    averaged.
    """

    def __init__(self, members: list[Tagger], temperature: dict | None = None):
        if not members:
            raise ValueError("an ensemble needs at least one tagger")
        first = members[0]
        for member in members[1:]:
            for kind in TAG_SETS:
                if getattr(member.vocab, kind) != getattr(first.vocab, kind):
                    raise ValueError(
                        f"{member.source} and {first.source} predict different {kind.upper()} "
                        f"tag sets; an ensemble needs taggers trained on the same treebank")
        self.members = list(members)
        self.vocab = first.vocab
        self.language = first.language
        self.source = " + ".join(m.source for m in members)
        self.device = first.device
        self.whole = temperature is not None
        self.temperature = {"upos": 1.0, "xpos": 1.0, **(temperature or {})}

    @classmethod
    def load(cls, paths, device: str = "cpu", calibrated: bool = True) -> "TaggerEnsemble":
        return cls([Tagger.load(p, device, calibrated) for p in paths])

    def _averaged(self, sentences, batch_size, max_tokens, raw: bool):
        read = (lambda m: [[t.exp() for t in h] for h in m.scores(sentences, batch_size,
                                                                  max_tokens)]) if raw \
            else (lambda m: m.probabilities(sentences, batch_size, max_tokens))
        upos, xpos = read(self.members[0])
        for member in self.members[1:]:
            u, x = read(member)
            upos = [a + b for a, b in zip(upos, u)]
            xpos = [a + b for a, b in zip(xpos, x)]
        k = len(self.members)
        return [u / k for u in upos], [x / k for x in xpos]

    def _tagging(self, sentences, batch_size):
        upos, xpos = self.probabilities(sentences, batch_size)
        return upos, xpos, self.feats_ids(sentences, batch_size)

    def feats_ids(self, sentences, batch_size=128):
        """The FEATS of the members' raw probabilities averaged."""
        if not self.vocab.feats:
            return [[] for _ in sentences]
        total = None
        for member in self.members:
            probabilities = [f.exp() for f in member.head_scores(sentences, batch_size)["feats"]]
            total = probabilities if total is None else [a + b for a, b in
                                                         zip(total, probabilities)]
        return [t.argmax(-1).tolist() for t in total]

    def scores(self, sentences, batch_size=128, max_tokens=8192):
        """The log of the members' raw probabilities averaged."""
        upos, xpos = self._averaged(sentences, batch_size, max_tokens, raw=True)
        return ([u.clamp_min(1e-38).log() for u in upos],
                [x.clamp_min(1e-38).log() for x in xpos])

    def probabilities(self, sentences, batch_size=128, max_tokens=8192):
        if not self.whole:
            return self._averaged(sentences, batch_size, max_tokens, raw=False)
        return super().probabilities(sentences, batch_size, max_tokens)


def load_taggers(paths, device: str = "cpu", calibrated: bool = True) -> Tagger:
    """One checkpoint: its Tagger; several: their TaggerEnsemble."""
    paths = list(paths)
    return (Tagger.load(paths[0], device, calibrated) if len(paths) == 1
            else TaggerEnsemble.load(paths, device, calibrated))


def gold_scores(tagger: Tagger, sentences: list[ud.Sentence], raw: bool = True
                ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """{"upos": (scores, gold), "xpos": ...}: the (tokens, tags) scores of each head over every
    token whose gold tag the tagger knows, and those gold tag ids, from one pass: raw
    log-probabilities, or with ``raw=False`` the tagger's (calibrated) probabilities."""
    forms = [s.forms for s in sentences]
    upos, xpos = tagger.scores(forms) if raw else tagger.probabilities(forms)
    result = {}
    for head, predicted in (("upos", upos), ("xpos", xpos)):
        index = getattr(tagger.vocab, f"{head}_index")
        rows, gold = [], []
        for sentence, scores in zip(sentences, predicted):
            tags = getattr(sentence, head)
            if not tags or scores.shape[1] == 0:
                continue
            keep = [i for i, t in enumerate(tags) if t in index]
            if keep:
                rows.append(scores[keep])
                gold += [index[tags[i]] for i in keep]
        width = len(getattr(tagger.vocab, head))
        result[head] = (torch.cat(rows) if rows else torch.empty(0, width),
                        torch.tensor(gold, dtype=torch.long))
    return result




def load(path: str | Path = DEFAULT_OUT) -> Tagger:
    return Tagger.load(path)
