"""Crash safety: checkpoints survive a kill at any moment, and a resumed run ends where an
uninterrupted one does (the quick part of benchmarks/reliability.py's suite)."""

import json
import os
import sys
from pathlib import Path

import pytest
import torch

from gatedrnn.train import checkpoint

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import reliability_kill  # noqa: E402


def save(directory, value: float):
    return checkpoint.save(directory, config={"task": "test"},
                           state_dict={"w": torch.full((3,), value)}, vocab_tokens=["a"],
                           metrics={}, training_state={"step": value})


def test_a_crash_between_the_two_renames_of_a_save_loses_nothing(tmp_path):
    """The one moment a save leaves no last/: the old one set aside, the new one not yet in
    place. recover() (run before every save, resume and load) puts the old one back."""
    last = save(tmp_path / "last", 1.0)
    os.replace(last, tmp_path / ".last.old")  # the crash came between the renames
    (tmp_path / ".last.abc.tmp").mkdir()  # and a save that never finished
    assert checkpoint.recover(last)
    assert torch.equal(checkpoint.load_weights(last)["w"], torch.ones(3))
    assert not (tmp_path / ".last.old").exists() and not (tmp_path / ".last.abc.tmp").exists()
    save(last, 2.0)
    assert torch.equal(checkpoint.load_weights(last)["w"], torch.full((3,), 2.0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]


def test_a_training_output_whose_best_was_set_aside_still_loads(tmp_path):
    run = tmp_path / "run"
    save(run / "best", 1.0)
    os.replace(run / "best", run / ".best.old")
    assert checkpoint.resolve(run) == run / "best"
    assert checkpoint.read_config(run / "best")["task"] == "test"


def test_a_metrics_line_cut_by_a_crash_is_dropped_before_the_next(tmp_path):
    path = tmp_path / "metrics.jsonl"
    checkpoint.append_line(path, json.dumps({"epoch": 1}))
    with open(path, "a", encoding="utf-8") as f:
        f.write('{"epoch": 2, "valid_ac')  # killed mid-write
    checkpoint.append_line(path, json.dumps({"epoch": 2}))
    assert [json.loads(line) for line in path.read_text().splitlines()] == [{"epoch": 1},
                                                                          {"epoch": 2}]


def test_a_damaged_training_state_is_named_with_the_way_out(tmp_path):
    last = save(tmp_path / "last", 1.0)
    (last / "training.pt").write_bytes(b"\x80\x02garbage")
    with pytest.raises(checkpoint.CheckpointError, match="corrupt or truncated.*without --resume"):
        checkpoint.load_training_state(last)


@pytest.mark.parametrize("task", ["sentiment", "tagger", "lm"])
def test_killed_and_resumed_training_ends_with_the_uninterrupted_weights(
        task, tmp_path, imdb_archive, ud_treebank):
    """Two SIGKILLs (one at a random moment, one during a save) and resumes: every kill leaves
    a loadable checkpoint, and the final weights equal the uninterrupted run's bit for bit."""
    record = reliability_kill.kill_chain(task, {"imdb": imdb_archive, "ud": ud_treebank},
                                         tmp_path, kills=2, seed=1)
    assert record["kills"] == 2, record
    assert record["every_checkpoint_loadable"], record["points"]
    assert record["final_weights_bitwise_equal"], record


def test_a_log_line_cut_by_a_crash_is_skipped_on_reading_and_a_damaged_one_is_named(tmp_path):
    path = tmp_path / "trials.jsonl"
    path.write_text('{"trial": 1}\n{"trial": 2, "valid_acc', encoding="utf-8")
    assert checkpoint.read_lines(path) == [{"trial": 1}]  # the search reruns trial 2
    path.write_text('{"trial": 1}\nedited by hand\n{"trial": 3}\n', encoding="utf-8")
    with pytest.raises(checkpoint.CheckpointError, match="trials.jsonl:2 is not a JSON record"):
        checkpoint.read_lines(path)


def test_loading_a_run_leaves_the_temporary_directory_of_a_save_in_progress_alone(tmp_path):
    """`predict runs/x` while runs/x still trains: the reader must not delete the training's
    half-written save (only the writer clears leftovers)."""
    run = tmp_path / "run"
    save(run / "best", 1.0)
    live = run / ".best.abc.tmp"
    live.mkdir()
    assert checkpoint.resolve(run) == run / "best"
    assert live.is_dir()
    save(run / "best", 2.0)  # the next save, by the writer, clears what a crash left
    assert not live.exists()


def test_a_checkpoint_copied_over_another_replaces_it_whole(tmp_path):
    """What a recipe does with its winner (OUT/best): the old directory is replaced in one
    rename, and nothing temporary is left beside it."""
    first, second = save(tmp_path / "a", 1.0), save(tmp_path / "b", 2.0)
    target = tmp_path / "out" / "best"
    checkpoint.copy_directory(first, target)
    checkpoint.copy_directory(second, target)
    assert torch.equal(checkpoint.load_weights(target)["w"], torch.full((3,), 2.0))
    assert sorted(p.name for p in target.parent.iterdir()) == ["best"]
