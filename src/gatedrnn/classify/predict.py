"""Predicting with a text classifier: texts in, labels and calibrated confidences out, for
every model kind alike (each kind's loading lives in a task's ``kinds/``). Sentiment
classifiers (IMDb) and the classifiers trained on one's own data share all of it."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from ..data.batching import bucket_batches, collate
from ..data.text import Vocab
from ..data.tokenizers import BasicEnglish, Tokenizer
from ..train import checkpoint
from .common import MAX_TEXT_CHARS

if TYPE_CHECKING:
    from ..models.classifier import SentimentClassifier


def encode_texts(texts: list[str], vocab: Vocab, tokenizer: Tokenizer | None = None
                 ) -> list[list[int]]:
    tokenizer = tokenizer or BasicEnglish()
    return [vocab.encode(tokenizer(t)) for t in texts]


resolve_checkpoint = checkpoint.resolve  # a training output directory means its best/


class Predictor:
    """A trained classifier with its vocabulary and tokenizer: texts in, labels and
    confidences out.

    ``temperature`` divides the logits before the softmax: the one fitted on the validation
    split at the end of training (the checkpoint's ``calibration``), or 1 for raw scores.
    """

    def __init__(self, model: SentimentClassifier, vocab: Vocab, labels: list[str],
                 source: str = "", temperature: float = 1.0, tokenizer: Tokenizer | None = None,
                 thresholds: list[float] | None = None):
        self.model = model.eval()
        self.vocab = vocab
        self.labels = labels
        self.source = source
        self.temperature = temperature
        self.tokenizer = tokenizer or BasicEnglish()
        # several labels per text: a sigmoid per class, a class is given at its threshold
        self.thresholds = thresholds
        self.multi_label = thresholds is not None

    @classmethod
    def load(cls, path: str | Path, calibrated: bool = True, task: str | None = None):
        """The text classifier at ``path`` (a training output means its best/), of whichever
        task and kind (gatedrnn.registry): a recurrent classifier gives a Predictor, an
        n-gram or document-vector model theirs, an ensemble's directory its Ensemble.
        ``task``: refuse any other task (default: any task served by /predict).
        ``calibrated=False``: raw scores (temperature 1)."""
        return load_classifier(path, calibrated, task)

    def probabilities(self, texts: list[str], batch_size: int = 64, **options) -> torch.Tensor:
        """(N, classes) probabilities: softmax(scores / temperature) (see ``scores``); with
        several labels per text, each class's own sigmoid."""
        return self._probabilities(self.scores(texts, batch_size, **options))

    def read(self, texts: list[str], batch_size: int = 64
             ) -> tuple[torch.Tensor, list[float | None]]:
        """(probabilities, known-token shares) of ``texts``, tokenized once for both."""
        encoded = self.encode(texts)
        return (self._probabilities(self._scores_of(encoded, batch_size)),
                [_known_share(ids) for ids in encoded])

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Each text's token ids (<unk> for tokens the vocabulary lacks); a text longer than
        MAX_TEXT_CHARS is cut to that length, with a warning."""
        encoded, cut = [], 0
        for text in texts:
            if not isinstance(text, str):
                raise TypeError(f"texts must be strings, got {type(text).__name__}")
            cut += len(text) > MAX_TEXT_CHARS
            encoded.append(self.vocab.encode(self.tokenizer(text[:MAX_TEXT_CHARS])))
        if cut:
            warnings.warn(f"{cut} text(s) longer than {MAX_TEXT_CHARS:,} characters were cut to "
                          "that length before prediction", stacklevel=4)
        return encoded

    def scores(self, texts: list[str], batch_size: int = 64, max_tokens: int = 32_768,
               crops: int = 1, crop_length: int = 400) -> torch.Tensor:
        """(N, classes) raw log-probabilities (logits up to a constant, before any temperature);
        texts are batched by length internally.

        ``crops`` > 1: test-time averaging — a text longer than ``crop_length`` tokens is read as
        that many evenly spaced windows of ``crop_length`` tokens (first and last included) and
        their probabilities are averaged; shorter texts are read whole.
        """
        if crops < 1 or crop_length < 1:
            raise ValueError("crops and crop_length must be >= 1")
        return self._scores_of(self.encode(texts), batch_size, max_tokens, crops, crop_length)

    def known_shares(self, texts: list[str]) -> list[float | None]:
        """Per text, the share of its tokens the vocabulary knows (None: no token at all)."""
        return [_known_share(ids) for ids in self.encode(texts)]

    def _probabilities(self, scores: torch.Tensor) -> torch.Tensor:
        if self.multi_label:
            return scores.exp()
        return calibrated_probabilities(scores, self.temperature)

    @torch.inference_mode()
    def _scores_of(self, encoded: list[list[int]], batch_size: int = 64,
                   max_tokens: int = 32_768, crops: int = 1,
                   crop_length: int = 400) -> torch.Tensor:
        windows, owners = [], []
        for position, ids in enumerate(encoded):
            for window in _crops(ids, crops, crop_length):
                windows.append(window)
                owners.append(position)
        per_window = torch.empty(len(windows), len(self.labels))
        lengths = [len(w) for w in windows]
        for indices in bucket_batches(lengths, batch_size, shuffle=False, max_tokens=max_tokens):
            batch = collate([windows[i] for i in indices], None, indices)
            per_window[indices] = self._batch_scores(batch.tokens, batch.lengths)
        if len(windows) == len(encoded):
            return per_window
        owner = torch.tensor(owners)
        total = torch.zeros(len(encoded), len(self.labels)).index_add_(0, owner,
                                                                       per_window.exp())
        return (total / torch.bincount(owner, minlength=len(encoded)).unsqueeze(1)).log()

    def _batch_scores(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if self.multi_label:
            return F.logsigmoid(self.model(tokens, lengths).float())
        return F.log_softmax(self.model(tokens, lengths).float(), dim=1)

    def predict(self, texts: list[str] | str, batch_size: int = 64,
                min_confidence: float | None = None) -> list[dict]:
        """[{"label", "confidence", "probabilities", "empty"}] per text.

        An empty or whitespace-only text still gets a prediction (from the model's bias), marked
        ``empty: True`` so a caller can tell it apart. ``min_confidence``: see ``abstain``.
        """
        return predictions(self, texts, batch_size, min_confidence)


def calibrated_probabilities(scores: torch.Tensor, temperature: float) -> torch.Tensor:
    """softmax(scores / temperature) in float32; temperature 1 gives the raw probabilities."""
    if temperature == 1.0:
        return F.softmax(scores, dim=1)
    return F.softmax(scores.double() / temperature, dim=1).float()


def load_classifier(path: str | Path, calibrated: bool = True, task: str | None = None):
    """The text classifier at ``path``: of ``task``, or of any task that /predict serves."""
    from .. import registry

    directory, config, kind = registry.open_checkpoint(path, task)
    if registry.task(kind.task).route != "predict":
        raise checkpoint.CheckpointError(
            f"{directory} is a {kind.task!r} checkpoint, not a text classifier; give a run of "
            "'gatedrnn classify train' or 'gatedrnn sentiment train'")
    with checkpoint.building(directory):
        return kind.load(directory, config, calibrated)


IMDB_LABELS = ["neg", "pos"]  # what checkpoints written before labels were stored predict


def checkpoint_labels(config: dict) -> list[str]:
    labels = config.get("labels", IMDB_LABELS)
    if not (isinstance(labels, list) and len(labels) >= 2
            and all(isinstance(label, str) for label in labels)):
        raise ValueError(f"labels must be a list of two class names or more, got {labels!r}")
    return labels


def checkpoint_temperature(config: dict) -> float:
    """The checkpoint's fitted temperature (1 when it was never calibrated)."""
    calibration = config.get("calibration") or {}
    temperature = calibration.get("temperature", 1.0) if isinstance(calibration, dict) else None
    if not (isinstance(temperature, (int, float)) and 0 < temperature < float("inf")):
        raise checkpoint.CheckpointError(
            f"config.json's calibration temperature must be a positive number, got "
            f"{temperature!r}; recalibrate with 'gatedrnn sentiment calibrate'")
    return float(temperature)


class WholeTextPredictor:
    """What the non-recurrent classifiers share: a model and the index that turns a whole
    text's tokens into its ids (crops and other reading options do not apply)."""

    def __init__(self, model, index, labels: list[str], source: str = "",
                 temperature: float = 1.0, tokenizer: Tokenizer | None = None):
        self.model = model.eval()
        self.index = index
        self.labels = labels
        self.source = source
        self.temperature = temperature
        self.tokenizer = tokenizer or BasicEnglish()

    def _tokens(self, texts: list[str]) -> list[list[str]]:
        for text in texts:
            if not isinstance(text, str):
                raise TypeError(f"texts must be strings, got {type(text).__name__}")
        return [self.tokenizer(text[:MAX_TEXT_CHARS]) for text in texts]

    def _encode(self, texts: list[str]) -> list:
        return [self.index.encode(tokens) for tokens in self._tokens(texts)]

    def probabilities(self, texts: list[str], batch_size: int = 64, **ignored) -> torch.Tensor:
        """(N, classes) probabilities (``crops`` and other reading options do not apply)."""
        return calibrated_probabilities(self.scores(texts, batch_size), self.temperature)

    def scores(self, texts: list[str], batch_size: int = 64, **ignored) -> torch.Tensor:
        """(N, classes) raw log-probabilities."""
        return self._scores_of(self._encode(texts), batch_size)

    @torch.inference_mode()
    def _scores_of(self, documents: list, batch_size: int = 64) -> torch.Tensor:
        """A model over the index's encoding (``model(*index.batch(documents))``), in
        batches."""
        out = torch.empty(len(documents), len(self.labels))
        for start in range(0, len(documents), max(1, batch_size)):
            part = documents[start:start + batch_size]
            logits = self.model(*self.index.batch(part))
            out[start:start + len(part)] = F.log_softmax(logits.float(), dim=1)
        return out

    def predict(self, texts: list[str] | str, batch_size: int = 64,
                min_confidence: float | None = None) -> list[dict]:
        return predictions(self, texts, batch_size, min_confidence)


def _known_share(ids: list[int]) -> float | None:
    return sum(i != Vocab.unk_index for i in ids) / len(ids) if ids else None


def _crops(ids: list[int], crops: int, length: int) -> list[list[int]]:
    if crops == 1 or len(ids) <= length:
        return [ids]
    last_start = len(ids) - length
    starts = sorted({round(k * last_start / (crops - 1)) for k in range(crops)})
    return [ids[s:s + length] for s in starts]


UNCERTAIN = "uncertain"


def abstain(result: dict, min_confidence: float | None) -> dict:
    """A prediction whose confidence is below ``min_confidence`` becomes ``label:
    "uncertain"``; its most likely class stays in ``best_guess`` (a confidence equal to the
    threshold is kept)."""
    if min_confidence is None:
        return result
    if not 0 <= min_confidence <= 1:
        raise ValueError(f"min_confidence must be in [0, 1], got {min_confidence}")
    if result["confidence"] >= min_confidence:
        return {**result, "uncertain": False}
    return {**result, "label": UNCERTAIN, "best_guess": result["label"], "uncertain": True}


OUT_OF_VOCABULARY = "out-of-vocabulary"
# Below this share of known tokens a text is one the model cannot read (a Japanese sentence
# given to an English model: every token unknown); its answer says so instead of a label.
MIN_KNOWN_SHARE = 0.5


def predictions(model, texts, batch_size: int,
                min_confidence: float | None = None) -> list[dict]:
    """[{\"label\", \"confidence\", \"probabilities\", \"empty\"}] of ``model`` (anything with
    ``probabilities`` and ``labels``) for each text. A model with a vocabulary also gives each
    text's ``known_tokens`` share; below MIN_KNOWN_SHARE the label is "out-of-vocabulary",
    with the most likely class in ``best_guess``."""
    if isinstance(texts, str):
        texts = [texts]
    if min_confidence is not None and not 0 <= min_confidence <= 1:
        raise ValueError(f"min_confidence must be in [0, 1], got {min_confidence}")
    if hasattr(model, "read"):  # one tokenization for both
        probabilities, shares = model.read(list(texts), batch_size)
    else:
        probabilities = model.probabilities(list(texts), batch_size)
        shares = (model.known_shares(list(texts)) if hasattr(model, "known_shares")
                  else [None] * len(texts))
    results = []
    for text, p, share in zip(texts, probabilities, shares):
        best = int(p.argmax())
        result = {"label": model.labels[best], "confidence": float(p[best]),
                  "probabilities": {l: float(v) for l, v in zip(model.labels, p)},
                  "empty": not text.strip()}
        if getattr(model, "multi_label", False):  # every class at or above its threshold
            result["labels"] = [l for l, v, t in zip(model.labels, p, model.thresholds)
                                if float(v) >= t]
        if share is not None:
            result["known_tokens"] = share
            if share < MIN_KNOWN_SHARE:
                result = {**result, "label": OUT_OF_VOCABULARY, "best_guess": result["label"],
                          "out_of_vocabulary": True}
                results.append(result)
                continue
        results.append(abstain(result, min_confidence))
    return results
