"""results/INDEX.md lists every results file with its command, date, machine and headline, and
stays in step with the files (benchmarks/results_index.py)."""

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import results_index  # noqa: E402


def test_the_committed_index_is_what_the_catalog_and_files_give():
    assert results_index.main(["--check"]) == 0, "run python benchmarks/results_index.py"


@pytest.fixture
def results(tmp_path):
    root = tmp_path / "results"
    root.mkdir()
    (root / "run.json").write_text('{"environment": {"date": "2026-12-05T10:00:00", "cpu": '
                                   '"Xeon", "cpu_count": 2}, "test": {"accuracy": 0.9302}}')
    (root / "catalog.toml").write_text('[files."run.json"]\nstatus = "current"\nabout = "a run"\n'
                                       'command = "python benchmarks/x.py"\n'
                                       'headline = "{test|accuracy:%} test"\n')
    return root


def test_a_row_reads_its_headline_date_and_machine_from_the_file(results):
    text = results_index.build_index(results)
    assert ("| `run.json` | a run | 93.02% test | 2026-12-05 | Xeon (2 cores) | "
            "`python benchmarks/x.py` |") in text


def test_a_file_missing_from_the_catalog_is_named(results):
    (results / "new.json").write_text("{}")
    with pytest.raises(results_index.CatalogError, match="not in results/catalog.toml: new.json"):
        results_index.build_index(results)


def test_a_headline_naming_a_value_the_file_lacks_is_an_error(results):
    catalog = results / "catalog.toml"
    catalog.write_text(catalog.read_text().replace("test|accuracy", "test|loss"))
    with pytest.raises(results_index.CatalogError, match=r"run.json: no value at 'test\|loss'"):
        results_index.build_index(results)


def test_superseded_files_are_looked_for_in_the_archive(results):
    catalog = results / "catalog.toml"
    catalog.write_text(catalog.read_text().replace('"current"', '"superseded"'))
    with pytest.raises(results_index.CatalogError, match="does not exist"):
        results_index.build_index(results)
    (results / "archive").mkdir()
    shutil.move(results / "run.json", results / "archive" / "run.json")
    assert "`archive/run.json`" in results_index.build_index(results)
