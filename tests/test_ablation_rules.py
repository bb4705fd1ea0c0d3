"""benchmarks/imdb_ablation.py's sweep of adversarial push sizes."""

import argparse
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import imdb_ablation  # noqa: E402


def parser():
    return argparse.ArgumentParser(prog="imdb_ablation")


def test_each_epsilon_is_a_row_trained_with_it():
    assert imdb_ablation.sweep_rows(parser(), [0.1, 1.0, 3]) == {
        "adversarial-0.1": "0.1", "adversarial-1": "1", "adversarial-3": "3"}
    assert imdb_ablation.sweep_rows(parser(), []) == {}


@pytest.mark.parametrize("epsilon, message", [(0.0, "above 0"), (-1.0, "above 0"),
                                              (float("nan"), "above 0"),
                                              (0.3, "add the row to --rows")])
def test_sizes_it_cannot_train_are_refused(epsilon, message, capsys):
    with pytest.raises(SystemExit):
        imdb_ablation.sweep_rows(parser(), [epsilon])
    assert message in capsys.readouterr().err
