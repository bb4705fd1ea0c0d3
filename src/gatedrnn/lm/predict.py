"""A pretrained language model loaded for use: perplexity on texts and text generation.

    import gatedrnn
    lm = gatedrnn.load("runs/lm")
    lm.sample("this movie was", words=30, temperature=0.8, top_k=40, seed=0)
    lm.perplexity(["a text of my own", "and another"])

Perplexity is exp(mean negative log-likelihood per predicted word) over the model's
vocabulary, ``<unk>`` counted as a word (as the AWD-LSTM papers count it).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from ..data.text import Vocab, basic_english
from ..models.language_model import LanguageModel
from ..train.loop import evaluate
from .common import DEFAULT_OUT, TASK
from .data import windows_set
from .training import LanguageModelTask, direction_of


class PretrainedLanguageModel:
    """A language model with its vocabulary and its checkpoint's settings."""

    def __init__(self, model: LanguageModel, vocab: Vocab, config: dict, source: str = ""):
        self.model = model.eval()
        self.vocab = vocab
        self.config = config
        self.source = source

    @classmethod
    def load(cls, path: str | Path = DEFAULT_OUT) -> "PretrainedLanguageModel":
        """A run directory or a checkpoint (``best/``, ``last/``, ``snapshots/epoch-F``)."""
        from ..registry import load
        return load(path, TASK)

    @property
    def direction(self) -> str:
        return direction_of(self.model.config)

    def perplexity(self, texts: list[str], batch_size: int = 128, bf16: bool = False) -> dict:
        """Perplexity, loss and next-word accuracy on ``texts`` (windows of the model's bptt),
        with the share of ``<unk>`` targets, without which perplexities over different
        vocabularies are not comparable."""
        data_set = windows_set([basic_english(t) for t in texts], self.vocab,
                               self.config.get("bptt", 200))
        if not data_set.sequences:
            raise ValueError("no text to evaluate: every text has fewer than 2 words")
        targets = [i for sequence in data_set.sequences for i in sequence[1:]]
        result = evaluate(self.model, data_set, batch_size, bf16, task=LanguageModelTask())
        return {"perplexity": math.exp(result["loss"]), "loss": result["loss"],
                "next_word_accuracy": result["accuracy"], "predicted_words": result["count"],
                "unk_share": sum(t == Vocab.unk_index for t in targets) / max(1, len(targets)),
                "vocabulary": len(self.vocab), "direction": self.direction}

    @torch.no_grad()
    def sample(self, prompt: str, *, words: int = 50, temperature: float = 1.0,
               top_k: int | None = None, seed: int | None = None) -> str:
        """Text generated after ``prompt`` (a backward LM writes what comes before it).
        ``temperature`` < 1 sharpens the distribution; ``top_k`` samples from the k most
        probable words only. ``<unk>`` and padding are never generated."""
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if top_k is not None and top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        model, vocab = self.model, self.vocab
        if model.config.bidirectional:
            raise ValueError("a bidirectional language model cannot generate text: its reverse "
                             "direction reads words that are not written yet. Sample from a "
                             "forward or backward model (gatedrnn lm pretrain --preset awd)")
        prompt_words = basic_english(prompt)
        if not prompt_words:
            raise ValueError("the prompt has no words; give at least one word to start from")
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        ids = vocab.encode(prompt_words)
        if model.config.reverse:
            ids = ids[::-1]
        output, state = model.hidden_states(torch.tensor([ids]))
        head = model.next_word
        banned = [Vocab.pad_index, Vocab.unk_index]
        generated = []
        for _ in range(words):
            log_probs = head.log_prob(output[:, -1].float())[0] / temperature
            log_probs[banned] = -math.inf
            if top_k is not None and top_k < log_probs.numel():
                cutoff = torch.topk(log_probs, top_k).values[-1]
                log_probs = log_probs.masked_fill(log_probs < cutoff, -math.inf)
            word = int(torch.multinomial(torch.softmax(log_probs, dim=0), 1,
                                         generator=generator))
            generated.append(word)
            output, state = model.hidden_states(torch.tensor([[word]]), state=state)
        text = vocab.decode(generated)
        if model.config.reverse:
            return " ".join(text[::-1] + prompt_words)
        return " ".join(prompt_words + text)
