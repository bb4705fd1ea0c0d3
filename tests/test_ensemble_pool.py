"""benchmarks/ensemble_pool.py: checkpoints from several pipelines pooled into one ensemble."""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import ensemble_pool  # noqa: E402
from conftest import imdb_files, write_archive  # noqa: E402


def train_tiny(archive, out: Path, seed: int, split_by: str = "film") -> Path:
    from gatedrnn.sentiment import train
    train(archive, "tiny", out, seed=seed, split_seed=0, split_by=split_by,
          overrides={"epochs": 2}, show_progress=False, log=lambda m: None)
    return out


def step_record(path: Path, seconds: float, outs: dict[str, Path], calls: bool = True) -> None:
    """A pipeline step's record, as sentiment.pipeline.run_steps writes it (``calls``) or as
    versions before it wrote it, whose steps ran commands."""
    if calls:
        made = {"calls": {label: {"function": "gatedrnn.sentiment.training:train",
                                  "arguments": {"preset": "tiny", "out": str(out)}}
                          for label, out in outs.items()}}
    else:
        made = {"commands": {label: ["gatedrnn", "sentiment", "train", "--out", str(out)]
                             for label, out in outs.items()}}
    path.write_text(json.dumps({"seconds": seconds, "threads_each": 1, **made,
                                "summaries": {}}), encoding="utf-8")


@pytest.fixture(scope="module")
def imdb_archive(tmp_path_factory) -> Path:
    """Enough training reviews for a validation split the stack's 10 folds can cut (30)."""
    return write_archive(tmp_path_factory.mktemp("pool") / "aclImdb_v1.tar.gz",
                         imdb_files(per_class=150))


@pytest.fixture(scope="module")
def two_pipelines(tmp_path_factory, imdb_archive):
    """Work folder a with two members; b, a copy of a's member-0 (the way a pipeline reuses
    another's steps) and one model of its own."""
    a, b = tmp_path_factory.mktemp("a"), tmp_path_factory.mktemp("b")
    train_tiny(imdb_archive, a / "member-0", 0)
    train_tiny(imdb_archive, a / "member-1", 1)
    step_record(a / "members.step.json", 60.0, {"member-0": a / "member-0",
                                                "member-1": a / "member-1"})
    shutil.copytree(a / "member-0", b / "member-0")
    step_record(b / "members.step.json", 60.0, {"member-0": b / "member-0"})
    train_tiny(imdb_archive, b / "other", 2)
    step_record(b / "other.step.json", 30.0, {"other": b / "other"}, calls=False)
    return a, b


def test_the_pool_counts_a_copied_checkpoint_and_its_step_once(two_pipelines, imdb_archive,
                                                                tmp_path, capsys):
    a, b = two_pipelines
    ensemble_pool.main(["--data", str(imdb_archive), str(a / "member-0"), str(a / "member-1"),
                        str(b / "member-0"), str(b / "other"), "--out", str(tmp_path)])
    assert "counted once" in capsys.readouterr().out
    results = json.loads((tmp_path / "ensemble_pool.json").read_text(encoding="utf-8"))
    assert list(results["models"]) == [f"{a.name}/member-0", f"{a.name}/member-1",
                                       f"{b.name}/other"]
    # a's members step (both members) and b's own step; b's copy of a's step is the same step
    assert results["training_seconds"] == 90.0 and results["training_steps"] == 2
    assert set(results["rules"]) == set(ensemble_pool.RULES)
    assert results["final"]["rule"] == results["nested_valid"]["chosen"]
    for row in results["rows"].values():
        assert 0.0 <= row["valid"] <= 1.0 and 0.0 <= row["test"] <= 1.0


def test_a_checkpoint_with_another_validation_split_is_refused(two_pipelines, imdb_archive,
                                                               tmp_path):
    a, _ = two_pipelines
    by_review = train_tiny(imdb_archive, tmp_path / "by-review", 0, split_by="review")
    with pytest.raises(SystemExit, match="another validation split.*--split-by film"):
        ensemble_pool.main(["--data", str(imdb_archive), str(a / "member-0"), str(by_review)])


def test_one_checkpoint_twice_is_not_a_pool(two_pipelines, imdb_archive):
    a, b = two_pipelines
    with pytest.raises(SystemExit, match="two different checkpoints"):
        ensemble_pool.main(["--data", str(imdb_archive), str(a / "member-0"),
                            str(b / "member-0")])


def test_the_rule_is_chosen_on_held_out_folds_and_ties_go_to_the_simplest():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    sign = 2.0 * labels - 1
    perfect = np.stack([sign, sign], 1)
    assert ensemble_pool.nested_rule_estimates(perfect, labels)["chosen"] == "mean"
    # a good model and one that is as good but upside down: the averages cancel out, the
    # stack learns the second one's negative weight on the folds it is fitted on
    good = sign + 0.8 * rng.normal(size=len(labels))
    flipped = -(sign + 0.8 * rng.normal(size=len(labels)))
    estimates = ensemble_pool.nested_rule_estimates(np.stack([good, flipped], 1), labels)
    assert estimates["chosen"] == "stacked"
    assert estimates["stacked"] > 0.85 > estimates["mean"]
