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
from .tagging_presets import PRESETS, Preset  # noqa: F401 (public here too)
from .train import checkpoint
from .train.loop import FitConfig, Trainer

DEFAULT_OUT = Path("runs/tagger")
TASK = "tagger"
IGNORE = -100       # target of padded positions: cross_entropy skips it
MAX_WORD_CHARS = 30  # longer words (URLs) keep their first and last 15 characters


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
    if trainer.dist.main:  # under torchrun, the process that wrote best/ calibrates it
        summary["calibration"] = calibrate_checkpoint(Path(out) / "best", treebank.dev, log)
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
    calibration = calibrate_checkpoint(out, treebank.dev, log)  # the ensemble as a whole
    log(f"ensemble of {members}: dev UPOS {dev:.4f} (members "
        + ", ".join(f"{s['best_valid_accuracy']:.4f}" for s in summaries) + ")")
    return {"ensemble": names, "members": summaries, "best_valid_accuracy": dev,
            "calibration": calibration,
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
    """A trained tagger: token lists in, UPOS and XPOS tags (and their confidences) out.

    ``temperature`` ({"upos": T, "xpos": T}) divides each head's logits before the softmax:
    fitted on dev at the end of training (the checkpoint's ``calibration``), or 1 for raw scores.
    """

    def __init__(self, model: SequenceTagger, vocab: TaggerVocab, source: str = "",
                 device: str = "cpu", temperature: dict | None = None):
        self.model = model.eval().to(device)
        self.vocab = vocab
        self.source = source
        self.device = device
        self.temperature = {"upos": 1.0, "xpos": 1.0, **(temperature or {})}

    @classmethod
    def load(cls, path: str | Path = DEFAULT_OUT, device: str = "cpu",
             calibrated: bool = True) -> "Tagger":
        """A checkpoint (or training output) directory; an ensemble's directory (``gatedrnn
        tagger train --members N``) gives its :class:`TaggerEnsemble`. ``calibrated=False``:
        raw scores (temperature 1)."""
        directory, config = checkpoint.open_for_task(
            path, TASK, "a tagger",
            f"train one with 'gatedrnn tagger train --data DIR' (it writes {DEFAULT_OUT}/best)")
        temperature = _temperatures(config) if calibrated else None
        if "ensemble" in config:
            members = [Tagger.load(directory / name, device, calibrated=False)
                       for name in config["ensemble"]]
            # calibrated as a whole when training fitted the ensemble's own temperature
            return TaggerEnsemble(members, temperature if config.get("calibration") else None)
        tags = config["tags"]
        vocab = TaggerVocab(checkpoint.load_vocab_tokens(directory), tags["chars"],
                            tags["upos"], tags["xpos"], tags.get("lowercase", False))
        model_config = TaggerConfig.from_dict(config["model"])
        checkpoint.check_vocab(directory, config, vocab.fingerprint(), model_config.vocab_size,
                               len(vocab.words), "words")
        model = checkpoint.load_into(SequenceTagger(model_config), directory)
        return cls(model, vocab, str(directory), device, temperature)

    @torch.inference_mode()
    def scores(self, sentences: list[list[str]], batch_size: int = 128,
               max_tokens: int = 8192) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Per sentence, the raw UPOS (n, U) and XPOS (n, X) log-probabilities of its n tokens
        (before any temperature; X = 0 for a tagger without an XPOS head)."""
        data = encode([ud.Sentence(list(s), [], []) for s in sentences], self.vocab)
        upos: list[torch.Tensor] = [torch.empty(0, len(self.vocab.upos))] * len(data)
        xpos: list[torch.Tensor] = [torch.empty(0, 0)] * len(data)
        for indices in bucket_batches(data.lengths, batch_size, shuffle=False,
                                      max_tokens=max_tokens):
            batch = collate_sentences(data, indices, self.vocab)
            upos_logits, xpos_logits = self.model(*batch.inputs(self.device))
            u = upos_logits.float().log_softmax(-1).cpu()
            x = xpos_logits.float().log_softmax(-1).cpu() if xpos_logits is not None else None
            for row, i in enumerate(indices):
                n = len(data.sequences[i])
                upos[i] = u[row, :n]
                xpos[i] = x[row, :n] if x is not None else torch.empty(n, 0)
        return upos, xpos

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

    def tag(self, sentences: list[list[str]], batch_size: int = 128) -> list[dict]:
        """[{"tokens", "upos", "xpos", "upos_confidence"}] for each token list (an empty list
        gets empty tags); ``upos_confidence`` is each UPOS tag's (calibrated) probability."""
        for s in sentences:
            if isinstance(s, str) or not all(isinstance(t, str) and t for t in s):
                raise TypeError("tag() takes a list of sentences, each a list of non-empty "
                                "token strings; use tokenize() for raw text")
        upos, xpos = self.probabilities(sentences, batch_size)
        results = []
        for s, u, x in zip(sentences, upos, xpos):
            confidence, best = u.max(-1)
            results.append({
                "tokens": list(s), "upos": [self.vocab.upos[i] for i in best.tolist()],
                "xpos": ([self.vocab.xpos[i] for i in x.argmax(-1).tolist()]
                         if x.shape[1] else [ud.NO_TAG] * len(s)),
                "upos_confidence": [round(float(c), 6) for c in confidence]})
        return results


def _softmax_each(scores: list[torch.Tensor], temperature: float) -> list[torch.Tensor]:
    if temperature == 1.0:
        return [s.softmax(-1) for s in scores]
    return [(s.double() / temperature).softmax(-1).float() for s in scores]


def _temperatures(config: dict) -> dict:
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
            for kind in ("upos", "xpos"):
                if getattr(member.vocab, kind) != getattr(first.vocab, kind):
                    raise ValueError(
                        f"{member.source} and {first.source} predict different {kind.upper()} "
                        f"tag sets; an ensemble needs taggers trained on the same treebank")
        self.members = list(members)
        self.vocab = first.vocab
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


def calibrate(tagger: Tagger, sentences: list[ud.Sentence]) -> dict:
    """Fit the UPOS and XPOS temperatures on ``sentences`` (dev) from the tagger's raw scores,
    set them, and return the record a checkpoint keeps (``calibration``)."""
    from .train import calibration

    record = {"split": "dev"}
    for head, (scores, gold) in gold_scores(tagger, sentences).items():
        if len(gold):
            record[head] = calibration.fit_and_report(scores, gold)
            tagger.temperature[head] = record[head]["temperature"]
    if "upos" not in record:
        raise ValueError("nothing to calibrate on: no token with a known UPOS tag")
    if isinstance(tagger, TaggerEnsemble):
        tagger.whole = True
    return record


def calibrate_checkpoint(path: str | Path, sentences: list[ud.Sentence], log=print) -> dict:
    """Fit the temperatures of the tagger (or tagger ensemble) at ``path`` on ``sentences``
    and store them in its config.json (atomically); returns the record."""
    directory = checkpoint.resolve(path)
    record = calibrate(Tagger.load(directory, calibrated=False), sentences)
    checkpoint.update_config(directory, calibration=record)
    upos = record["upos"]
    log(f"calibration: UPOS temperature {upos['temperature']:.3f} on {upos['examples']:,} dev "
        f"tokens (ECE {upos['ece_before']:.2%} → {upos['ece_after']:.2%})")
    return record


def evaluate(tagger: Tagger, sentences: list[ud.Sentence], keep_raw_report: bool = False
             ) -> dict:
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
            "per_upos": scores,
            "calibration": calibration_report(tagger, sentences, keep_raw_report),
            "checkpoint": tagger.source}


def calibration_report(tagger: Tagger, sentences: list[ud.Sentence],
                       keep_raw_report: bool = False) -> dict:
    """UPOS calibration over every token (ECE, Brier, NLL, reliability bins, accuracy–coverage)
    as the tagger predicts, the same from its raw scores (whole with ``keep_raw_report``, as
    ``raw_report``), and the XPOS ECE."""
    from .train import calibration

    heads = gold_scores(tagger, sentences)
    raw, gold = heads["upos"]
    if not len(gold):
        return {}
    t_upos, t_xpos = tagger.temperature["upos"], tagger.temperature["xpos"]
    report = calibration.report(_softmax_each([raw], t_upos)[0], gold)
    report["temperature"] = {"upos": t_upos, "xpos": t_xpos}
    raw_report = calibration.report(raw.softmax(-1), gold)
    report["uncalibrated"] = {k: v for k, v in raw_report.items() if k in ("ece", "brier", "nll")}
    if keep_raw_report:
        report["raw_report"] = raw_report
    if isinstance(tagger, TaggerEnsemble) and not tagger.whole:
        # members' own temperatures, averaged: what the tagger predicts is not raw ** (1/T)
        report["probabilities"] = "members' calibrated probabilities averaged"
        report.update(calibration.report(
            gold_scores(tagger, sentences, raw=False)["upos"][0], gold))
    xpos_raw, xpos_gold = heads["xpos"]
    if len(xpos_gold):
        report["xpos_ece"] = calibration.expected_calibration_error(
            _softmax_each([xpos_raw], t_xpos)[0], xpos_gold)
        report["xpos_ece_uncalibrated"] = calibration.expected_calibration_error(
            xpos_raw.softmax(-1), xpos_gold)
    return report


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


__all__ = ["PRESETS", "Tagger", "TaggerEnsemble", "TaggerVocab", "TaggingTask", "calibrate",
           "calibrate_checkpoint", "evaluate", "load", "load_taggers", "tokenize", "train",
           "train_ensemble"]
