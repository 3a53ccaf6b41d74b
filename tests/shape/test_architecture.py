"""The package layout is the architecture: data -> artifact -> engine -> models -> methods ->
classifier -> serving -> compare -> cli. A module may import its own layer or lower ones,
never a higher one (function-level imports included), so each layer can be read, tested and
replaced without the ones above it. CONTRIBUTING.md draws the same picture."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "textune"
LAYERS = ["data", "artifact", "metrics", "engine", "models", "methods", "classifier", "setfit",
          "serving",
          "compare", "demo", "cli"]
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
