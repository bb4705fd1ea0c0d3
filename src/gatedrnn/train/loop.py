"""Training loop for sequence models (classifiers and taggers): bucketing, clipping, LR
schedules, early stopping, checkpoints (best and last, and within epochs), resume, NaN guard,
progress with tokens/s, JSONL metrics, and data-parallel runs under ``torchrun``
(train/distributed.py; bf16 and subnormals: train/precision.py).
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
from . import checkpoint, precision
from .adversarial import EmbeddingAdversary
from .distributed import Distributed
from .precision import _autocast, _denormals_flushed, _flush_denormals  # noqa: F401

SCHEDULERS = ("none", "plateau", "onecycle", "cosine", "slanted")


@dataclass
class FitConfig:
    epochs: int = 5
    batch_size: int = 64
    lr: float = 1e-3
    adam_beta2: float = 0.999       # 0.9 adapts faster to changing gradient scales (taggers)
    weight_decay: float = 0.0
    clip: float | None = 5.0
    # plateau: ReduceLROnPlateau on validation loss; slanted: ULMFiT's slanted triangular
    # rates (a linear rise over the first 10% of steps from lr/32 to lr, then a linear fall)
    scheduler: str = "none"
    patience: int | None = None     # early stop after this many epochs without a better val acc
    bucketing: bool = True          # False: the chapter's pad-to-longest batches
    max_length: int | None = None   # truncate sequences (tokens) during training
    seed: int = 0
    bf16: bool = False              # bfloat16 autocast for the forward pass (CPU or GPU)
    ema_decay: float | None = None  # evaluate and keep an exponential moving average of weights
    # Fine-tuning a pretrained model (ULMFiT): each lower layer group (see the model's
    # ``layer_groups``) learns this many times slower than the one above it, and with
    # ``gradual_unfreezing`` epoch 1 trains only the top group, epoch 2 the top two, and so on.
    discriminative_lr: float = 1.0
    gradual_unfreezing: bool = False
    random_crop: bool = False       # with max_length: a random window of long sequences, not the head
    label_smoothing: float = 0.0    # cross-entropy against (1 - ε) one-hot + ε uniform targets
    # > 0: also learn from each batch with its word embeddings pushed this far along the loss's
    # gradient (adversarial training; the size is relative to one token's embedding norm, see
    # train/adversarial.py); one more forward and backward pass per batch.
    adversarial: float = 0.0
    # A batch of more padded tokens (rows × longest) than this is run as parts whose gradients
    # add up before the one optimizer step: the same update for a loss averaged over sequences
    # (up to dropout draws and rounding; BatchNorm would see each part's statistics; a per-token
    # loss weights the parts by sequences), with peak memory bounded by the cap; the heap's free
    # pages are then also handed back after every batch.
    step_max_tokens: int | None = None
    # Also save last/ within an epoch once this many minutes have passed since the last save
    # (0: after every batch), so a crash loses at most that much work; --resume continues
    # from the batch after it, with the same result as a run that was never interrupted.
    checkpoint_minutes: float = 10.0
    # Also save the weights (no optimizer) into OUT/snapshots/epoch-F after these fractions
    # of training epochs, e.g. [0.25, 0.5, 1]: what a shorter run would have given, for cost
    # curves (benchmarks/lm_pretraining.py). The learning-rate schedule is the whole run's.
    snapshots: list[float] = field(default_factory=list)
    eval_batch_size: int = 256
    eval_max_tokens: int = 32_768   # padded tokens per evaluation batch (bounds peak memory)
    device: str = "cpu"

    def __post_init__(self):
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"scheduler must be one of {', '.join(SCHEDULERS)}, "
                             f"got {self.scheduler!r}")
        if not self.checkpoint_minutes >= 0:
            raise ValueError(f"checkpoint_minutes must be >= 0, got {self.checkpoint_minutes}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be >= 1")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.step_max_tokens is not None and self.step_max_tokens < 1:
            raise ValueError(f"step_max_tokens must be >= 1, got {self.step_max_tokens}")
        if self.adversarial < 0:
            raise ValueError(f"adversarial is the perturbation's size, >= 0 (0: off); got "
                             f"{self.adversarial}")
        if any(not 0 < f <= self.epochs for f in self.snapshots):
            raise ValueError(f"snapshots are fractions of epochs in (0, {self.epochs}], got "
                             f"{self.snapshots}")
        if self.discriminative_lr < 1:
            raise ValueError(f"discriminative_lr is the ratio of each layer group's rate to the "
                             f"next lower one's, >= 1; got {self.discriminative_lr}")


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
                        label_smoothing: float = 0.0):
    labels = batch.labels.to(device)
    logits = model(batch.tokens.to(device), batch.lengths.to(device))
    # Soft targets: cross-entropy against the teacher's distribution (distillation).
    target = labels if batch.targets is None else batch.targets.to(device)
    loss = F.cross_entropy(logits.float(), target, label_smoothing=label_smoothing)
    correct = (logits.argmax(1) == labels).sum().item()
    return loss, correct, len(labels)


class ClassificationTask:
    """One label per sequence: how the Trainer batches an Encoded set and scores a batch.

    Another task (the tagger's) supplies the same two methods; ``loss`` returns the loss, the
    number of correct predictions and the number of predictions (sequences or tokens).
    """

    def __init__(self, label_smoothing: float = 0.0):
        self.label_smoothing = label_smoothing

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
        if self.label_smoothing:
            return classification_loss(model, batch, device, self.label_smoothing)
        return classification_loss(model, batch, device)


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


class Trainer:
    """Fits ``model`` on ``train`` with model selection on ``valid`` and writes ``out_dir``:

    ``best/`` (the checkpoint with the best validation accuracy), ``last/`` (the latest, with the
    optimizer state, for ``resume``) and ``metrics.jsonl`` (one line per epoch).
    """

    def __init__(self, model: nn.Module, config: FitConfig, train: Encoded, valid: Encoded,
                 out_dir: str | Path, checkpoint_config: dict, vocab_tokens: list[str],
                 show_progress: bool = True, log=print, task=None):
        self.model = model
        self.task = task or ClassificationTask(config.label_smoothing)
        self.config = config
        self.train_data = train
        self.valid_data = valid
        self.out_dir = Path(out_dir)
        self.checkpoint_config = checkpoint_config
        self.vocab_tokens = vocab_tokens
        self.show_progress = show_progress
        self.log = log
        if config.bf16 and not precision.bf16_autocast_available(config.device):
            log(f"bf16: this CPU ({torch.backends.cpu.get_cpu_capability()}) has no native "
                "bfloat16, which oneDNN's LSTM needs; training in float32 instead")
            self.config = config = replace(config, bf16=False)
        self.dist = Distributed()
        self.model.to(config.device)
        if config.adversarial and self.dist.world > 1:
            raise ValueError("adversarial training runs two backward passes per step, which "
                             "this loop does not synchronise under DistributedDataParallel; "
                             "run it in one process")
        self.adversary = (EmbeddingAdversary(model, config.adversarial) if config.adversarial
                          else None)
        self.layer_groups = self._layer_groups()
        self.optimizer = torch.optim.Adam(
            [{"params": group, "lr": config.lr / config.discriminative_lr ** (len(
                self.layer_groups) - 1 - i)} for i, group in enumerate(self.layer_groups)],
            lr=config.lr, betas=(0.9, config.adam_beta2), weight_decay=config.weight_decay)
        # The moving average is what gets evaluated and saved as best/; last/ keeps both.
        self.ema = (torch.optim.swa_utils.AveragedModel(
            model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(config.ema_decay),
            use_buffers=True) if config.ema_decay else None)
        self.steps_per_epoch = len(self._batches(0))
        self.scheduler = self._make_scheduler()
        self.epoch = 0            # epochs completed
        self.batch_in_epoch = 0   # batches done in the current epoch (after a Ctrl-C)
        # the current epoch's running totals (loss, correct, count, tokens, adversarial loss,
        # seconds), saved with a mid-epoch checkpoint so a resumed epoch reports what the
        # uninterrupted one would
        self.partial_epoch = None
        self.best_accuracy = -math.inf  # the best validation score so far (higher is better)
        self.epochs_without_improvement = 0

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
        if c.gradual_unfreezing and self.dist.world > 1:
            raise ValueError("gradual unfreezing changes which parameters get gradients, which "
                             "DistributedDataParallel does not allow; run it in one process")
        groups = [[p for p in group if p.requires_grad] for group in groups]
        return [group for group in groups if group]

    def _unfreeze_for_epoch(self) -> None:
        """Gradual unfreezing: in epoch e (from 0) only the top e + 1 groups get gradients."""
        if not self.config.gradual_unfreezing:
            return
        trainable_from = max(0, len(self.layer_groups) - 1 - self.epoch)
        for i, group in enumerate(self.layer_groups):
            for p in group:
                p.requires_grad_(i >= trainable_from)

    def _make_scheduler(self):
        c = self.config
        if c.scheduler == "plateau":
            return torch.optim.lr_scheduler.ReduceLROnPlateau(self.optimizer, factor=0.5,
                                                              patience=0)
        if c.scheduler == "onecycle":
            return torch.optim.lr_scheduler.OneCycleLR(
                self.optimizer, max_lr=[g["lr"] for g in self.optimizer.param_groups],
                epochs=c.epochs, steps_per_epoch=self.steps_per_epoch, pct_start=0.2)
        if c.scheduler == "slanted":  # Howard & Ruder 2018: cut_frac 0.1, ratio 32
            return torch.optim.lr_scheduler.OneCycleLR(
                self.optimizer, max_lr=[g["lr"] for g in self.optimizer.param_groups],
                epochs=c.epochs, steps_per_epoch=self.steps_per_epoch, pct_start=0.1,
                anneal_strategy="linear", div_factor=32.0, final_div_factor=1.0,
                cycle_momentum=False)
        if c.scheduler == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(
                self.optimizer, T_max=c.epochs * self.steps_per_epoch)
        return None

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
        if self.ema is not None and state.get("ema") is not None:
            self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler"):
            self.scheduler.load_state_dict(state["scheduler"])
        self.epoch = state["epoch"]
        self.batch_in_epoch = state["batch_in_epoch"]
        self.best_accuracy = state["best_accuracy"]
        self.epochs_without_improvement = state["epochs_without_improvement"]
        self.partial_epoch = state.get("partial_epoch")  # the running totals of a saved epoch
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
                valid = evaluate(self._evaluated_model(), self.valid_data, c.eval_batch_size,
                                 c.bf16, device=c.device, max_tokens=c.eval_max_tokens,
                                 task=self.task)
                if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                    self.scheduler.step(valid["loss"])
                self.epoch += 1
                self.batch_in_epoch = 0
                self.partial_epoch = None
                # Model selection: validation accuracy, or the task's own score (higher better).
                score = getattr(self.task, "score", lambda v: v["accuracy"])(valid)
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
                self._save(record, best=improved)
                train_acc = (f" acc {record['train_accuracy']:.4f}"
                             if getattr(self.task, "reports_train_accuracy", True) else "")
                self.log(f"epoch {self.epoch}/{c.epochs}: train loss {record['train_loss']:.4f}"
                         f"{train_acc} | valid loss {valid['loss']:.4f} "
                         f"acc {valid['accuracy']:.4f} | {record['tokens_per_s']:.0f} tokens/s"
                         + (" | best" if improved else ""))
                if c.patience is not None and self.epochs_without_improvement >= c.patience:
                    self.log(f"early stop: no better validation accuracy for {c.patience} epochs")
                    break
        except KeyboardInterrupt:
            self._save({"epoch": self.epoch, "interrupted_at_batch": self.batch_in_epoch},
                       best=False)
            raise
        return {"history": history, "best_valid_accuracy": self.best_accuracy}

    def _evaluated_model(self) -> nn.Module:
        return self.ema.module if self.ema is not None else self.model

    def _train_epoch(self, model: nn.Module) -> dict:
        c = self.config
        batches = self._batches(self.epoch)
        lengths = self._train_lengths() if c.step_max_tokens else []
        skip = self.batch_in_epoch
        self._unfreeze_for_epoch()
        self.model.train()
        total_loss, correct, count, tokens, total_adversarial = 0.0, 0, 0, 0, 0.0
        before = 0.0  # seconds this epoch ran before a resume
        if skip and self.partial_epoch:  # resumed within the epoch: its totals so far
            total_loss, correct, count, tokens, total_adversarial, before = self.partial_epoch
        started = time.perf_counter() - before
        last_save = time.perf_counter()
        bar = tqdm(total=len(batches), initial=skip, unit="batch", leave=False,
                   desc=f"epoch {self.epoch + 1}/{c.epochs}",
                   disable=not (self.show_progress and self.dist.main), dynamic_ncols=True)
        for indices in batches[skip:]:
            self.optimizer.zero_grad(set_to_none=True)
            parts = self._parts(indices, lengths)
            for number, part in enumerate(parts, start=1):
                batch = self.task.collate(self.train_data, part, c.max_length,
                                          random_crop=c.random_crop)
                # Under DDP only the last part's forward and backward synchronise the ranks,
                # which may cut their batches into different numbers of parts.
                sync = number == len(parts) or not hasattr(model, "no_sync")
                # Each part's mean loss weighted by its share of the batch's sequences:
                # their gradients add up to the whole batch's (exactly so for a loss
                # averaged over sequences).
                share = len(part) / len(indices)
                with contextlib.nullcontext() if sync else model.no_sync():
                    watching = (self.adversary.watching() if self.adversary
                                else contextlib.nullcontext())
                    with _autocast(c.bf16, c.device), watching:
                        loss, right, n = self.task.loss(model, batch, c.device)
                    self._check_finite(loss)
                    (loss * share).backward()
                    if self.adversary:
                        perturbation = self.adversary.perturbation(batch.lengths)
                        with _autocast(c.bf16, c.device), self.adversary.perturbed(perturbation):
                            adversarial_loss, _, _ = self.task.loss(model, batch, c.device)
                        self._check_finite(adversarial_loss)
                        (adversarial_loss * share).backward()
                        total_adversarial += adversarial_loss.item() * n
                total_loss += loss.item() * n
                correct += right
                count += n
                tokens += batch.num_tokens
            if c.clip:
                norm = nn.utils.clip_grad_norm_(self.model.parameters(), c.clip)
            else:
                norm = torch.linalg.vector_norm(torch.stack(
                    [torch.linalg.vector_norm(q.grad) for q in self.model.parameters()
                     if q.grad is not None] or [torch.zeros(())]))
            self._check_finite(norm, "gradient norm")  # before the step can spoil the weights
            self.optimizer.step()
            if self.ema is not None:
                self.ema.update_parameters(self.model)
            if self.scheduler is not None and not isinstance(
                    self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                self.scheduler.step()
            self.batch_in_epoch += 1
            self._snapshot_if_due()
            self.partial_epoch = (total_loss, correct, count, tokens, total_adversarial,
                                  time.perf_counter() - started)
            if (self.batch_in_epoch < len(batches)
                    and time.perf_counter() - last_save >= 60 * c.checkpoint_minutes):
                self._save({"epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch},
                           best=False)
                last_save = time.perf_counter()
            if c.step_max_tokens:
                # bounding memory: freed activations of batches of very different sizes would
                # otherwise pile up in the heap until the epoch's end (seed preset: 4.4 → 2.3 GB)
                release_free_memory()
            elapsed = time.perf_counter() - started
            bar.update()
            shown = {"loss": f"{total_loss / count:.3f}"}
            if self.adversary:
                shown["adv_loss"] = f"{total_adversarial / count:.3f}"
            if getattr(self.task, "reports_train_accuracy", True):
                shown["acc"] = f"{correct / count:.3f}"
            bar.set_postfix(**shown, tok_s=f"{tokens / max(elapsed, 1e-9):.0f}")
        bar.close()
        total_loss, correct, count, tokens = self.dist.sum([total_loss, correct, count, tokens])
        elapsed = time.perf_counter() - started
        return {"train_loss": total_loss / max(1, count), "train_accuracy": correct / max(1, count),
                **({"train_adversarial_loss": total_adversarial / max(1, count)}
                   if self.adversary else {}),
                "train_seconds": elapsed, "tokens_per_s": tokens / max(elapsed, 1e-9)}

    def _snapshot_if_due(self) -> None:
        step = self.epoch * self.steps_per_epoch + self.batch_in_epoch
        for fraction in self.config.snapshots:
            if step == max(1, round(fraction * self.steps_per_epoch)) and self.dist.main:
                checkpoint.save(self.out_dir / "snapshots" / f"epoch-{fraction:g}",
                                config=self.checkpoint_config,
                                state_dict=self._evaluated_model().state_dict(),
                                vocab_tokens=self.vocab_tokens,
                                metrics={"epochs": fraction, "steps": step})

    def _check_finite(self, value: torch.Tensor, what: str = "loss") -> None:
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

    def _save(self, metrics: dict, best: bool) -> None:
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
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "partial_epoch": self.partial_epoch,
        }
        weights = self.model.state_dict()
        checkpoint.save(self.out_dir / "last", config=self.checkpoint_config, state_dict=weights,
                        vocab_tokens=self.vocab_tokens, metrics=metrics, training_state=state)
        if best:
            checkpoint.save(self.out_dir / "best", config=self.checkpoint_config,
                            state_dict=self._evaluated_model().state_dict(),
                            vocab_tokens=self.vocab_tokens, metrics=metrics)
        if "valid_accuracy" in metrics:
            checkpoint.append_line(self.out_dir / "metrics.jsonl", json.dumps(metrics))
