"""``gatedrnn experiment`` and ``gatedrnn reproduce``: the chapter's claims, measured."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .options import FilePath
from .root import main


def _experiment_names():
    from ..experiments.catalog import NAMES
    return list(NAMES)


@main.command()
@click.argument("name", type=click.Choice(_experiment_names()))
@click.option("--quick", is_flag=True, help="Fewer seeds, lengths and steps (minutes, not tens).")
@click.option("--seeds", type=click.IntRange(min=1), default=None,
              help="Seeds per setting (default: 2-3 quick, 3-5 full).")
@click.option("--out", type=FilePath(file_okay=False, path_type=Path),
              default=Path("runs/experiments"), show_default=True,
              help="Directory for the figures and NAME.json.")
@click.option("--data", type=FilePath(exists=True, file_okay=False, path_type=Path),
              default=None, help="Treebank folder for bidirectional-pos [default: "
              "$GATEDRNN_UD_DIR or the cached download].")
@click.option("--json", "as_json", is_flag=True, help="Print the result table as JSON.")
def experiment(name, quick, seeds, out, data, as_json):
    """Run one of the chapter's experiments and print its table."""
    from ..experiments.reproduce import run_experiment
    from ..runinfo import environment

    try:
        result = run_experiment(name, out, quick=quick, seeds=seeds, show_progress=True,
                                data=data)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc
    payload = {**result.to_json(), "environment": environment(seed=0)}
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    from ..train.checkpoint import write_json_atomic
    write_json_atomic(path, payload, default=str)
    if as_json:
        click.echo(json.dumps(payload, indent=2, default=str))
        return
    click.echo(result.description)
    click.echo(result.markdown())
    for figure in result.figures:
        click.echo(f"figure: {figure}")
    click.echo(f"table: {path}  ({result.seconds:.0f} s)")


@main.command()
@click.option("--quick", is_flag=True, help="The ≤ 5-minute version: fewer seeds, lengths, steps.")
@click.option("--seeds", type=click.IntRange(min=1), default=None, help="Override seeds per setting.")
@click.option("--out", type=FilePath(file_okay=False, path_type=Path), default=None,
              help="Output directory [default: reproduce/quick or reproduce/full].")
@click.option("--only", multiple=True, type=click.Choice(_experiment_names()),
              help="Run only these experiments (repeatable).")
@click.option("--data", type=FilePath(exists=True, file_okay=False, path_type=Path),
              default=None, help="UD English EWT folder: adds bidirectional-pos to the full run "
              "[default: $GATEDRNN_UD_DIR or the cached download, skipped if neither].")
def reproduce(quick, seeds, out, only, data):
    """Run every experiment; write report.md, results.json and the figures."""
    from ..experiments.reproduce import reproduce as run_all

    out = out or Path("reproduce") / ("quick" if quick else "full")
    try:
        payload = run_all(out, quick=quick, seeds=seeds, show_progress=True,
                          only=list(only) or None, log=lambda m: click.echo(m, err=True),
                          data=data)
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted: finished experiments are in {out}/results.json and "
                   f"{out}/report.md", err=True)
        sys.exit(130)
    click.echo("")
    for claim in payload["claims"]:
        verdict = f"{claim['verdict']} {claim['condition']}".strip()
        click.echo(f"- {claim['quote']}: {verdict}")
    click.echo(f"\nreport: {out / 'report.md'}  ({payload['wall_seconds'] / 60:.1f} min)")
