"""How a model trains: the Trainer's settings, checked as they are made."""

from __future__ import annotations

from dataclasses import dataclass, field

from .schedules import SCHEDULERS


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
    # one weight per class in the training loss (None: all 1); "balanced" weights are
    # examples / (classes × the class's examples), so a rare class counts as much as a common one
    class_weights: list[float] | None = None
    # > 0: also learn from each batch with its word embeddings pushed this far along the loss's
    # gradient (adversarial training; the size is relative to one token's embedding norm, see
    # train/adversarial.py); one more forward and backward pass per batch.
    adversarial: float = 0.0
    # Learning from unlabelled text (train/semi_supervised.py), on one batch of the Trainer's
    # unlabelled sequences (or its training ones) per step: the weight of the prediction
    # entropy (entropy minimisation), and the size of the virtual adversarial push with its
    # power iteration's ξ (both relative, as adversarial's). 0: off.
    entropy_minimisation: float = 0.0
    virtual_adversarial: float = 0.0
    virtual_adversarial_xi: float = 1e-3
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
        if self.class_weights is not None and not all(w > 0 for w in self.class_weights):
            raise ValueError(f"class_weights must be positive, got {self.class_weights}")
        if self.adversarial < 0:
            raise ValueError(f"adversarial is the perturbation's size, >= 0 (0: off); got "
                             f"{self.adversarial}")
        if self.entropy_minimisation < 0 or self.virtual_adversarial < 0:
            raise ValueError(f"entropy_minimisation (a weight) and virtual_adversarial (a size) "
                             f"must be >= 0 (0: off); got {self.entropy_minimisation} and "
                             f"{self.virtual_adversarial}")
        if self.virtual_adversarial_xi <= 0:
            raise ValueError(f"virtual_adversarial_xi must be > 0, got "
                             f"{self.virtual_adversarial_xi}")
        if any(not 0 < f <= self.epochs for f in self.snapshots):
            raise ValueError(f"snapshots are fractions of epochs in (0, {self.epochs}], got "
                             f"{self.snapshots}")
        if self.discriminative_lr < 1:
            raise ValueError(f"discriminative_lr is the ratio of each layer group's rate to the "
                             f"next lower one's, >= 1; got {self.discriminative_lr}")
