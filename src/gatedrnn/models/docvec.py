"""Document vectors from the words and n-grams a review contains (PV-DBOW over n-grams,
"DV-ngram": Le & Mikolov 2014; Li et al. 2016), with a logistic regression on top.

A review's vector d is trained to predict each of its tokens (its words, and its 2..max_n-grams
treated as more words) against ``negative`` noise tokens drawn from the unigram^0.75
distribution: maximise log σ(d·u_w) + Σ_noise log σ(−d·u_n), u the tokens' output vectors.
gensim trains d and u together on the unlabelled and training reviews; a new review's d is
inferred by the same objective with u held fixed (gensim's infer_vector), and a logistic
regression reads the label off d. Its errors differ from the n-gram counts' and the recurrent
models' (a dense code learnt from 75,000 reviews), which is what an ensemble member is for.

A checkpoint stores u and the tokens' training counts in safetensors (no pickle); loading
rebuilds gensim's inference tables from them (the same subsampling and noise distribution the
vectors were trained with).
"""

from __future__ import annotations

import copy
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from .config import StoredConfig

MAX_DOCUMENT_TOKENS = 10_000  # gensim reads at most this many tokens of a document


@dataclass
class DocVectorConfig(StoredConfig):
    """Everything needed to rebuild a DocVectorModel (stored as config.json)."""

    KIND = "document-vector classifier"

    vocab_size: int
    dim: int = 100
    max_n: int = 2
    negative: int = 5
    sample: float = 1e-4      # subsampling threshold the vectors were trained with
    epochs: int = 10          # inference passes over a review
    alpha: float = 0.025      # inference learning rate, falling linearly to min_alpha
    min_alpha: float = 0.0001
    num_classes: int = 2

    def __post_init__(self):
        for name in ("vocab_size", "dim", "max_n", "negative", "epochs"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not 0 < self.min_alpha <= self.alpha:
            raise ValueError(f"need 0 < min_alpha <= alpha, got {self.min_alpha}, {self.alpha}")
        if not 0 <= self.sample < 1:
            raise ValueError(f"sample must be in [0, 1), got {self.sample}")
        if self.num_classes != 2:
            raise ValueError(f"a document-vector classifier is binary: num_classes must be 2, "
                             f"got {self.num_classes}")


def dbow_tokens(tokens: list[str], max_n: int) -> list[str]:
    """The review's words followed by its 2..max_n-grams (words joined by a space), every
    occurrence kept: each is one prediction the document vector learns from."""
    found = list(tokens)
    for n in range(2, max_n + 1):
        found += map(" ".join, zip(*(tokens[k:] for k in range(n))))
    return found[:MAX_DOCUMENT_TOKENS]


def _require_gensim():
    try:
        from gensim.models.doc2vec import Doc2Vec
    except ImportError:
        raise ImportError("document vectors need gensim: pip install 'gatedrnn[vectors]' "
                          "(or pip install gensim)") from None
    return Doc2Vec


def _sample_ints(counts: np.ndarray, sample: float) -> np.ndarray:
    """gensim's subsampling thresholds (Word2Vec.prepare_vocab): a token of count v is read
    with probability min(1, (sqrt(v / t) + 1) · t / v), t = sample × all counts, stored as
    that fraction of 2^32 − 1."""
    v = counts.astype(np.float64)
    threshold = sample * v.sum() if sample else v.sum()
    keep = np.minimum((np.sqrt(v / threshold) + 1) * (threshold / v), 1.0)
    return (keep * (2 ** 32 - 1)).astype(np.uint32)


def _noise_table(counts: np.ndarray, exponent: float, domain: int = 2 ** 31 - 1) -> np.ndarray:
    """gensim's cumulative noise table (Word2Vec.make_cum_table): count^exponent, summed in
    order as gensim sums it, scaled to ``domain``."""
    cumulative = np.cumsum(counts.astype(np.float64) ** float(exponent))
    return np.round(cumulative / cumulative[-1] * domain).astype(np.uint32)


class DocVectorModel(nn.Module):
    """Token output vectors and counts (what inference needs), and the classifier."""

    def __init__(self, config: DocVectorConfig):
        super().__init__()
        self.config = config
        self.register_buffer("output", torch.zeros(config.vocab_size, config.dim))
        self.register_buffer("counts", torch.ones(config.vocab_size, dtype=torch.long))
        self.classifier = nn.Linear(config.dim, config.num_classes)
        self._engine = None

    def _load_from_state_dict(self, *args, **kwargs):
        super()._load_from_state_dict(*args, **kwargs)
        self._engine = None  # new tables: rebuild gensim's

    @torch.no_grad()
    def set_tables(self, output: Tensor, counts: Tensor) -> None:
        self.output.copy_(output)
        self.counts.copy_(counts)
        self._engine = None

    def engine(self):
        """A gensim Doc2Vec holding this model's tables, for infer_vector: the vocabulary in
        the training run's order, its subsampling thresholds and its noise table computed from
        the stored counts as gensim computes them, the output vectors copied in. (gensim's
        build_vocab_from_freq would take ~25 s for 388,000 tokens against 2.4 s, and it
        reorders tokens of equal count, so the noise draws would not be the training run's.)"""
        if self._engine is None:
            Doc2Vec = _require_gensim()
            c = self.config
            engine = Doc2Vec(dm=0, vector_size=c.dim, negative=c.negative, hs=0, min_count=1,
                             sample=c.sample, epochs=c.epochs, alpha=c.alpha,
                             min_alpha=c.min_alpha, workers=1)
            counts = self.counts.numpy()
            wv = engine.wv
            wv.index_to_key = [str(i) for i in range(c.vocab_size)]
            wv.key_to_index = {key: i for i, key in enumerate(wv.index_to_key)}
            wv.allocate_vecattrs(attrs=["count", "sample_int"], types=[np.int64, np.uint32])
            wv.expandos["count"][:] = counts
            wv.expandos["sample_int"][:] = _sample_ints(counts, c.sample)
            # inference reads neither the word vectors nor their locks (lazily zeroed pages)
            wv.vectors = np.zeros((c.vocab_size, c.dim), dtype=np.float32)
            wv.vectors_lockf = np.ones(1, dtype=np.float32)
            engine.cum_table = _noise_table(counts, engine.ns_exponent)
            engine.syn1neg = self.output.numpy().copy()
            self._engine = engine
        return self._engine

    @torch.no_grad()
    def infer(self, documents: list[list[int]], workers: int | None = None) -> Tensor:
        """(N, dim) vectors of documents given as token ids: gensim's infer_vector (a start
        seeded by the document, then ``epochs`` SGD passes over its tokens with the output
        vectors fixed), its random draws seeded by the document too, so a review's vector
        does not depend on what else is inferred, in what order, or on how many threads
        (``workers``, default torch's thread count: gensim's inner loop runs without the GIL)
        share the work, beyond the last bits BLAS may round differently."""
        engine = self.engine()
        vectors = np.zeros((len(documents), self.config.dim), dtype=np.float32)

        def infer_rows(rows):
            own = copy.copy(engine)  # the same tables, its own random state
            for row in rows:
                ids = documents[row]
                own.random = np.random.RandomState(
                    zlib.crc32(np.asarray(ids, dtype=np.int64).tobytes()))
                vectors[row] = _infer_vector(own, [str(i) for i in ids])

        workers = max(1, min(workers or torch.get_num_threads(), len(documents)))
        if workers == 1:
            infer_rows(range(len(documents)))
        else:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(infer_rows, [range(k, len(documents), workers)
                                           for k in range(workers)]))
        return torch.from_numpy(vectors)

    def forward(self, vectors: Tensor) -> Tensor:
        """(B, 2) logits from (B, dim) document vectors."""
        return self.classifier(vectors)


def _infer_vector(engine, words: list[str]) -> np.ndarray:
    """gensim's Doc2Vec.infer_vector (PV-DBOW), started from a vector drawn from
    ``engine.random``: gensim draws the start from Python's hash() of the text, which is
    salted anew in every process (PYTHONHASHSEED), so the same review got another vector,
    and another prediction, after each restart."""
    from gensim.models.doc2vec_inner import train_document_dbow

    dim = engine.dv.vector_size
    vector = ((engine.random.random_sample(dim) - 0.5) / dim).astype(np.float32).reshape(1, dim)
    locks = np.ones(1, dtype=np.float32)
    work = np.zeros(engine.layer1_size, dtype=np.float32)
    alpha, epochs = engine.alpha, engine.epochs
    alpha_delta = (alpha - engine.min_alpha) / max(epochs - 1, 1)
    for _ in range(epochs):
        train_document_dbow(engine, words, [0], alpha, work, learn_words=False,
                            learn_hidden=False, doctag_vectors=vector, doctags_lockf=locks)
        alpha -= alpha_delta
    return vector[0]


def train_dbow(documents: list[list[str]], *, dim: int = 100, negative: int = 5,
               min_count: int = 2, sample: float = 1e-4, epochs: int = 10,
               max_vocab: int | None = None, workers: int = 2, seed: int = 0, progress=None):
    """gensim PV-DBOW on token lists: (tokens, output vectors, counts, the training documents'
    own vectors). ``progress(epoch, seconds)`` after each epoch.
    (gensim with several workers is not bitwise reproducible: threads share the weights.)"""
    Doc2Vec = _require_gensim()
    from gensim.models.doc2vec import TaggedDocument

    from ..data.vectors import epoch_reporter

    tagged = [TaggedDocument(words, [i]) for i, words in enumerate(documents)]
    model = Doc2Vec(tagged, dm=0, vector_size=dim, negative=negative, hs=0,
                    min_count=min_count, sample=sample, epochs=epochs, workers=workers,
                    seed=seed, max_final_vocab=max_vocab, callbacks=[epoch_reporter(progress)])
    wv = model.wv
    return (list(wv.index_to_key), torch.from_numpy(np.asarray(model.syn1neg, np.float32)),
            torch.from_numpy(np.asarray(wv.expandos["count"], dtype=np.int64)),
            torch.from_numpy(np.asarray(model.dv.vectors, np.float32)))


def fit_classifier(features: Tensor, targets: Tensor, C: float) -> dict[str, Tensor]:
    """The logistic regression (scikit-learn, L2 with strength 1/C) of (N, 2) target
    probabilities on (N, dim) document vectors, as DocVectorModel.classifier's state dict.

    A soft target p stands for two weighted rows, label 1 with weight p and label 0 with
    1 − p: the regression then minimises the cross-entropy with p, as a distilled student does.
    """
    from sklearn.linear_model import LogisticRegression

    positive = targets[:, 1].double().numpy()
    x = features.double().numpy()
    # (a hard label's other row has weight 0 and leaves the objective as it is)
    labels = np.concatenate([np.ones(len(x), np.int64), np.zeros(len(x), np.int64)])
    regression = LogisticRegression(C=C, max_iter=2000).fit(
        np.concatenate([x, x]), labels, sample_weight=np.concatenate([positive, 1 - positive]))
    # binary: class 1's logit is w·d + b, class 0's is 0
    weight = torch.from_numpy(regression.coef_[0]).float()
    return {"weight": torch.stack([torch.zeros_like(weight), weight]),
            "bias": torch.tensor([0.0, float(regression.intercept_[0])])}


class DocVectorIndex:
    """token → row of the output vectors; unknown tokens are skipped."""

    def __init__(self, tokens: list[str], max_n: int):
        self.tokens = tokens
        self.max_n = max_n
        self.index = {t: i for i, t in enumerate(tokens)}
        if len(self.index) != len(tokens):
            raise ValueError("a document-vector vocabulary cannot hold the same token twice")

    def encode(self, words: list[str]) -> list[int]:
        found = map(self.index.get, dbow_tokens(words, self.max_n))
        return [i for i in found if i is not None]
