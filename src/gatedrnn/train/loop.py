"""Training loop for sequence models (classifiers, taggers, language models): bucketing,
clipping, early stopping, checkpoints (best and last), resume, the NaN guard, progress with
tokens/s, JSONL metrics, data-parallel runs under ``torchrun`` (train/distributed.py).

The loop itself is short; every extra is a callback (train/callbacks.py: moving average,
adversarial training, gradual unfreezing, snapshots, mid-epoch saves, memory release), the
learning-rate schedules are in train/schedules.py, and what the loop needs of a task is
declared by :class:`TrainingTask`.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..data.batching import (
    Batch,
    bucket_batches,
    collate,
    padded_batches,
    split_by_tokens,
)
from ..runinfo import release_free_memory, rss_mb
from . import checkpoint, precision, schedules
from .callbacks import Callback, callbacks_for
from .distributed import Distributed
from .precision import _autocast, _denormals_flushed, _flush_denormals  # noqa: F401
from .config import FitConfig  # noqa: F401 (where callers have always found it)


@dataclass
class Encoded:
    """A labelled data set as token-id lists.

    ``targets`` (optional): one probability distribution over the classes per sequence, trained
    against instead of the one-hot label (a teacher's soft labels for unlabelled text; a
    labelled sequence carries its one-hot label there). ``labels`` then holds each target's
    most probable class, for accuracy.
    """

    sequences: list[list[int]]
    labels: list[int]
    targets: list[list[float]] | None = None

    def __len__(self) -> int:
        return len(self.sequences)

    @property
    def lengths(self) -> list[int]:
        return [len(s) for s in self.sequences]


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


def random_window(sequence: list[int], length: int) -> list[int]:
    """A random run of ``length`` tokens (the whole sequence when it is not longer); drawn from
    torch's generator, so a seeded or resumed run crops the same way."""
    if len(sequence) <= length:
        return sequence
    start = int(torch.randint(len(sequence) - length + 1, ()))
    return sequence[start:start + length]


def classification_loss(model: nn.Module, batch: Batch, device: str = "cpu",
                        label_smoothing: float = 0.0, weight: torch.Tensor | None = None):
    labels = batch.labels.to(device)
    logits = model(batch.tokens.to(device), batch.lengths.to(device))
    # Soft targets: cross-entropy against the teacher's distribution (distillation).
    target = labels if batch.targets is None else batch.targets.to(device)
    loss = F.cross_entropy(logits.float(), target, label_smoothing=label_smoothing,
                           weight=None if weight is None else weight.to(device))
    correct = (logits.argmax(1) == labels).sum().item()
    return loss, correct, len(labels)


class TrainingTask:
    """What the Trainer and ``evaluate`` need of a task: how a data set's items become a batch,
    and a batch's loss. Subclasses: ClassificationTask (one label per sequence), the tagger's
    TaggingTask, the language model's LanguageModelTask."""

    # whether the epoch's line shows training accuracy (free when the loss computes it)
    reports_train_accuracy = True
    # what the epoch's line calls the validation score that ``loss`` counts
    score_name = "acc"
    # a classifier of one label per sequence (what learning from unlabelled text applies to)
    one_label_per_sequence = False

    def collate(self, data, indices: list[int], max_length: int | None = None,
                random_crop: bool = False):
        """The items ``indices`` of ``data`` as one batch (cut to ``max_length`` tokens; a
        random window of long items with ``random_crop``)."""
        raise NotImplementedError

    def loss(self, model: nn.Module, batch, device: str = "cpu"):
        """(mean loss, correct predictions, predictions) of ``model`` on ``batch``."""
        raise NotImplementedError

    def score(self, valid: dict) -> float:
        """Model selection's score of a validation result (higher is better)."""
        return valid["accuracy"]


class ClassificationTask(TrainingTask):
    """One label per sequence: how the Trainer batches an Encoded set and scores a batch."""

    one_label_per_sequence = True

    def __init__(self, label_smoothing: float = 0.0, class_weights: list[float] | None = None):
        self.label_smoothing = label_smoothing
        self.weight = None if class_weights is None else torch.tensor(class_weights,
                                                                      dtype=torch.float32)

    def collate(self, data: Encoded, indices: list[int], max_length: int | None = None,
                random_crop: bool = False):
        sequences = [data.sequences[i] for i in indices]
        if random_crop and max_length:
            sequences = [random_window(s, max_length) for s in sequences]
        batch = collate(sequences, [data.labels[i] for i in indices], indices,
                        max_length=max_length)
        if data.targets is not None:
            batch.targets = torch.tensor([data.targets[i] for i in indices], dtype=torch.float32)
        return batch

    def loss(self, model: nn.Module, batch, device: str = "cpu"):
        if self.label_smoothing or self.weight is not None:
            return classification_loss(model, batch, device, self.label_smoothing, self.weight)
        return classification_loss(model, batch, device)


class MultiLabelTask(ClassificationTask):
    """Several labels per sequence (``targets``: one 0/1 per class): an independent sigmoid
    per class and binary cross-entropy; a prediction is right when every class's decision at
    0.5 is (subset accuracy, what model selection reads)."""

    one_label_per_sequence = False

    def loss(self, model: nn.Module, batch, device: str = "cpu"):
        logits = model(batch.tokens.to(device), batch.lengths.to(device)).float()
        targets = batch.targets.to(device)
        loss = F.binary_cross_entropy_with_logits(logits, targets)
        correct = ((logits > 0) == (targets > 0.5)).all(1).sum().item()
        return loss, correct, len(targets)


@torch.no_grad()
def evaluate(model: nn.Module, data: Encoded, batch_size: int = 256, bf16: bool = False,
             device: str = "cpu", max_tokens: int | None = 32_768, task=None) -> dict:
    """Loss and accuracy over ``data``, batched by length (least padding)."""
    task = task or ClassificationTask()
    was_training = model.training
    model.eval()
    total_loss, correct, count = 0.0, 0, 0
    for indices in bucket_batches(data.lengths, batch_size, shuffle=False, max_tokens=max_tokens):
        batch = task.collate(data, indices)
        with _autocast(bf16, device):
            loss, right, n = task.loss(model, batch, device)
        total_loss += loss.item() * n
        correct += right
        count += n
    model.train(was_training)
    return {"loss": total_loss / max(1, count), "accuracy": correct / max(1, count),
            "count": count}


@dataclass
class EpochTotals:
    """An epoch's running sums (saved with a mid-epoch checkpoint, so that a resumed epoch
    reports what the uninterrupted one would): loss and accuracy counts, tokens, seconds, and
    the sums of what callbacks add (an adversarial loss)."""

    loss: float = 0.0
    correct: int = 0
    count: int = 0
    tokens: int = 0
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    @classmethod
    def restore(cls, saved) -> "EpochTotals":
        if isinstance(saved, (tuple, list)):  # written before the callbacks: a tuple
            loss, correct, count, tokens, adversarial, seconds = saved
            return cls(loss, correct, count, tokens, seconds,
                       {"adversarial_loss": adversarial} if adversarial else {})
        return cls(**saved)


class Trainer:
    """Fits ``model`` on ``train`` with model selection on ``valid`` and writes ``out_dir``:

    ``best/`` (the checkpoint with the best validation score), ``last/`` (the latest, with the
    optimizer state, for ``resume``) and ``metrics.jsonl`` (one line per epoch). ``task`` (a
    TrainingTask; default: classification) batches the data and computes the loss; the extras
    the config asks for run as ``callbacks`` (train/callbacks.py), to which more can be added.
    ``unlabelled``: sequences without labels, which the semi-supervised losses read.
    """

    def __init__(self, model: nn.Module, config: FitConfig, train: Encoded, valid: Encoded,
                 out_dir: str | Path, checkpoint_config: dict, vocab_tokens: list[str],
                 show_progress: bool = True, log=print, task: TrainingTask | None = None,
                 callbacks: list[Callback] | None = None,
                 checkpoint_files: dict[str, bytes] | None = None,
                 unlabelled: Encoded | None = None):
        self.model = model
        self.task = task or ClassificationTask(config.label_smoothing, config.class_weights)
        self.config = config
        self.train_data = train
        self.valid_data = valid
        self.unlabelled_data = unlabelled
        self.out_dir = Path(out_dir)
        self.checkpoint_config = checkpoint_config
        self.vocab_tokens = vocab_tokens
        self.checkpoint_files = checkpoint_files or {}  # written into every checkpoint
        self.show_progress = show_progress
        self.log = log
        if config.bf16 and not precision.bf16_autocast_available(config.device):
            log(f"bf16: this CPU ({torch.backends.cpu.get_cpu_capability()}) has no native "
                "bfloat16, which oneDNN's LSTM needs; training in float32 instead")
            self.config = config = replace(config, bf16=False)
        self.dist = Distributed()
        self.model.to(config.device)
        self.callbacks = [*callbacks_for(config), *(callbacks or [])]
        self.layer_groups = self._layer_groups()
        # each lower layer group learns discriminative_lr times slower than the one above
        self.optimizer = torch.optim.Adam(
            [{"params": group, "lr": config.lr / config.discriminative_lr ** (len(
                self.layer_groups) - 1 - i)} for i, group in enumerate(self.layer_groups)],
            lr=config.lr, betas=(0.9, config.adam_beta2), weight_decay=config.weight_decay)
        for callback in self.callbacks:
            callback.setup(self)
        self.steps_per_epoch = len(self._batches(0))
        self.scheduler = schedules.make_scheduler(config.scheduler, self.optimizer,
                                                  config.epochs, self.steps_per_epoch)
        self.epoch = 0               # epochs completed
        self.batch_in_epoch = 0      # batches done in the current epoch (after a Ctrl-C)
        self.batches_this_epoch = 0
        self.partial_epoch: EpochTotals | None = None  # a saved epoch's totals so far
        self.best_accuracy = -math.inf  # the best validation score so far (higher is better)
        self.epochs_without_improvement = 0
        self.stopped: str | None = None  # why a callback stopped training early

    def stop(self, reason: str) -> None:
        """End training after the batch under way (a callback's way out): that epoch is
        validated and saved as usual, then fit returns."""
        self.stopped = reason

    # -- setup ---------------------------------------------------------------------------------

    def _layer_groups(self) -> list[list[nn.Parameter]]:
        """Trainable parameters, bottom to top: one group unless the fine-tuning options need
        the model's own ``layer_groups()``. Frozen parameters (e.g. frozen embeddings) stay out."""
        c = self.config
        if c.discriminative_lr == 1 and not c.gradual_unfreezing:
            groups = [list(self.model.parameters())]
        elif hasattr(self.model, "layer_groups"):
            groups = self.model.layer_groups()
        else:
            raise ValueError(f"{type(self.model).__name__} has no layer_groups(); "
                             f"discriminative_lr and gradual_unfreezing need one")
        groups = [[p for p in group if p.requires_grad] for group in groups]
        return [group for group in groups if group]

    def _batches(self, epoch: int) -> list[list[int]]:
        c = self.config
        per_rank = max(1, c.batch_size // self.dist.world)  # same effective batch as one process
        lengths = self._train_lengths()
        seed = c.seed * 1000 + epoch
        batches = (bucket_batches(lengths, per_rank, shuffle=True, seed=seed) if c.bucketing
                   else padded_batches(lengths, per_rank, seed=seed))
        if self.dist.world > 1:
            usable = len(batches) // self.dist.world * self.dist.world  # equal count per rank
            batches = batches[self.dist.rank:usable:self.dist.world]
        return batches

    # -- resume --------------------------------------------------------------------------------

    def resume(self) -> bool:
        """Restore from ``out_dir/last``; False if there is nothing to resume."""
        last = self.out_dir / "last"
        checkpoint.recover(last)
        checkpoint.recover(self.out_dir / "best")
        state = checkpoint.load_training_state(last) if last.exists() else None
        if state is None:
            return False
        saved_config = checkpoint.read_config(last)
        if saved_config.get("model") != self.checkpoint_config.get("model"):
            raise checkpoint.CheckpointError(
                f"{last} was trained with a different model configuration; start a new run "
                f"with another --out, or train without --resume")
        if checkpoint.load_vocab_tokens(last) != self.vocab_tokens:
            raise checkpoint.CheckpointError(f"{last} was trained with a different vocabulary")
        changed = [k for k, v in asdict(self.config).items()
                   if state.get("fit_config", {}).get(k, v) != v
                   and k not in ("epochs", "checkpoint_minutes")]
        if changed:
            self.log(f"note: resuming restores the saved optimizer and schedule; these settings "
                     f"differ from the saved run and only some take effect: {', '.join(changed)}")
        self.model.load_state_dict(checkpoint.load_weights(last))
        self.model.to(self.config.device)
        for callback in self.callbacks:
            if callback.name:
                callback.load_state_dict(state.get(callback.name))
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler"):
            self.scheduler.load_state_dict(state["scheduler"])
        self.epoch = state["epoch"]
        self.batch_in_epoch = state["batch_in_epoch"]
        self.best_accuracy = state["best_accuracy"]
        self.epochs_without_improvement = state["epochs_without_improvement"]
        saved = state.get("partial_epoch")
        self.partial_epoch = EpochTotals.restore(saved) if saved else None
        torch.set_rng_state(state["torch_rng"])
        return True

    # -- the loop ------------------------------------------------------------------------------

    def fit(self) -> dict:
        with _flush_denormals():
            return self._fit()

    def _fit(self) -> dict:
        c = self.config
        model = self.dist.wrap(self.model)
        history = []
        try:
            while self.epoch < c.epochs:
                train_metrics = self._train_epoch(model)
                valid = evaluate(self.evaluated_model(), self.valid_data, c.eval_batch_size,
                                 c.bf16, device=c.device, max_tokens=c.eval_max_tokens,
                                 task=self.task)
                schedules.after_validation(self.scheduler, valid["loss"])
                self.epoch += 1
                self.batch_in_epoch = 0
                self.partial_epoch = None
                score = self.task.score(valid)  # model selection: higher is better
                improved = score > self.best_accuracy
                if improved:
                    self.best_accuracy = score
                    self.epochs_without_improvement = 0
                else:
                    self.epochs_without_improvement += 1
                release_free_memory()
                record = {"epoch": self.epoch, **train_metrics,
                          "valid_loss": valid["loss"], "valid_accuracy": valid["accuracy"],
                          "lr": self.optimizer.param_groups[-1]["lr"], "best": improved,
                          **rss_mb()}
                history.append(record)
                self.save(record, best=improved)
                train_acc = (f" acc {record['train_accuracy']:.4f}"
                             if self.task.reports_train_accuracy else "")
                self.log(f"epoch {self.epoch}/{c.epochs}: train loss {record['train_loss']:.4f}"
                         f"{train_acc} | valid loss {valid['loss']:.4f} "
                         f"{self.task.score_name} {valid['accuracy']:.4f} | "
                         f"{record['tokens_per_s']:.0f} tokens/s"
                         + (" | best" if improved else ""))
                if c.patience is not None and self.epochs_without_improvement >= c.patience:
                    self.log(f"early stop: no better validation accuracy for {c.patience} epochs")
                    break
                if self.stopped:
                    self.log(f"stopped: {self.stopped}")
                    break
        except KeyboardInterrupt:
            self.save({"epoch": self.epoch, "interrupted_at_batch": self.batch_in_epoch},
                      best=False)
            raise
        return {"history": history, "best_valid_accuracy": self.best_accuracy,
                **({"stopped": self.stopped} if self.stopped else {})}

    def evaluated_model(self) -> nn.Module:
        """The model validation reads and best/ keeps (a callback may substitute one)."""
        model = self.model
        for callback in self.callbacks:
            model = callback.evaluated(model)
        return model

    def autocast(self):
        return _autocast(self.config.bf16, self.config.device)

    def _train_epoch(self, model: nn.Module) -> dict:
        c = self.config
        batches = self._batches(self.epoch)
        self.batches_this_epoch = len(batches)
        lengths = self._train_lengths() if c.step_max_tokens else []
        skip = self.batch_in_epoch
        for callback in self.callbacks:
            callback.before_epoch(self)
        self.model.train()
        # resumed within the epoch: its totals so far
        totals = self.partial_epoch if skip and self.partial_epoch else EpochTotals()
        started = time.perf_counter() - totals.seconds
        bar = tqdm(total=len(batches), initial=skip, unit="batch", leave=False,
                   desc=f"epoch {self.epoch + 1}/{c.epochs}",
                   disable=not (self.show_progress and self.dist.main), dynamic_ncols=True)
        for indices in batches[skip:]:
            self.optimizer.zero_grad(set_to_none=True)
            parts = self._parts(indices, lengths)
            for number, part in enumerate(parts, start=1):
                # Under DDP only the last part's forward and backward synchronise the ranks,
                # which may cut their batches into different numbers of parts.
                sync = number == len(parts) or not hasattr(model, "no_sync")
                with contextlib.nullcontext() if sync else model.no_sync():
                    self._learn_from(model, part, len(indices), totals)
            for callback in self.callbacks:
                for name, value in callback.before_step(self, len(indices)).items():
                    totals.extra[name] = totals.extra.get(name, 0.0) + value
            self._step()
            self.batch_in_epoch += 1
            totals.seconds = time.perf_counter() - started
            self.partial_epoch = totals
            for callback in self.callbacks:
                callback.after_step(self)
            bar.update()
            bar.set_postfix(**self._progress(totals))
            if self.stopped:
                break
        bar.close()
        loss, correct, count, tokens = self.dist.sum([totals.loss, totals.correct, totals.count,
                                                      totals.tokens])
        elapsed = time.perf_counter() - started
        return {"train_loss": loss / max(1, count), "train_accuracy": correct / max(1, count),
                **{f"train_{name}": value / max(1, count) for name, value in totals.extra.items()},
                "train_seconds": elapsed, "tokens_per_s": tokens / max(elapsed, 1e-9)}

    def _learn_from(self, model: nn.Module, part: list[int], batch_size: int,
                    totals: EpochTotals) -> None:
        """Forward and backward on one part of a batch; its gradients add to the batch's."""
        c = self.config
        batch = self.task.collate(self.train_data, part, c.max_length, random_crop=c.random_crop)
        # Each part's mean loss weighted by its share of the batch's sequences: their
        # gradients add up to the whole batch's (exactly so for a loss averaged over sequences).
        share = len(part) / batch_size
        with contextlib.ExitStack() as watching:
            watching.enter_context(self.autocast())
            for callback in self.callbacks:
                watching.enter_context(callback.around_loss(self))
            loss, right, n = self.task.loss(model, batch, c.device)
        self.check_finite(loss)
        (loss * share).backward()
        for callback in self.callbacks:
            for name, value in callback.after_backward(self, model, batch, share).items():
                totals.extra[name] = totals.extra.get(name, 0.0) + value
        totals.loss += loss.item() * n
        totals.correct += right
        totals.count += n
        totals.tokens += batch.num_tokens

    def _step(self) -> None:
        """Clip, check and take the optimizer's step; the per-batch schedule follows it."""
        if self.config.clip:
            norm = nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip)
        else:
            norm = torch.linalg.vector_norm(torch.stack(
                [torch.linalg.vector_norm(q.grad) for q in self.model.parameters()
                 if q.grad is not None] or [torch.zeros(())]))
        self.check_finite(norm, "gradient norm")  # before the step can spoil the weights
        self.optimizer.step()
        if schedules.steps_per_batch(self.scheduler):
            self.scheduler.step()

    def _progress(self, totals: EpochTotals) -> dict:
        shown = {"loss": f"{totals.loss / totals.count:.3f}"}
        for name, short in (("adversarial_loss", "adv_loss"), ("entropy", "entropy"),
                            ("virtual_adversarial_loss", "vat_loss")):
            if name in totals.extra:
                shown[short] = f"{totals.extra[name] / totals.count:.3f}"
        if self.task.reports_train_accuracy:
            shown["acc"] = f"{totals.correct / totals.count:.3f}"
        shown["tok_s"] = f"{totals.tokens / max(totals.seconds, 1e-9):.0f}"
        return shown

    def check_finite(self, value: torch.Tensor, what: str = "loss") -> None:
        if not math.isfinite(value.item()):
            raise TrainingDiverged(
                f"the training {what} became {value.item()} in epoch {self.epoch + 1}, batch "
                f"{self.batch_in_epoch + 1}; the step was not taken and the last good "
                f"checkpoint is kept in {self.out_dir / 'last'}. Lower --lr or set --clip")

    def _train_lengths(self) -> list[int]:
        lengths = self.train_data.lengths
        if self.config.max_length:
            lengths = [min(n, self.config.max_length) for n in lengths]
        return lengths

    def _parts(self, indices: list[int], lengths: list[int]) -> list[list[int]]:
        """The batch, or its parts when it holds more padded tokens than step_max_tokens."""
        cap = self.config.step_max_tokens
        if cap is None or len(indices) * max(lengths[i] for i in indices) <= cap:
            return [indices]
        return split_by_tokens(indices, lengths, cap)

    def save(self, metrics: dict, best: bool) -> None:
        """last/ with the training state (and best/ when ``best``); the epoch's line in
        metrics.jsonl. Never writes weights that became NaN."""
        if not self.dist.main:
            return
        broken = [name for name, value in self.model.state_dict().items()
                  if value.is_floating_point() and not torch.isfinite(value).all()]
        if broken:  # never write a checkpoint that a resume or a prediction cannot use
            raise TrainingDiverged(
                f"weights became NaN or infinite ({', '.join(broken[:3])}) in epoch "
                f"{self.epoch + 1}; nothing was saved, the last good checkpoint is kept in "
                f"{self.out_dir / 'last'}. Lower --lr or set --clip")
        state = {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch,
            "best_accuracy": self.best_accuracy,
            "epochs_without_improvement": self.epochs_without_improvement,
            "torch_rng": torch.get_rng_state(), "fit_config": asdict(self.config),
            "partial_epoch": asdict(self.partial_epoch) if self.partial_epoch else None,
            **{c.name: c.state_dict() for c in self.callbacks if c.name},
        }
        # best/ before last/: last/ records the best score, so a crash between the two must
        # leave the older last/ (its epoch is run again, and writes the same best/), never a
        # last/ that promises a best/ that was not written
        if best:
            checkpoint.save(self.out_dir / "best", config=self.checkpoint_config,
                            state_dict=self.evaluated_model().state_dict(),
                            vocab_tokens=self.vocab_tokens, metrics=metrics,
                            files=self.checkpoint_files)
        checkpoint.save(self.out_dir / "last", config=self.checkpoint_config,
                        state_dict=self.model.state_dict(), vocab_tokens=self.vocab_tokens,
                        metrics=metrics, training_state=state, files=self.checkpoint_files)
        if "valid_accuracy" in metrics:
            checkpoint.append_line(self.out_dir / "metrics.jsonl", json.dumps(metrics))
