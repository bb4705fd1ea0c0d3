"""Bad input, fuzzed with Hypothesis (the quick part of benchmarks/reliability.py): every reader
and the command line get damaged, foreign and odd inputs, and each case either loads or ends in
the reader's own one-line error, changing no file."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import reliability_fuzz  # noqa: E402
import reliability_fuzz_cli  # noqa: E402

READERS = {**reliability_fuzz.READERS, **reliability_fuzz_cli.READERS}


@pytest.fixture(scope="module")
def context(tmp_path_factory, imdb_archive, ud_treebank, trained_sentiment):
    from gatedrnn.tagging import train
    tagger = tmp_path_factory.mktemp("fuzz_tagger") / "run"
    train(ud_treebank, "tiny", tagger, overrides={"epochs": 1}, show_progress=False,
          log=lambda m: None)
    return {"imdb_archive": imdb_archive, "sentiment": trained_sentiment / "best",
            "tagger": tagger / "best",
            "conllu": next(ud_treebank.glob("*train*.conllu")).read_text(encoding="utf-8")}


@pytest.mark.parametrize("reader", sorted(READERS))
def test_no_input_crashes_a_reader(reader, context):
    record = reliability_fuzz.fuzz(reader, 150, context, READERS)
    assert record["cases"] == 150
    assert sum(n for outcome, n in record["outcomes"].items()
               if outcome not in ("loaded", "parsed", "ran", "help")) > 0  # errors were reached
