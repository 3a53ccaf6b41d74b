"""The package layout is the architecture: data -> artifact -> engine -> models -> methods ->
classifier -> distill -> setfit -> serving -> compare -> cli. A module may import its own layer or lower ones,
never a higher one (function-level imports included), so each layer can be read, tested and
replaced without the ones above it. CONTRIBUTING.md draws the same picture."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "textune"
LAYERS = ["data", "artifact", "metrics", "engine", "models", "methods", "classifier", "distill",
          "setfit", "serving", "compare", "demo", "cli"]
# the package root (its __init__ re-exports the API; `__version__` lives there), `__main__`
# and the 0.2 import names sit on top
TOP = {"__init__", "__main__", "batch_predict", "onnx_export"}


def _layer(parts: tuple[str, ...]) -> int:
    head = parts[0] if parts else "__init__"
    if head in TOP:
        return len(LAYERS)
    if head not in LAYERS:
        raise AssertionError(f"textune.{head} belongs to no layer; add it to LAYERS in "
                             f"{Path(__file__).name} (and to CONTRIBUTING.md).")
    return LAYERS.index(head)


def _imports(path: Path):
    """(line, imported textune module parts) for every import in `path`."""
    rel = path.relative_to(SRC).with_suffix("").parts
    package = rel[:-1] if rel[-1] != "__init__" else rel[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)] if node.level > 1 else package
                target = base + tuple(node.module.split(".")) if node.module else base
            elif node.module and node.module.split(".")[0] == "textune":
                target = tuple(node.module.split(".")[1:])
            else:
                continue
            if not target:  # `from . import x` / `from .. import x` at the package root
                names = [a.name for a in node.names]
                yield from ((node.lineno, (n,)) for n in names if n != "__version__")
            else:
                yield node.lineno, target
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "textune":
                    yield node.lineno, tuple(a.name.split(".")[1:])


MODULES = sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_upward_imports(path):
    own = _layer(path.relative_to(SRC).with_suffix("").parts)
    upward = [f"line {line}: textune.{'.'.join(t)}" for line, t in _imports(path)
              if t and _layer(t) > own]
    assert not upward, (f"{path.relative_to(SRC)} (layer {LAYERS[own] if own < len(LAYERS) else 'top'}) "
                        f"imports higher layers: {upward}")


def test_every_method_is_one_module_in_methods():
    from textune.methods import METHODS

    for name, method in METHODS.items():
        module = method.__module__
        assert module.startswith("textune.methods."), (name, module)
        assert {"name", "summary", "config", "hints", "fit"} <= set(dir(method)), name


HEAVY = ("torch", "transformers", "peft", "sentence_transformers", "accelerate")
LIGHT_CHECK = f'''
import sys
from typer.testing import CliRunner

import textune.cli, textune.methods

textune.methods.all_knobs(), textune.methods.readers()
for args in (["--help"], ["methods"], ["train", "--help"]):
    r = CliRunner().invoke(textune.cli.app, args)
    assert r.exit_code == 0, (args, r.output)
print(sorted(m for m in {HEAVY!r} if m in sys.modules))
'''


def test_the_command_line_and_the_method_registry_import_no_ml_stack():
    """`textune --help`, `textune methods`, `textune train --help` and the knob registry load
    no torch, transformers, peft, sentence_transformers or accelerate (seconds each): a
    method module imports them inside `fit`, and what a knob declaration needs (PEFT_METHODS,
    LONG_TEXT, the loss names) lives in a module that imports none of them."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(SRC.parent)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
                             if p])}
    r = subprocess.run([sys.executable, "-c", LIGHT_CHECK], env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]", (
        f"importing textune.cli / textune.methods loaded {r.stdout.strip()}: move that "
        f"import into the function that uses it")


# ------------------------------------------------------------------------------ cycles


def _module(parts: tuple[str, ...]) -> tuple[str, ...]:
    """The module a path's parts name: a package is its `__init__`."""
    return parts[:-1] if parts and parts[-1] == "__init__" else parts


def _is_module(parts: tuple[str, ...]) -> bool:
    path = SRC.joinpath(*parts) if parts else SRC
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _run_time_nodes(tree: ast.AST):
    """Every node except those under `if TYPE_CHECKING:` (annotations, never executed)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr",
                                                                        None)) == "TYPE_CHECKING":
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _module_imports(path: Path) -> set[tuple[str, ...]]:
    """The textune modules `path` imports when it runs, function-level imports included;
    `from package import submodule` counts as importing the submodule."""
    rel = path.relative_to(SRC).with_suffix("").parts
    package = rel[:-1]
    out = set()
    for node in _run_time_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)]
                target = base + tuple(node.module.split(".")) if node.module else base
            elif node.module and node.module.split(".")[0] == "textune":
                target = tuple(node.module.split(".")[1:])
            else:
                continue
            for alias in node.names:
                if _is_module(target + (alias.name,)):
                    out.add(target + (alias.name,))
                elif target or alias.name != "__version__":  # the root's version: a constant
                    out.add(target)
        elif isinstance(node, ast.Import):
            out.update(tuple(a.name.split(".")[1:]) for a in node.names
                       if a.name.split(".")[0] == "textune")
    return out - {_module(rel)}


def _cycles(graph: dict) -> list[list[tuple[str, ...]]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict = {}
    low: dict = {}
    stack: list = []
    on_stack: set = set()
    found = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def test_no_import_cycles():
    """No two textune modules import each other, directly or round a loop, at any level
    (function-level imports too; `if TYPE_CHECKING:` blocks excepted): a cycle means two
    concerns that cannot be read or changed apart, whatever the layers say."""
    graph = {_module(p.relative_to(SRC).with_suffix("").parts): _module_imports(p)
             for p in MODULES}
    cycles = [" -> ".join(".".join(("textune",) + m) for m in c) for c in _cycles(graph)]
    assert not cycles, f"import cycles: {cycles}; move what both sides need into a module " \
                       "that imports neither"


def test_the_cycle_check_finds_a_cycle():
    graph = {("a",): {("b",)}, ("b",): {("c",)}, ("c",): {("a",)}, ("d",): {("a",)}}
    assert _cycles(graph) == [[("a",), ("b",), ("c",)]]


def test_the_onnx_runtime_and_batch_prediction_import_no_ml_stack():
    """Serving an ONNX export needs onnxruntime and tokenizers only: the runtime, the
    predictor protocol and the batch functions import torch only when a torch model loads."""
    import os
    import subprocess
    import sys

    code = ("import sys\nimport textune.serving.onnx_runtime, textune.serving.batch, "
            "textune.serving.predictor\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(SRC.parent)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
                             if p])}
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]", r.stdout
