"""``gatedrnn serve``, ``explain`` and ``export``: a trained model over HTTP, its gates read out,
and an ONNX file."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .options import NO_CALIBRATE, FilePath
from .root import main


@main.command()
@click.argument("checkpoints", nargs=-1, type=FilePath(path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--onnx", is_flag=True, help="Run sentiment models in onnxruntime (exported at "
              "start-up; needs onnxruntime). /explain still uses PyTorch.")
@NO_CALIBRATE
def serve(checkpoints, host, port, onnx, no_calibrate):
    """Serve checkpoints over HTTP: /predict, /tag, /explain, /health, the page at /, /docs.

    Without CHECKPOINTS it serves runs/sentiment and runs/tagger, where they exist. It
    listens on 127.0.0.1 only unless --host says otherwise (--host 0.0.0.0 for every
    interface: put it behind a proxy that limits who may call it).
    """
    import uvicorn

    from ..serve.app import build
    from ..train.checkpoint import CheckpointError

    try:
        app = build(list(checkpoints) or None, onnx=onnx, calibrated=not no_calibrate)
    except (CheckpointError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"serving {', '.join(m['name'] for m in _model_names(app))} on "
               f"http://{host}:{port}/ (API docs at /docs)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _model_names(app):
    from fastapi.testclient import TestClient
    return TestClient(app).get("/health").json()["models"]


@main.command()
@click.argument("checkpoint", type=FilePath(path_type=Path))
@click.argument("text", nargs=-1, required=True)
@click.option("--units", type=click.IntRange(0, 64), default=4, show_default=True,
              help="Hidden units to list in the gate summary.")
@click.option("--token", type=click.IntRange(min=0), default=None,
              help="A tagger or entity tagger: the token (its index) whose tag the "
                   "contributions explain [default: the least confident one].")
@click.option("--json", "as_json", is_flag=True, help="Print the whole explanation as JSON.")
@NO_CALIBRATE
def explain(checkpoint, text, units, token, as_json, no_calibrate):
    """Colour TEXT's tokens by their contribution to the decision; summarise the gates.

    A text classifier: its label for TEXT. A tagger or entity tagger: every token's tag, and
    what decided one token's (--token)."""
    from .. import registry
    from ..analysis.explain import explain as run_explain
    from ..analysis.explain import explain_tags
    from ..models.tagger import ReadsWords
    from ..train.checkpoint import CheckpointError

    try:  # any text classifier (an ensemble of them too), tagger or entity tagger
        model = registry.load(checkpoint, calibrated=not no_calibrate)
        members = getattr(model, "members", None)
        if members and isinstance(getattr(members[0], "model", None), ReadsWords):
            click.echo(f"a tagger ensemble: below, its first member {members[0].source} (1 of "
                       f"{len(members)})", err=True)
            model = members[0]
        if isinstance(getattr(model, "model", None), ReadsWords):
            result = explain_tags(model, " ".join(text), units=units, token=token)
        elif registry.task(registry.kind_of(model).task).route == "predict":
            result = run_explain(model, " ".join(text), units=units)
        else:
            noun = registry.task(registry.kind_of(model).task).noun
            raise CheckpointError(f"{checkpoint} is {noun}: explain reads text classifiers, "
                                  "taggers and entity taggers")
    except (CheckpointError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    if "tagged" in result:
        tags = result["tagged"].get("upos") or result["tagged"].get("tags")
        click.echo(" ".join(f"{t}/{g}" for t, g in zip(result["tokens"], tags)))
    else:
        click.echo(f"{result['label']} ({100 * result['confidence']:.1f}%)")
    member = result.get("explained_member")
    if member:  # an ensemble: what follows is one member's reading
        click.echo(f"the ensemble's decision; below, its member {member['source']} (1 of "
                   f"{member['of']}; alone: {member['label']} "
                   f"{100 * member['confidence']:.1f}%)")
    _echo_contributions(result)
    _echo_gates(result)


def _echo_contributions(result: dict) -> None:
    scale = max([abs(c) for c in result["contributions"]] + [1e-9])
    words = []
    for token, value in zip(result["tokens"], result["contributions"]):
        strength = abs(value) / scale
        base = (46, 160, 67) if value >= 0 else (214, 39, 40)
        colour = tuple(int(255 + strength * (c - 255)) for c in base)  # white → full colour
        words.append(click.style(f" {token} ", bg=colour, fg="black"))
    click.echo("".join(words))
    target = result["contribution_target"]
    click.echo(f"green: towards {target}, red: against (gradient × input on the embeddings)")
    ranked = sorted(zip(result["contributions"], result["tokens"]))
    if ranked:
        click.echo("strongest for " + target + ": " + ", ".join(
            f"{t} {c:+.2f}" for c, t in ranked[::-1][:5] if c > 0))
        click.echo("strongest against: " + ", ".join(f"{t} {c:+.2f}" for c, t in ranked[:5]
                                                     if c < 0))


def _echo_gates(result: dict) -> None:
    for key, gates in result["gates"].items():
        parts = []
        for name, values in gates.items():
            if not values:
                continue
            mean = sum(values) / len(values)
            low = min(range(len(values)), key=values.__getitem__)
            parts.append(f"{name} mean {mean:.2f} (lowest {values[low]:.2f} at "
                         f"'{result['tokens'][low]}')")
        if parts:
            click.echo(f"{result['mode']} {key}: " + "; ".join(parts))
    for unit in result["units"]:
        values = unit["values"]
        peak = max(range(len(values)), key=lambda i: abs(values[i]))
        click.echo(f"unit {unit['unit']}: peaks at '{result['tokens'][peak]}' "
                   f"({values[peak]:+.2f})")


@main.command()
@click.argument("checkpoint", type=FilePath(path_type=Path))
@click.option("--onnx", "onnx_path", type=FilePath(dir_okay=False, path_type=Path),
              required=True, help="Where to write the .onnx file.")
@click.option("--opset", type=click.IntRange(min=14), default=17, show_default=True)
@click.option("--no-check", is_flag=True, help="Skip the onnxruntime parity check.")
@click.option("--no-calibrate", is_flag=True,
              help="Export the raw network: without the temperature fitted at the end of "
                   "training (by default the graph divides the logits by it).")
def export(checkpoint, onnx_path, opset, no_check, no_calibrate):
    """Export a classifier, tagger or entity tagger checkpoint to ONNX (any batch size and
    length)."""
    from ..export import check_parity, export_onnx
    from ..train.checkpoint import CheckpointError

    try:
        info = export_onnx(checkpoint, onnx_path, opset, calibrated=not no_calibrate)
    except CheckpointError as exc:
        raise click.ClickException(str(exc)) from exc
    temperatures = ", ".join(f"{k} {v:.3f}" for k, v in info["metadata"].items()
                             if isinstance(v, (int, float)))  # tag names are metadata too
    click.echo(f"wrote {onnx_path} ({info['task']}): inputs {', '.join(info['inputs'])}; "
               f"outputs {', '.join(info['outputs'])}" + (f"; {temperatures}" if temperatures
                                                          else ""))
    if "decoding" in info["metadata"]:  # what runs after the graph (an entity tagger's Viterbi)
        click.echo(f"decoding: {info['metadata']['decoding']}")
    if no_check:
        return
    try:
        worst = check_parity(onnx_path, info["graph"], [info["example"]])
    except ImportError:
        click.echo("onnxruntime is not installed: parity not checked "
                   "(pip install onnxruntime)", err=True)
        return
    click.echo(f"onnxruntime vs PyTorch: max |difference| {worst:.2e}")
    if worst > 1e-4:
        raise click.ClickException(f"the exported graph differs from PyTorch by {worst:.2e}")
