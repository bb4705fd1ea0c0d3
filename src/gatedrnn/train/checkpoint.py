"""Checkpoints are directories, written atomically.

    config.json       everything needed to rebuild the model and its input pipeline
    model.safetensors the weights
    vocab.json        the token list
    metrics.json      what the model scored when it was saved
    training.pt       optimizer/scheduler/progress for --resume (training checkpoints only)

A checkpoint is written into a temporary sibling directory (each file flushed to disk), then
renamed over the old one. A crash at any point leaves a complete checkpoint behind: the old one,
the new one, or the old one set aside as ``.NAME.old`` during the two renames, which
``recover`` (called before every save and load) puts back.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ..files import append_line, fsync, write_json_atomic  # noqa: F401 (used here and public here)

FORMAT = "gatedrnn-checkpoint"
VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint is missing, incomplete, or does not fit what it is loaded into."""


@contextlib.contextmanager
def staged(directory: Path):
    """A temporary sibling of ``directory`` to fill; when the block ends, its files are
    flushed to disk and it is renamed over ``directory`` (see _replace_dir)."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    recover(directory)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".tmp",
                                dir=directory.parent))
    try:
        yield tmp
        for path in tmp.iterdir():  # on disk before the rename makes them the checkpoint
            fsync(path)
        fsync(tmp)
        _replace_dir(tmp, directory)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def save(directory: str | Path, *, config: dict, state_dict: dict, vocab_tokens: list[str],
         metrics: dict, training_state: dict | None = None,
         files: dict[str, bytes] | None = None) -> Path:
    """Write the checkpoint (``files``: more of its own, e.g. a tokenizer's model, by name)."""
    directory = Path(directory)
    with staged(directory) as tmp:
        (tmp / "config.json").write_text(
            json.dumps({"format": FORMAT, "version": VERSION, **config}, indent=2),
            encoding="utf-8")
        tensors, seen = {}, set()
        for k, v in state_dict.items():
            v = v.detach().contiguous().cpu()
            # safetensors refuses tensors that share memory (tied weights): store a copy
            pointer = v.untyped_storage().data_ptr() if v.numel() else None
            tensors[k] = v.clone() if pointer in seen else v
            seen.add(pointer)
        save_file(tensors, str(tmp / "model.safetensors"))
        (tmp / "vocab.json").write_text(json.dumps({"itos": vocab_tokens}, ensure_ascii=False),
                                        encoding="utf-8")
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
        if training_state is not None:
            torch.save(training_state, tmp / "training.pt")
        for name, content in (files or {}).items():
            (tmp / name).write_bytes(content)
    return directory


def copy_directory(source: str | Path, target: str | Path) -> Path:
    """Copy a checkpoint directory over ``target`` as a save replaces one: into a temporary
    sibling first, then renamed into place, so a crash leaves the old one or the new one."""
    target = Path(target)
    with staged(target) as tmp:
        shutil.copytree(source, tmp, dirs_exist_ok=True)
    return target


def _set_aside(target: Path) -> Path:
    return target.with_name(f".{target.name}.old")


def _replace_dir(new: Path, target: Path) -> None:
    if not target.exists():
        os.replace(new, target)
        fsync(target.parent)
        return
    old = _set_aside(target)
    if old.exists():
        shutil.rmtree(old)
    # Between these two renames TARGET does not exist; recover() puts OLD back after a crash.
    os.replace(target, old)
    os.replace(new, target)
    fsync(target.parent)
    shutil.rmtree(old, ignore_errors=True)


def recover(directory: str | Path, writer: bool = True) -> bool:
    """After a crash between the two renames of a save: put the set-aside previous checkpoint
    back. The writer (a save or a resume) also removes the temporary directories of saves
    that never finished; a reader must not, since one may be a live save of a training still
    running. True if something was restored."""
    directory = Path(directory)
    if not directory.parent.is_dir():
        return False
    if writer:
        for stale in directory.parent.glob(f".{directory.name}.*.tmp"):
            shutil.rmtree(stale, ignore_errors=True)
    old = _set_aside(directory)
    if old.is_dir() and not directory.exists():
        os.replace(old, directory)
        return True
    if old.is_dir():  # the new one is complete: the crash came after the second rename
        shutil.rmtree(old, ignore_errors=True)
    return False


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
    except ValueError as exc:  # UnicodeDecodeError included
        raise CheckpointError(f"{path} is not valid JSON ({exc})") from exc
    if not isinstance(config, dict):
        raise CheckpointError(f"{path} holds a JSON {type(config).__name__}, not a checkpoint's "
                              "settings (an object)")
    if config.get("format") != FORMAT:
        raise CheckpointError(f"{directory} is not a gatedrnn checkpoint (format "
                              f"{config.get('format')!r})")
    if not isinstance(config.get("version", 0), int) or config.get("version", 0) > VERSION:
        raise CheckpointError(f"{directory} was written by a newer gatedrnn (checkpoint version "
                              f"{config['version']!r}); upgrade gatedrnn to load it")
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


def resolve(path: str | Path) -> Path:
    """A training output directory means its ``best/`` checkpoint (restored first if a crash
    interrupted its last save)."""
    path = Path(path)
    recover(path / "best", writer=False)
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
    """``model`` with the checkpoint's weights; a mismatch is a CheckpointError that says, in
    one line, what does not fit."""
    weights = load_weights(directory)
    expected = model.state_dict()
    missing = [k for k in expected if k not in weights]
    unexpected = [k for k in weights if k not in expected]
    shapes = [f"{k}: {list(weights[k].shape)} in the file, {list(v.shape)} expected"
              for k, v in expected.items() if k in weights and weights[k].shape != v.shape]
    if missing or unexpected or shapes:
        problems = [f"{len(missing)} weight(s) missing (e.g. {missing[0]})" if missing else "",
                    f"{len(unexpected)} unexpected (e.g. {unexpected[0]})" if unexpected else "",
                    f"{len(shapes)} of another shape (e.g. {shapes[0]})" if shapes else ""]
        raise CheckpointError(
            f"{directory}/model.safetensors does not fit config.json: "
            f"{'; '.join(p for p in problems if p)}. The files come from different models: "
            "copy the whole checkpoint directory, or train it again")
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:
        raise CheckpointError(f"{directory}/model.safetensors does not fit config.json "
                              f"({' '.join(str(exc).split())})") from exc
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
        tokens = json.loads(path.read_text(encoding="utf-8"))["itos"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{path} is not a vocab file ({type(exc).__name__}: {exc})") from exc
    if not isinstance(tokens, list) or not all(isinstance(token, str) for token in tokens):
        raise CheckpointError(f"{path}: \"itos\" must be a list of strings")
    return tokens


@contextlib.contextmanager
def building(directory: str | Path):
    """Around building a model from a checkpoint's files: a value of the wrong type or shape
    in them (an edited config.json, files from different checkpoints) becomes a one-line
    CheckpointError instead of an error from deep inside the model code."""
    try:
        yield
    except CheckpointError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
        raise CheckpointError(
            f"{directory}: config.json or vocab.json holds what no model can be built from "
            f"({type(exc).__name__}: {' '.join(str(exc).split())}); the files were edited or "
            "come from different checkpoints: copy the whole directory again") from exc


def load_training_state(directory: str | Path) -> dict | None:
    path = Path(directory) / "training.pt"
    if not path.exists():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises several types for a damaged file
        raise CheckpointError(f"{path} is corrupt or truncated ({exc}); train without "
                              "--resume, or into another --out") from exc


def read_lines(path: str | Path) -> list:
    """The JSON records of a log file written by ``append_line``, without a last line that a
    crash left unfinished (any other unreadable line is an error naming it)."""
    path = Path(path)
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError as exc:
            if number == len(lines):
                break  # cut by a crash mid-write; the next append removes it
            raise CheckpointError(f"{path}:{number} is not a JSON record ({exc}); the file "
                                  "was edited or damaged: fix or remove that line") from exc
    return records
