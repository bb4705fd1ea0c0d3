"""The root ``gatedrnn`` group: version, threads."""

from __future__ import annotations

import click

from .. import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gatedrnn")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads for torch (default: torch's choice).")
def main(threads):
    """Gated recurrent networks (RNN, LSTM, GRU) from their equations, measured."""
    if threads:
        import torch
        torch.set_num_threads(threads)
