"""The command line answers at once: help, --version, completion and argument errors import no
torch (importing it takes ~2 s); the light name lists it shows agree with the real ones."""

import os
import subprocess
import sys

import click

from gatedrnn.cli import main

HEAVY = ("torch", "numpy", "matplotlib", "fastapi", "sklearn", "gensim")


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)


def command_paths(group=main, prefix=()):
    """Every command's argument path: (), ("sentiment",), ("sentiment", "train"), ..."""
    yield prefix
    if isinstance(group, click.Group):
        for name, command in group.commands.items():
            yield from command_paths(command, (*prefix, name))


def test_importing_the_cli_imports_no_heavy_module():
    done = run_python("import sys, gatedrnn.cli; "
                      f"print([m for m in {HEAVY!r} if m in sys.modules])")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_every_help_version_and_argument_error_imports_no_torch():
    helps = [[*path, "--help"] for path in command_paths()]
    assert len(helps) > 15
    errors = [["sentiment", "train", "--preset", "nope"], ["tagger", "train", "--epochs", "0"],
              ["sentiment", "predict"], ["no-such-command"]]
    code = f"""
import sys
import click
from gatedrnn.cli import main
for args in {[*helps, ["--version"]]!r}:
    main(args, standalone_mode=False)
for args in {errors!r}:
    try:
        main(args, standalone_mode=False)
        raise SystemExit(f"{{args}} was accepted")
    except click.UsageError:
        pass
print(sorted(m for m in {HEAVY!r} if m in sys.modules))
"""
    done = run_python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_shell_completion_offers_the_presets_without_torch():
    env = {**os.environ, "_GATEDRNN_COMPLETE": "bash_complete",
           "COMP_WORDS": "gatedrnn sentiment train --preset ", "COMP_CWORD": "4"}
    done = subprocess.run([sys.executable, "-c", "import sys; from gatedrnn.cli import main\n"
                           "try:\n    main(prog_name='gatedrnn')\nexcept SystemExit:\n    pass\n"
                           f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    offered = [line.split(",", 1)[1] for line in done.stdout.splitlines() if "," in line]
    assert {"fast", "seed", "nbsvm"} <= set(offered)
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_the_light_name_lists_match_the_modules_they_stand_for():
    from gatedrnn import sentiment, tagging
    from gatedrnn.experiments.catalog import NAMES
    from gatedrnn.experiments.reproduce import EXPERIMENTS

    from gatedrnn.sentiment import presets, recipes
    from gatedrnn.sentiment.pipeline import PipelineOptions

    assert list(NAMES) == list(EXPERIMENTS)
    assert sentiment.PRESETS is presets.PRESETS and tagging.PRESETS is tagging.presets.PRESETS
    for recipe in recipes.RECIPES.values():  # every recipe names what the package can run
        if recipe.pipeline is not None:
            PipelineOptions(**recipe.pipeline)
        for preset in recipe.presets():
            assert preset in presets.PRESETS, (recipe, preset)


def test_training_without_a_preset_runs_the_fast_one():
    train = main.commands["sentiment"].commands["train"]
    preset = next(p for p in train.params if p.name == "preset")
    assert preset.default == "fast"
    assert "the chapter's own" in preset.help
    from gatedrnn.sentiment import train as train_function
    import inspect
    assert inspect.signature(train_function).parameters["preset"].default == "fast"


def test_the_layers_still_import_from_the_package():
    import gatedrnn
    assert gatedrnn.LSTM.__name__ == "LSTM" and "GRU" in dir(gatedrnn)
    assert gatedrnn.nn.GRU is gatedrnn.GRU
