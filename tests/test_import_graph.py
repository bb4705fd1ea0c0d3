"""The package's layers import downwards only: nn at the bottom (it imports nothing of the
package), then data, models, train, the registry, the tasks, and the command line and server on
top; no two parts import each other, no module is part of an import circle (inside a part
too), and nothing below the command line imports it or runs it (read from the source, lazy
imports inside functions included)."""

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
    "registry": 4,  # tasks and model kinds; it finds the tasks by looking, importing none
    "tagging": 5, "lm": 5,
    "classify": 6,   # text classification on one's own data: prediction, training core
    "entities": 6,   # named entities: the tagger's word reading under a CRF
    "sentiment": 7,  # IMDb's defaults over classify; its ULMFiT members start from lm's models
    "pretrain": 8, "search": 8, "analysis": 8, "export": 8,  # on the tasks
    "experiments": 9, "serve": 9,
    "cli": 10, "__init__": 10,
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
    assert "registry" in edges["export"] and "lm" in edges["sentiment"]


# ---- modules: no circle anywhere ------------------------------------------------------------


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in ROOT.rglob("*.py")}


def imported_modules(path: Path) -> set[str]:
    """The package's modules that the module at ``path`` imports, anywhere in its code
    (``from .x import y`` counts as importing x.y when y is a module, else x)."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = (package[:len(package) - node.level + 1] if node.level else [])
            target = ".".join(base + (node.module.split(".") if node.module else []))
            for alias in node.names:
                child = f"{target}.{alias.name}"
                found.add(child if child in MODULES else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in MODULES} - {module_name(path)}


def module_graph() -> dict[str, set[str]]:
    return {name: imported_modules(path) for name, path in MODULES.items()}


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in edges.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_module_is_part_of_an_import_circle():
    # a package's __init__ that names its submodules lazily is not an import of them; the
    # submodules importing their package's __init__ would close a circle through it
    assert circles(module_graph()) == []


def test_the_circle_finder_finds_circles():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []
    edges = module_graph()
    assert "gatedrnn.classify.predict" in edges["gatedrnn.classify.ensemble"]


def test_nothing_below_the_command_line_imports_or_runs_it():
    offenders = []
    for name, path in MODULES.items():
        if name.startswith("gatedrnn.cli"):
            continue
        if any(m.startswith("gatedrnn.cli") for m in imported_modules(path)):
            offenders.append(f"{name} imports gatedrnn.cli")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and (
                    node.value.startswith("gatedrnn.cli") or node.value == "gatedrnn"
                    and _in_a_call_list(node, path)):
                offenders.append(f"{name} names {node.value!r} as a command to run")
            if isinstance(node, (ast.Import, ast.ImportFrom)) and any(
                    alias.name == "subprocess" for alias in node.names) and not name.endswith(
                    "runinfo"):  # runinfo asks git for the commit, nothing else
                offenders.append(f"{name} imports subprocess")
    assert offenders == []


def _in_a_call_list(node: ast.Constant, path: Path) -> bool:
    """Is this "gatedrnn" string an element of a list (an argv being built)?"""
    for parent in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(parent, ast.List) and any(
                isinstance(e, ast.Constant) and e.value == "gatedrnn" and
                e.lineno == node.lineno and e.col_offset == node.col_offset
                for e in parent.elts):
            return True
    return False
