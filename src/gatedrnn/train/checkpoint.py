"""Checkpoints are directories, written atomically.

    config.json       everything needed to rebuild the model and its input pipeline
    model.safetensors the weights
    vocab.json        the token list
    metrics.json      what the model scored when it was saved
    training.pt       optimizer/scheduler/progress for --resume (training checkpoints only)

A checkpoint is written into a temporary sibling directory and renamed over the old one, so a
crash mid-write leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

FORMAT = "gatedrnn-checkpoint"
VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint is missing, incomplete, or does not fit what it is loaded into."""


def save(directory: str | Path, *, config: dict, state_dict: dict, vocab_tokens: list[str],
         metrics: dict, training_state: dict | None = None) -> Path:
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        (tmp / "config.json").write_text(
            json.dumps({"format": FORMAT, "version": VERSION, **config}, indent=2),
            encoding="utf-8")
        tensors = {k: v.detach().contiguous().cpu() for k, v in state_dict.items()}
        save_file(tensors, str(tmp / "model.safetensors"))
        (tmp / "vocab.json").write_text(json.dumps({"itos": vocab_tokens}, ensure_ascii=False),
                                        encoding="utf-8")
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
        if training_state is not None:
            torch.save(training_state, tmp / "training.pt")
        _replace_dir(tmp, directory)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return directory


def _replace_dir(new: Path, target: Path) -> None:
    if not target.exists():
        os.replace(new, target)
        return
    old = target.with_name(f".{target.name}.old")
    if old.exists():
        shutil.rmtree(old)
    os.replace(target, old)
    os.replace(new, target)
    shutil.rmtree(old, ignore_errors=True)


def read_config(directory: str | Path) -> dict:
    directory = Path(directory)
    path = directory / "config.json"
    if not directory.is_dir():
        raise CheckpointError(f"{directory} is not a checkpoint directory (it does not exist or "
                              "is a file); train one with 'gatedrnn sentiment train'")
    if not path.exists():
        raise CheckpointError(f"{directory} has no config.json: not a gatedrnn checkpoint")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise CheckpointError(f"{path} is not valid JSON ({exc})") from exc
    if config.get("format") != FORMAT:
        raise CheckpointError(f"{directory} is not a gatedrnn checkpoint (format "
                              f"{config.get('format')!r})")
    if config.get("version", 0) > VERSION:
        raise CheckpointError(f"{directory} was written by a newer gatedrnn (checkpoint version "
                              f"{config['version']}); upgrade gatedrnn to load it")
    return config


def update_config(directory: str | Path, **fields) -> dict:
    """Add or replace top-level ``fields`` of a checkpoint's config.json, atomically: the new
    file is written and flushed beside the old one, then renamed over it, so a crash leaves
    either the old config or the new one, never half of one."""
    directory = Path(directory)
    config = read_config(directory)
    config.update(fields)
    write_json_atomic(directory / "config.json", config)
    return config


def write_json_atomic(path: str | Path, payload) -> None:
    """Write ``payload`` as JSON to ``path`` through a flushed temporary file and a rename."""
    path = Path(path)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(json.dumps(payload, indent=2) + "\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def resolve(path: str | Path) -> Path:
    """A training output directory means its ``best/`` checkpoint."""
    path = Path(path)
    return path / "best" if (path / "best" / "config.json").exists() else path


def open_for_task(path: str | Path, task: str, noun: str, train_hint: str) -> tuple[Path, dict]:
    """The checkpoint directory behind ``path`` and its config, checked to be a ``task`` one.

    ``noun`` names the task in the error ("a tagger"); ``train_hint`` says how to make one.
    """
    directory = resolve(path)
    if not directory.exists():
        raise CheckpointError(f"no checkpoint at {directory}; {train_hint}")
    config = read_config(directory)
    if config.get("task") != task:
        raise CheckpointError(f"{directory} is a {config.get('task')!r} checkpoint, not {noun}")
    return directory, config


def check_vocab(directory: Path, config: dict, fingerprint: str, expected: int, actual: int,
                unit: str) -> None:
    """vocab.json must be the one the model was trained with, and as long as it expects."""
    if config.get("vocab_fingerprint") not in (None, fingerprint):
        raise CheckpointError(
            f"{directory}/vocab.json does not match the vocabulary the model was trained "
            "with (fingerprint differs); the checkpoint was mixed with another one")
    if expected != actual:
        raise CheckpointError(f"{directory}: the model expects {expected} {unit} but vocab.json "
                              f"has {actual}")


def load_into(model, directory: Path):
    """``model`` with the checkpoint's weights; a mismatch is a CheckpointError."""
    try:
        model.load_state_dict(load_weights(directory))
    except RuntimeError as exc:
        raise CheckpointError(
            f"{directory}/model.safetensors does not fit config.json ({exc})") from exc
    return model


def load_weights(directory: str | Path) -> dict:
    path = Path(directory) / "model.safetensors"
    if not path.exists():
        raise CheckpointError(f"{directory} has no model.safetensors")
    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types
        raise CheckpointError(f"{path} is corrupt or truncated ({exc})") from exc


def load_vocab_tokens(directory: str | Path) -> list[str]:
    path = Path(directory) / "vocab.json"
    if not path.exists():
        raise CheckpointError(f"{directory} has no vocab.json")
    try:
        return json.loads(path.read_text(encoding="utf-8"))["itos"]
    except (ValueError, KeyError) as exc:
        raise CheckpointError(f"{path} is not a vocab file ({exc})") from exc


def load_training_state(directory: str | Path) -> dict | None:
    path = Path(directory) / "training.pt"
    if not path.exists():
        return None
    return torch.load(path, map_location="cpu", weights_only=False)


def read_metrics(directory: str | Path) -> dict:
    path = Path(directory) / "metrics.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
