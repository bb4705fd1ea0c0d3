"""Options and helpers the command groups share: paths, calibration and checkpoint flags,
training runs that can be interrupted, calibration reports, text files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


class FilePath(click.Path):
    """click.Path that refuses a NUL character with a usage error (the operating system's
    own check raises ValueError, which click does not expect)."""

    def convert(self, value, param, ctx):
        if isinstance(value, str) and "\x00" in value:
            self.fail(f"{value!r} contains a NUL character, which no file name can hold",
                      param, ctx)
        return super().convert(value, param, ctx)


NO_CALIBRATE = click.option(
    "--no-calibrate", is_flag=True,
    help="Raw scores: ignore the temperature fitted on the validation split at the end of "
         "training.")


def run_training(run, out: Path, errors: tuple):
    """Run a training call: Ctrl-C says how to resume, known errors become clean messages."""
    try:
        return run()
    except KeyboardInterrupt:
        saved = out / "last" if (out / "last").exists() else out
        click.echo(f"\ninterrupted: progress saved in {saved}; continue with the same "
                   "command and --resume", err=True)
        sys.exit(130)
    except errors as exc:
        raise click.ClickException(str(exc)) from exc


def report_training(summary: dict, out: Path, metric: str, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        where = (f"{out} (ensemble of {len(summary['ensemble'])})" if "ensemble" in summary
                 else out / "best")
        click.echo(f"best {metric} {summary['best_valid_accuracy']:.4f}; "
                   f"checkpoint: {where} ({summary['train_seconds'] / 60:.1f} min)")


def is_checkpoint(argument: str) -> bool:
    path = Path(argument)
    return (path / "config.json").is_file() or (path / "best" / "config.json").is_file()


CROPS = click.option(
    "--crops", type=click.IntRange(min=1), default=1, show_default=True,
    help="Test-time averaging: read reviews longer than --crop-length as this many evenly "
         "spaced windows and average their probabilities.")
CROP_LENGTH = click.option("--crop-length", type=click.IntRange(min=1), default=400,
                            show_default=True, help="Tokens per window with --crops.")


def echo_calibration(report: dict, unit: str) -> None:
    """The calibration lines evaluate prints: ECE and Brier (raw → calibrated) and the
    accuracy–coverage curve."""
    c = report["calibration"]
    if not c:
        return
    raw = c.get("uncalibrated")
    before = (f" (uncalibrated: ECE {100 * raw['ece']:.2f}%, Brier {raw['brier']:.4f})"
              if raw else "")
    temperature = c.get("temperature")
    if isinstance(temperature, dict):
        temperature = ", ".join(f"{k} {v:.3f}" for k, v in temperature.items())
    elif temperature is None:
        temperature = "members' own, averaged"
    else:
        temperature = f"{temperature:.3f}"
    click.echo(f"calibration (temperature {temperature}): ECE {100 * c['ece']:.2f}% "
               f"({c['ece_bins']} bins), Brier {c['brier']:.4f}, NLL {c['nll']:.4f}{before}")
    click.echo(f"accuracy by coverage (the most confident {unit} kept; use the threshold as "
               "--min-confidence):")
    for row in c["accuracy_coverage"]:
        click.echo(f"  {100 * row['coverage']:>4.0f}% coverage: accuracy {row['accuracy']:.4f} "
                   f"({row['examples']} {unit}, confidence >= {row['min_confidence']:.3f})")


def plot_reliability(report: dict, path: Path, title: str) -> None:
    from ..analysis.plots import reliability_diagram

    panels = {}
    if report["calibration"].get("raw_report"):
        panels["uncalibrated"] = report["calibration"].pop("raw_report")
    panels["calibrated" if panels else "as predicted"] = report["calibration"]
    click.echo(f"reliability diagram: {reliability_diagram(panels, path, title)}", err=True)


def read_text_file(path: Path) -> str:
    """A text file's content; bytes that are not UTF-8 are replaced, with a warning."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        click.echo(f"warning: {path} is not valid UTF-8 (byte {exc.start}); undecodable "
                   "bytes were replaced by U+FFFD", err=True)
        return raw.decode("utf-8", errors="replace")


# ---- word vectors ----------------------------------------------------------------------------


def refuse_options_beside_a_recipe(recipe: str, fixed: tuple[str, ...]) -> None:
    """A recipe is built as it was measured: any of the ``fixed`` parameters given on the
    command line is a usage error that says what to do instead."""
    from click.core import ParameterSource
    context = click.get_current_context()
    given = [name for name in fixed
             if context.get_parameter_source(name) not in (ParameterSource.DEFAULT, None)]
    if given:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        raise click.UsageError(f"--recipe {recipe} is built as it was measured, so {flags} "
                               "cannot change it: drop them, or train one model with --preset "
                               "and these options")


CHECKPOINT_MINUTES = click.option(
    "--checkpoint-minutes", type=click.FloatRange(min=0), default=None,
    help="Also save OUT/last within an epoch once this many minutes passed since the last save "
         "(0: after every batch) [default: 10]; --resume continues from it.")
