"""Part-of-speech tagging on UD treebanks end to end: encoding, training, evaluation, prediction.

    from gatedrnn.tagging import train, Tagger
    train(data="../shared/data/ud_english_ewt", out="runs/tagger")
    Tagger.load("runs/tagger").tag([["The", "cat", "sat", "."]])
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from .data import ud
from .data.batching import bucket_batches
from .data.text import PAD, UNK, Vocab
from .models.tagger import SequenceTagger, TaggerConfig
from .runinfo import environment
from .train import checkpoint
from .train.loop import FitConfig, Trainer

DEFAULT_OUT = Path("runs/tagger")
TASK = "tagger"
IGNORE = -100       # target of padded positions: cross_entropy skips it
MAX_WORD_CHARS = 30  # longer words (URLs) keep their first and last 15 characters


@dataclass
class Preset:
    description: str
    model: dict = field(default_factory=dict)
    fit: dict = field(default_factory=dict)
    lowercase: bool = False  # word embeddings for lowercased forms


PRESETS = {
    "bilstm": Preset(
        "lowercased word embedding 100 + character BiLSTM 2×100 (case kept) → BiLSTM 2×256, "
        "dropout 0.33, word dropout 0.25, UPOS and XPOS heads, label smoothing 0.1, Adam 2e-3 "
        "(β2 0.9) cosine, batch 32 sentences, 16 epochs, bfloat16 autocast, moving average of "
        "the weights (0.999) for evaluation",
        model={"word_dim": 100, "char_encoder": "lstm", "char_dim": 50, "char_hidden": 100,
               "hidden_size": 256, "num_layers": 2, "bidirectional": True, "mode": "LSTM",
               "dropout": 0.33, "word_dropout": 0.25},
        fit={"epochs": 16, "batch_size": 32, "lr": 2e-3, "adam_beta2": 0.9, "clip": 5.0,
             "scheduler": "cosine", "ema_decay": 0.999, "label_smoothing": 0.1, "bf16": True},
        lowercase=True),
    "tiny": Preset(
        "a tiny tagger for tests: word 16, char CNN 16, BiLSTM 1×32, 3 epochs",
        model={"word_dim": 16, "char_encoder": "cnn", "char_dim": 8, "char_hidden": 16,
               "hidden_size": 32, "num_layers": 1, "dropout": 0.0, "word_dropout": 0.0},
        fit={"epochs": 3, "batch_size": 8, "lr": 1e-2, "clip": 5.0}),
}


# ---- encoding -------------------------------------------------------------------------------


class TaggerVocab:
    """Words (exact forms seen in training), characters, and the UPOS and XPOS tag sets."""

    def __init__(self, words: list[str], chars: list[str], upos: list[str], xpos: list[str],
                 lowercase: bool = False):
        self.words = Vocab(words)
        self.lowercase = lowercase  # word embeddings for lowercased forms (characters keep case)
        self.chars = Vocab(chars)
        self.upos = list(upos)
        self.xpos = list(xpos)
        self.upos_index = {t: i for i, t in enumerate(self.upos)}
        self.xpos_index = {t: i for i, t in enumerate(self.xpos)}
        self._char_cache: dict[str, list[int]] = {}

    @classmethod
    def build(cls, sentences: list[ud.Sentence], lowercase: bool = False) -> "TaggerVocab":
        forms = Counter(f for s in sentences for f in s.forms)
        chars = Counter(c for form in forms for c in form)
        keys = Counter()
        for form, n in forms.items():
            keys[form.lower() if lowercase else form] += n
        words = sorted(keys, key=lambda w: (-keys[w], w))
        upos = sorted({t for s in sentences for t in s.upos})
        xpos = sorted({t for s in sentences for t in s.xpos} - {ud.NO_TAG})
        return cls([PAD, UNK, *words], [PAD, UNK, *sorted(chars, key=lambda c: (-chars[c], c))],
                   upos, xpos, lowercase)

    def word_ids(self, forms: list[str]) -> list[int]:
        return self.words.encode([f.lower() for f in forms] if self.lowercase else forms)

    def char_ids(self, form: str) -> list[int]:
        ids = self._char_cache.get(form)
        if ids is None:
            cut = form if len(form) <= MAX_WORD_CHARS else form[:15] + form[-15:]
            ids = self.chars.encode(list(cut)) or [self.chars.unk_index]
            self._char_cache[form] = ids
        return ids

    def to_dict(self) -> dict:
        return {"chars": self.chars.itos, "upos": self.upos, "xpos": self.xpos,
                "lowercase": self.lowercase}

    def fingerprint(self) -> str:
        return self.words.fingerprint()


@dataclass
class TaggedData:
    """Sentences as word ids, with their forms (for characters) and tag ids (IGNORE if unknown)."""

    sequences: list[list[int]]
    forms: list[list[str]]
    upos: list[list[int]]
    xpos: list[list[int]]

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
              [IGNORE] * len(s) for s in sentences])


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
    form_index = torch.zeros(shape, dtype=torch.long)
    form_rows: dict[str, int] = {"": 0}  # row 0: padding positions point here
    for b, (ids, forms, u, x) in enumerate(rows):
        n = len(ids)
        if n:
            words[b, :n] = torch.tensor(ids)
            upos[b, :n] = torch.tensor(u)
            xpos[b, :n] = torch.tensor(x)
            form_index[b, :n] = torch.tensor([form_rows.setdefault(f, len(form_rows))
                                              for f in forms])
    char_lists = [vocab.char_ids(form) if form else [0] for form in form_rows]
    char_lengths = torch.tensor([len(c) for c in char_lists])
    chars = torch.zeros(len(char_lists), int(char_lengths.max()), dtype=torch.long)
    for row, ids in enumerate(char_lists):
        chars[row, : len(ids)] = torch.tensor(ids)
    lengths = torch.tensor([max(1, len(r[0])) for r in rows])
    return TaggingBatch(words, lengths, chars, char_lengths, form_index, upos, xpos, list(indices))


class TaggingTask:
    """The Trainer's view of tagging: batches of sentences, loss = UPOS + XPOS cross-entropy,
    accuracy = UPOS accuracy over real tokens."""

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
        upos_logits, xpos_logits = model(*batch.inputs(device))
        upos = batch.upos.to(device)
        loss = _tag_loss(upos_logits, upos, self.label_smoothing)
        if xpos_logits is not None:
            loss = loss + _tag_loss(xpos_logits, batch.xpos.to(device), self.label_smoothing)
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


# ---- training -------------------------------------------------------------------------------


def train(data=None, preset: str = "bilstm", out: str | Path = DEFAULT_OUT, *, seed: int = 0,
          resume: bool = False, overrides: dict | None = None,
          model_overrides: dict | None = None, limit: int | None = None,
          show_progress: bool = True, log=print) -> dict:
    """Train a tagger on the treebank's train split, selecting on dev; returns the summary.

    ``data`` is the folder of the .conllu files, or None for the cached/downloaded release.
    ``limit`` keeps only the first that many training sentences (quick trials).
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    chosen = PRESETS[preset]
    if (Path(out) / "config.json").is_file():
        raise ValueError(f"{out} holds a tagger ensemble; train a single tagger into another "
                         "--out (or add --members to train the ensemble again)")
    fit_config = FitConfig(**{**chosen.fit, "seed": seed, **(overrides or {})})
    torch.manual_seed(seed)
    started = time.perf_counter()
    treebank = ud.load(data, show_progress=show_progress)
    train_sentences = treebank.train[:limit] if limit else treebank.train
    vocab = TaggerVocab.build(train_sentences, lowercase=chosen.lowercase)
    train_set, dev_set = encode(train_sentences, vocab), encode(treebank.dev, vocab)
    log(f"data: {len(train_set)} train / {len(dev_set)} dev sentences from {treebank.source}; "
        f"{len(vocab.words)} words, {len(vocab.chars)} characters, {len(vocab.upos)} UPOS, "
        f"{len(vocab.xpos)} XPOS ({time.perf_counter() - started:.1f} s)")
    model_config = TaggerConfig(vocab_size=len(vocab.words), num_chars=len(vocab.chars),
                                num_upos=len(vocab.upos), num_xpos=len(vocab.xpos),
                                **{**chosen.model, **(model_overrides or {})})
    model = SequenceTagger(model_config)
    if model_config.word_dropout_alpha > 0:
        counts = Counter(i for sentence in train_set.sequences for i in sentence)
        model.set_word_counts(torch.tensor([counts.get(i, 0) for i in range(len(vocab.words))]))
    checkpoint_config = {
        "task": TASK, "model": model_config.to_dict(), "preset": preset,
        "fit": asdict(fit_config), "tags": vocab.to_dict(),
        "vocab_fingerprint": vocab.fingerprint(), "treebank": treebank.source,
        "environment": environment(seed=seed),
    }
    trainer = Trainer(model, fit_config, train_set, dev_set, out, checkpoint_config,
                      vocab.words.itos, show_progress=show_progress, log=log,
                      task=TaggingTask(vocab, fit_config.label_smoothing))
    if resume:
        if trainer.resume():
            log(f"resumed from {Path(out) / 'last'} after epoch {trainer.epoch}")
        else:
            log(f"nothing to resume in {out}; starting fresh")
    summary = trainer.fit()
    summary["train_seconds"] = time.perf_counter() - started
    summary["params"] = sum(p.numel() for p in model.parameters())
    summary["encoder_params"] = sum(p.numel() for p in model.encoder.parameters())
    summary["train_tokens_per_epoch"] = sum(train_set.lengths)
    return summary


def train_ensemble(data=None, preset: str = "bilstm", out: str | Path = DEFAULT_OUT, *,
                   members: int = 2, seed: int = 0, jobs: int | None = None,
                   resume: bool = False, overrides: dict | None = None,
                   model_overrides: dict | None = None, limit: int | None = None,
                   show_progress: bool = True, log=print) -> dict:
    """Train ``members`` taggers (seeds ``seed``, ``seed + 1``, ...) into OUT/member-1, ... and
    write OUT/config.json naming them: loading OUT gives their :class:`TaggerEnsemble`.

    ``jobs`` members train at once (default: one per core, up to ``members``), each in its own
    process with an equal share of the cores: recurrent layers at these sizes use two cores
    poorly (EWT tagger, 40 training steps: two one-thread runs side by side 2 × 3,690 tokens/s,
    one two-thread run 4,670).
    Progress: the first member's bar (rate, ETA) and every member's epoch lines, on stderr.
    """
    import concurrent.futures
    import multiprocessing
    import os

    if members < 1:
        raise ValueError(f"members must be >= 1, got {members}")
    out = Path(out)
    if checkpoint.resolve(out) != out:
        raise ValueError(f"{out} holds a single tagger ({out / 'best'}); write the ensemble "
                         "to another --out")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    jobs = max(1, min(members, jobs or cores or 1))
    threads = max(1, (cores or 1) // jobs)
    started = time.perf_counter()
    seeds = [seed + k for k in range(members)]
    names = [f"member-{k + 1}" for k in range(members)]
    log(f"training {members} taggers ({jobs} at a time, {threads} thread(s) each) into {out}")
    pool = concurrent.futures.ProcessPoolExecutor(
        max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))
    try:
        futures = [pool.submit(_train_member, name, data, preset, out / name, s, threads, resume,
                               overrides, model_overrides, limit, show_progress and k == 0)
                   for k, (name, s) in enumerate(zip(names, seeds))]
        summaries = [f.result() for f in futures]
    except KeyboardInterrupt:
        pool.shutdown(wait=True, cancel_futures=True)  # let the members save their progress
        raise
    pool.shutdown()
    treebank = ud.load(data, show_progress=False)
    ensemble = TaggerEnsemble.load([out / name for name in names])
    dev = evaluate(ensemble, treebank.dev)["upos_accuracy"]
    manifest = {"format": checkpoint.FORMAT, "version": checkpoint.VERSION, "task": TASK,
                "ensemble": names, "preset": preset, "seeds": seeds,
                "members_dev_upos_accuracy": [s["best_valid_accuracy"] for s in summaries],
                "dev_upos_accuracy": dev}
    path = out / "config.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    log(f"ensemble of {members}: dev UPOS {dev:.4f} (members "
        + ", ".join(f"{s['best_valid_accuracy']:.4f}" for s in summaries) + ")")
    return {"ensemble": names, "members": summaries, "best_valid_accuracy": dev,
            "train_seconds": time.perf_counter() - started,
            "params": sum(s["params"] for s in summaries), "jobs": jobs, "threads": threads}


def _train_member(name, data, preset, out, seed, threads, resume, overrides, model_overrides,
                  limit, show_progress) -> dict:
    import sys

    torch.set_num_threads(threads)
    return train(data, preset, out, seed=seed, resume=resume, overrides=overrides,
                 model_overrides=model_overrides, limit=limit, show_progress=show_progress,
                 log=lambda m: print(f"[{name}] {m}", file=sys.stderr, flush=True))


# ---- loading, tagging, evaluation -----------------------------------------------------------


class Tagger:
    """A trained tagger: token lists in, UPOS and XPOS tags out."""

    def __init__(self, model: SequenceTagger, vocab: TaggerVocab, source: str = "",
                 device: str = "cpu"):
        self.model = model.eval().to(device)
        self.vocab = vocab
        self.source = source
        self.device = device

    @classmethod
    def load(cls, path: str | Path = DEFAULT_OUT, device: str = "cpu") -> "Tagger":
        """A checkpoint (or training output) directory; an ensemble's directory (``gatedrnn
        tagger train --members N``) gives its :class:`TaggerEnsemble`."""
        directory, config = checkpoint.open_for_task(
            path, TASK, "a tagger",
            f"train one with 'gatedrnn tagger train --data DIR' (it writes {DEFAULT_OUT}/best)")
        if "ensemble" in config:
            return TaggerEnsemble.load([directory / name for name in config["ensemble"]], device)
        tags = config["tags"]
        vocab = TaggerVocab(checkpoint.load_vocab_tokens(directory), tags["chars"],
                            tags["upos"], tags["xpos"], tags.get("lowercase", False))
        model_config = TaggerConfig.from_dict(config["model"])
        checkpoint.check_vocab(directory, config, vocab.fingerprint(), model_config.vocab_size,
                               len(vocab.words), "words")
        model = checkpoint.load_into(SequenceTagger(model_config), directory)
        return cls(model, vocab, str(directory), device)

    @torch.inference_mode()
    def probabilities(self, sentences: list[list[str]], batch_size: int = 128,
                      max_tokens: int = 8192) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Per sentence, the UPOS (n, U) and XPOS (n, X) tag probabilities of its n tokens
        (X = 0 for a tagger without an XPOS head)."""
        data = encode([ud.Sentence(list(s), [], []) for s in sentences], self.vocab)
        upos: list[torch.Tensor] = [torch.empty(0, len(self.vocab.upos))] * len(data)
        xpos: list[torch.Tensor] = [torch.empty(0, 0)] * len(data)
        for indices in bucket_batches(data.lengths, batch_size, shuffle=False,
                                      max_tokens=max_tokens):
            batch = collate_sentences(data, indices, self.vocab)
            upos_logits, xpos_logits = self.model(*batch.inputs(self.device))
            u = upos_logits.float().softmax(-1).cpu()
            x = xpos_logits.float().softmax(-1).cpu() if xpos_logits is not None else None
            for row, i in enumerate(indices):
                n = len(data.sequences[i])
                upos[i] = u[row, :n]
                xpos[i] = x[row, :n] if x is not None else torch.empty(n, 0)
        return upos, xpos

    def predict_ids(self, sentences: list[list[str]],
                    batch_size: int = 128) -> tuple[list[list[int]], list[list[int]]]:
        """Most probable UPOS and XPOS ids of every token (XPOS lists empty without a head)."""
        upos, xpos = self.probabilities(sentences, batch_size)
        return ([u.argmax(-1).tolist() for u in upos],
                [x.argmax(-1).tolist() if x.shape[1] else [] for x in xpos])

    def tag(self, sentences: list[list[str]], batch_size: int = 128) -> list[dict]:
        """[{"tokens", "upos", "xpos"}] for each token list (an empty list gets empty tags)."""
        for s in sentences:
            if isinstance(s, str) or not all(isinstance(t, str) and t for t in s):
                raise TypeError("tag() takes a list of sentences, each a list of non-empty "
                                "token strings; use tokenize() for raw text")
        upos, xpos = self.predict_ids(sentences, batch_size)
        return [{"tokens": list(s), "upos": [self.vocab.upos[i] for i in u],
                 "xpos": [self.vocab.xpos[i] for i in x] if x else [ud.NO_TAG] * len(s)}
                for s, u, x in zip(sentences, upos, xpos)]


class TaggerEnsemble(Tagger):
    """Several taggers trained for the same tag sets; their probabilities are averaged.

    Each member reads the tokens with its own vocabulary; ``vocab`` (for the unseen-word
    statistics of :func:`evaluate`) is the first member's.
    """

    def __init__(self, members: list[Tagger]):
        if not members:
            raise ValueError("an ensemble needs at least one tagger")
        first = members[0]
        for member in members[1:]:
            for kind in ("upos", "xpos"):
                if getattr(member.vocab, kind) != getattr(first.vocab, kind):
                    raise ValueError(
                        f"{member.source} and {first.source} predict different {kind.upper()} "
                        f"tag sets; an ensemble needs taggers trained on the same treebank")
        self.members = list(members)
        self.vocab = first.vocab
        self.source = " + ".join(m.source for m in members)
        self.device = first.device

    @classmethod
    def load(cls, paths, device: str = "cpu") -> "TaggerEnsemble":
        return cls([Tagger.load(p, device) for p in paths])

    def probabilities(self, sentences, batch_size=128, max_tokens=8192):
        upos, xpos = self.members[0].probabilities(sentences, batch_size, max_tokens)
        for member in self.members[1:]:
            u, x = member.probabilities(sentences, batch_size, max_tokens)
            upos = [a + b for a, b in zip(upos, u)]
            xpos = [a + b for a, b in zip(xpos, x)]
        k = len(self.members)
        return [u / k for u in upos], [x / k for x in xpos]


def load_taggers(paths, device: str = "cpu") -> Tagger:
    """One checkpoint: its Tagger; several: their TaggerEnsemble."""
    paths = list(paths)
    return Tagger.load(paths[0], device) if len(paths) == 1 else TaggerEnsemble.load(paths, device)


def evaluate(tagger: Tagger, sentences: list[ud.Sentence]) -> dict:
    """UPOS and XPOS accuracy overall and on words unseen in training; per-UPOS-tag scores."""
    if not sentences:
        raise ValueError("nothing to evaluate: no sentences")
    forms = [s.forms for s in sentences]
    upos, xpos = tagger.predict_ids(forms)
    words_of = [tagger.vocab.word_ids(f) for f in forms]
    counts = Counter()
    per_tag = {t: Counter() for t in sorted({t for s in sentences for t in s.upos})}
    for sentence, words, pu, px in zip(sentences, words_of, upos, xpos):
        for position, gold in enumerate(sentence.upos):
            predicted = tagger.vocab.upos[pu[position]]
            unseen = words[position] == tagger.vocab.words.unk_index
            right_u = predicted == gold
            gold_x = sentence.xpos[position]
            right_x = bool(px) and tagger.vocab.xpos[px[position]] == gold_x
            counts.update({"tokens": 1, "upos": right_u, "xpos": right_x,
                           "oov": unseen, "oov_upos": unseen and right_u,
                           "oov_xpos": unseen and right_x})
            per_tag[gold]["support"] += 1
            per_tag[gold]["tp"] += right_u
            per_tag.setdefault(predicted, Counter())["predicted"] += 1
    scores = {}
    for tag, c in sorted(per_tag.items()):
        precision = c["tp"] / c["predicted"] if c["predicted"] else 0.0
        recall = c["tp"] / c["support"] if c["support"] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[tag] = {"precision": precision, "recall": recall, "f1": f1,
                       "support": c["support"]}
    tokens, oov = counts["tokens"], counts["oov"]
    return {"sentences": len(sentences), "tokens": tokens,
            "upos_accuracy": counts["upos"] / tokens, "xpos_accuracy": counts["xpos"] / tokens,
            "oov_tokens": oov, "oov_rate": oov / tokens,
            "oov_upos_accuracy": counts["oov_upos"] / oov if oov else None,
            "oov_xpos_accuracy": counts["oov_xpos"] / oov if oov else None,
            "per_upos": scores, "checkpoint": tagger.source}


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


def load(path: str | Path = DEFAULT_OUT) -> Tagger:
    return Tagger.load(path)


__all__ = ["PRESETS", "Tagger", "TaggerEnsemble", "TaggerVocab", "TaggingTask", "evaluate", "load",
           "load_taggers", "tokenize", "train", "train_ensemble"]
