"""Train a SequenceModel on a synthetic task and measure it: the engine of every experiment."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from ..data.synthetic import Task, evaluation_set, make_task
from ..models import SequenceModel

ADDING_TOLERANCE = 0.04  # an adding-problem prediction counts as right within ±0.04


@dataclass
class Settings:
    """How a model is trained on a synthetic task: its hyperparameters (the text tasks call
    theirs presets). ``init`` is one of gatedrnn.nn.INIT_SCHEMES (chrono uses T)."""

    steps: int = 100
    batch_size: int = 32
    lr: float = 1e-3
    init: str = "default"
    clip: float | None = None
    hidden_size: int = 64
    test_size: int = 512
    task_kwargs: dict = field(default_factory=dict)

    def describe(self) -> str:
        clip = f", clip {self.clip}" if self.clip else ""
        return (f"Adam lr {self.lr:g}, {self.steps} steps, batch {self.batch_size}, "
                f"hidden {self.hidden_size}, init {self.init}{clip}")


def train_seed(seed: int, step: int) -> int:
    """Seed of training batch ``step`` of run ``seed``: below 2**31, so never an evaluation seed,
    and distinct for seeds < 2048 and steps < 2**20."""
    if not (0 <= seed < 2048 and 0 <= step < 2**20):
        raise ValueError(f"seed must be in 0..2047 and step in 0..{2**20 - 1}, got {seed}, {step}")
    return seed * 2**20 + step


def loss_and_accuracy(logits: Tensor, task: Task) -> tuple[Tensor, float]:
    if task.target == "last_class":
        loss = F.cross_entropy(logits, task.y)
        accuracy = (logits.argmax(1) == task.y).float().mean().item()
    elif task.target == "last_value":
        prediction = logits.squeeze(1)
        loss = F.mse_loss(prediction, task.y)
        accuracy = ((prediction - task.y).abs() < ADDING_TOLERANCE).float().mean().item()
    elif task.target == "step_class":
        loss = F.cross_entropy(logits.flatten(0, 1), task.y.flatten(), ignore_index=-100)
        asked = task.y != -100
        accuracy = (logits.argmax(2)[asked] == task.y[asked]).float().mean().item()
    else:
        raise ValueError(f"unknown target kind {task.target!r}")
    return loss, accuracy


def build_model(mode: str, task: Task, training: Settings, length: int,
                bidirectional: bool = False) -> SequenceModel:
    readout = "step" if task.target == "step_class" else "last"
    layer_kwargs = {"init": training.init}
    if training.init == "chrono":
        layer_kwargs["chrono_t_max"] = max(2, length)
    return SequenceModel(mode, task.input_size, training.hidden_size, task.num_outputs,
                         bidirectional=bidirectional, readout=readout, **layer_kwargs)


def train_on_task(mode: str, task_name: str, length: int, training: Settings, seed: int = 0,
                  bidirectional: bool = False, keep_model: bool = False) -> dict:
    """Train from scratch on fresh batches and evaluate on the fixed evaluation set.

    Returns a dict with the final evaluation accuracy and loss, the parameter count, seconds per
    training step (forward, backward and update), and per-step training loss/accuracy curves.
    """
    torch.manual_seed(seed)
    evaluation = evaluation_set(task_name, training.test_size, length, seed=0,
                                **training.task_kwargs)
    model = build_model(mode, evaluation, training, length, bidirectional)
    optimizer = torch.optim.Adam(model.parameters(), lr=training.lr)
    curve_loss, curve_accuracy = [], []
    train_seconds = 0.0
    model.train()
    for step in range(training.steps):
        batch = make_task(task_name, training.batch_size, length, seed=train_seed(seed, step),
                          **training.task_kwargs)
        start = time.perf_counter()
        loss, accuracy = loss_and_accuracy(model(batch.x), batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if training.clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), training.clip)
        optimizer.step()
        train_seconds += time.perf_counter() - start
        curve_loss.append(loss.item())
        curve_accuracy.append(accuracy)
    test_loss, test_accuracy = evaluate(model, evaluation)
    result = {
        "mode": mode, "task": task_name, "length": length, "seed": seed,
        "bidirectional": bidirectional, "training": asdict(training),
        "params": sum(p.numel() for p in model.parameters()),
        "encoder_params": sum(p.numel() for p in model.encoder.parameters()),
        "test_accuracy": test_accuracy, "test_loss": test_loss,
        "seconds_per_step": train_seconds / max(1, training.steps),
        "curve": {"loss": curve_loss, "accuracy": curve_accuracy},
    }
    if keep_model:
        result["model"] = model
        result["evaluation"] = evaluation
    return result


@torch.no_grad()
def evaluate(model: SequenceModel, task: Task, batch_size: int = 256) -> tuple[float, float]:
    model.eval()
    total_loss, total_correct, count = 0.0, 0.0, 0
    n = task.x.shape[0]
    for start in range(0, n, batch_size):
        part = Task(task.name, task.x[start:start + batch_size], task.y[start:start + batch_size],
                    task.target, task.num_outputs)
        loss, accuracy = loss_and_accuracy(model(part.x), part)
        size = part.x.shape[0]
        total_loss += loss.item() * size
        total_correct += accuracy * size
        count += size
    model.train()
    return total_loss / count, total_correct / count
