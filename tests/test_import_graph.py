"""The package's layers import downwards only: nn at the bottom (it imports nothing of the
package), then data, models, train, the tasks, and the command line and server on top; no two
parts import each other (read from the source, lazy imports inside functions included)."""

import ast
from collections import defaultdict
from pathlib import Path

import gatedrnn

ROOT = Path(gatedrnn.__file__).parent
# each part, and the layer it sits in (a part may import parts of lower layers only)
LAYERS = {
    "runinfo": 0, "nn": 0, "_lazy": 0, "files": 0,
    "data": 1,
    "models": 2,
    "train": 3,
    "sentiment": 4, "tagging": 4,
    "pretrain": 5, "search": 5, "analysis": 5, "export": 5,  # on the tasks
    "experiments": 6, "serve": 6, "lm": 6,  # lm: evaluating and sampling pretrain's models
    "cli": 7, "__init__": 7,
}


def part_of(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("").parts
    return relative[0] if relative[0] != "__init__" or len(relative) > 1 else "__init__"


def imported_parts(path: Path) -> set[str]:
    """The package's parts that the module at ``path`` imports, anywhere in its code."""
    package = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    package = package[:-1]  # a module's own package (for __init__: the package itself)
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                target = package[:len(package) - node.level + 1] + (
                    node.module.split(".") if node.module else [])
            else:
                target = (node.module or "").split(".")
            if target[0] != "gatedrnn":
                continue
            names = [a.name for a in node.names] if len(target) == 1 else [target[1]]
            found.update(n for n in names if n in LAYERS)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                target = alias.name.split(".")
                if target[0] == "gatedrnn" and len(target) > 1:
                    found.add(target[1])
    return found


def graph() -> dict[str, set[str]]:
    edges = defaultdict(set)
    for path in ROOT.rglob("*.py"):
        part = part_of(path)
        assert part in LAYERS, f"{path}: a new part of the package; give it a layer in LAYERS"
        edges[part] |= imported_parts(path) - {part}
    return edges


def test_nn_imports_nothing_from_the_package():
    assert graph()["nn"] == set()


def test_every_import_goes_down_a_layer():
    wrong = [f"{part} (layer {LAYERS[part]}) imports {other} (layer {LAYERS[other]})"
             for part, imported in graph().items() for other in imported
             if LAYERS[other] >= LAYERS[part]]
    assert not wrong, wrong


def test_the_reader_finds_what_it_should():
    """The graph is read right: known imports are there (a test that cannot fail is none)."""
    edges = graph()
    assert {"data", "models", "train"} <= edges["sentiment"]
    assert "sentiment" in edges["pretrain"] and "nn" in edges["models"]
