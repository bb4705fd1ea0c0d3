"""Random command lines, fuzzed (see reliability_fuzz): over the commands that need no download
and start no server, with junk values, real and missing paths; each must run, show help, or end
in one "Error:" line (click's usage errors included), never a traceback, and change no file."""

from __future__ import annotations

from pathlib import Path

from hypothesis import strategies as st
from reliability_fuzz import digest


def command_line(data, context, work: Path) -> str:
    """A random command line over the commands that need no download or server."""
    from click.testing import CliRunner

    from gatedrnn.cli import main
    junk = st.sampled_from(["", "-1", "0", "nan", "1e99", "x", "--", "--json", "--nope",
                            str(work / "missing"), str(context["imdb_archive"]),
                            str(context["sentiment"]), str(context["tagger"]), "é\u0000"])
    head = data.draw(st.sampled_from([["sentiment", "predict", str(context["sentiment"])],
                                      ["sentiment", "evaluate", "--data"],
                                      ["tagger", "predict", str(context["tagger"])],
                                      ["explain"], ["export"], ["embeddings", "info"],
                                      ["sentiment", "train", "--recipe"], ["tagger", "calibrate"],
                                      []]))
    argv = head + data.draw(st.lists(junk, max_size=5))
    before = [digest(context[k]) for k in ("imdb_archive", "sentiment", "tagger")]
    result = CliRunner().invoke(main, argv)
    assert [digest(context[k]) for k in ("imdb_archive", "sentiment", "tagger")] == before
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"gatedrnn {argv} crashed: {result.exception!r}")
    assert "Traceback" not in result.output
    if result.exit_code == 0:
        return "ran"
    if result.output.startswith("Usage:") and "Commands:" in result.output:
        return "help"  # a group without its command shows its commands
    last = result.output.strip().splitlines()[-1] if result.output.strip() else ""
    assert last.startswith("Error"), (argv, result.output)
    return f"exit {result.exit_code}"


READERS = {"command line": command_line}
