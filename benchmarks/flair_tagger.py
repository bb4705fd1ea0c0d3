"""Flair's SequenceTagger trained from scratch, the peer of ``sequence_labelling.py``: one-hot
word embeddings and its character BiLSTM learnt on the data (its CharacterEmbeddings need a
character dictionary built from the data), BiLSTM 256 and CRF, SGD 0.1 annealed on dev."""

from __future__ import annotations

import time
from pathlib import Path

from gatedrnn.data.iob2 import spans


def train_and_tag(kind: str, data, out: Path, epochs: int, seconds_budget: float | None):
    """Flair's tagger trained on ``data`` (train/dev/test rows); (test tags, its timings)."""
    from flair.data import Corpus, Dictionary, Sentence
    from flair.datasets import FlairDatapointDataset
    from flair.embeddings import CharacterEmbeddings, OneHotEmbeddings, StackedEmbeddings
    from flair.models import SequenceTagger
    from flair.trainers import ModelTrainer
    from flair.trainers.plugins import TrainerPlugin, TrainingInterrupt

    class Budget(TrainerPlugin):
        """Stops before an epoch that would end past the budget (epochs at their mean length)."""

        @TrainerPlugin.hook
        def after_evaluation(self, epoch, **kw):
            trained.append(epoch)
            elapsed = time.perf_counter() - started
            if seconds_budget and elapsed * (epoch + 1) / epoch > seconds_budget:
                raise TrainingInterrupt(f"time budget {seconds_budget:.0f} s: stop at {epoch}")

    label = "ner" if kind == "ner" else "upos"

    def make(rows, gold: bool = True):
        made = []
        for row in rows:
            sentence = Sentence(list(row.forms))
            if gold and kind == "ner":
                for span in spans(row.tags):
                    sentence[span.start:span.end].add_label(label, span.type)
            elif gold:
                for token, tag in zip(sentence, row.upos):
                    token.add_label(label, tag)
            made.append(sentence)
        return made

    corpus = Corpus(*(FlairDatapointDataset(make(getattr(data, s)))
                      for s in ("train", "dev", "test")))
    chars = Dictionary()
    for character in sorted({c for s in data.train for f in s.forms for c in f}):
        chars.add_item(character)
    embeddings = StackedEmbeddings([
        OneHotEmbeddings.from_corpus(corpus, min_freq=1, embedding_length=100),
        CharacterEmbeddings(chars)])
    tagger = SequenceTagger(hidden_size=256, embeddings=embeddings,
                            tag_dictionary=corpus.make_label_dictionary(label),
                            tag_type=label, use_crf=True)
    trained = []
    started = time.perf_counter()
    ModelTrainer(tagger, corpus).train(str(out), learning_rate=0.1, mini_batch_size=32,
                                       max_epochs=epochs, embeddings_storage_mode="none",
                                       create_file_logs=False, save_final_model=False,
                                       plugins=[Budget()])
    seconds = time.perf_counter() - started
    # Flair's trainer ends with its best dev epoch's weights in ``tagger``; flair 0.15's
    # SequenceTagger.load of best-model.pt (OneHotEmbeddings) scored UNER test 13.6%, not 62.2%
    test, model = make(data.test, gold=False), tagger
    started = time.perf_counter()
    model.predict(test, mini_batch_size=64)
    rate = sum(len(s) for s in test) / (time.perf_counter() - started)
    if kind == "ner":
        predicted = []
        for sentence in test:
            tags = ["O"] * len(sentence)
            for span in sentence.get_spans(label):
                first = span.tokens[0].idx - 1
                tags[first:first + len(span.tokens)] = [f"B-{span.tag}"] + \
                    [f"I-{span.tag}"] * (len(span.tokens) - 1)
            predicted.append(tags)
    else:
        predicted = [[t.get_label(label).value for t in s] for s in test]
    return predicted, {"train_seconds": seconds, "epochs": len(trained),
                       "predict_tokens_per_s": rate}
