"""The README stays a short user's guide whose links lead somewhere, and every results file the
docs name exists (mkdocs build --strict, in .ci/run, checks the site's own links)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_is_short():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 250


def test_every_relative_link_in_the_readme_exists():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text)
    relative = [link for link in links if not link.startswith(("http://", "https://"))]
    assert len(relative) > 10  # the headline table links its evidence
    missing = [link for link in relative if not (ROOT / link).exists()]
    assert not missing, missing


def test_every_results_file_the_docs_and_readme_name_exists():
    named = set()
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        if "results" in page.relative_to(ROOT).parts[1:2]:
            continue  # docs/results is the results folder itself
        named |= set(re.findall(r"results/((?:archive/)?[\w.-]+\.(?:json|png|txt))",
                                page.read_text(encoding="utf-8")))
    assert len(named) > 30
    missing = sorted(name for name in named if not (ROOT / "results" / name).exists())
    assert not missing, missing
