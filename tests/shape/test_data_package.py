"""The shape of `textune.data`: small modules, nothing imported from above, no cycles.

`data/` is the bottom of textune: everything else reads data through it, so an import of
textune outside `data/` would be upward (and, sooner or later, circular).
"""

import ast
from pathlib import Path

import textune.data

DATA = Path(textune.data.__file__).parent
MODULES = sorted(DATA.glob("*.py"))
MAX_LINES = 350


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, runtime_only: bool = False):
    """(level, module, names) of every import; runtime_only skips `if TYPE_CHECKING:`."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if runtime_only and isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield 0, alias.name, []
        elif isinstance(node, ast.ImportFrom):
            yield node.level, node.module or "", [a.name for a in node.names]
        stack.extend(ast.iter_child_nodes(node))


def _parse(path: Path) -> ast.AST:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_data_is_a_package_of_modules():
    names = {p.stem for p in MODULES}
    assert "__init__" in names and len(names) >= 6, names


def test_no_module_in_data_imports_textune_outside_data():
    bad = []
    for path in MODULES:
        for level, module, _ in _imports(_parse(path)):
            if level >= 2:  # from ..x import y, from .. import x: above data/
                bad.append(f"{path.name}: from {'.' * level}{module} import ...")
            elif level == 0 and (module == "textune" or module.startswith("textune.")) \
                    and not (module == "textune.data" or module.startswith("textune.data.")):
                bad.append(f"{path.name}: import {module}")
    assert not bad, "data/ must not import the rest of textune:\n" + "\n".join(bad)


def test_no_module_in_data_is_over_350_lines():
    long = {p.name: n for p in MODULES
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"split these data/ modules (over {MAX_LINES} lines): {long}"


def test_modules_in_data_import_each_other_in_one_direction():
    """Runtime imports between data/ modules form no cycle (type-only imports may point up)."""
    stems = {p.stem for p in MODULES}
    graph = {}
    for path in MODULES:
        deps = set()
        for level, module, names in _imports(_parse(path), runtime_only=True):
            if level == 1:
                target = module.split(".")[0] if module else None
                deps.update([target] if target else [n for n in names if n in stems])
            elif level == 0 and module.startswith("textune.data."):
                deps.add(module.split(".")[2])
        graph[path.stem] = deps - {path.stem}
    done: set = set()
    visiting: list = []

    def visit(m):
        if m in visiting:
            raise AssertionError("import cycle in data/: " + " -> ".join(visiting + [m]))
        if m in done:
            return
        visiting.append(m)
        for d in sorted(graph.get(m, ())):
            visit(d)
        visiting.pop()
        done.add(m)

    for m in sorted(graph):
        visit(m)


def test_public_names_still_come_from_textune_data():
    from textune import DataError, Examples, from_lists, load_examples, sample_per_class, split
    from textune.data import (align_labels, coerce_inputs, csv_dialect, csv_frames, file_kind,
                              from_frame, html_entities, jsonl_record, read_table)
    from textune.data.sampling import sample_per_class as sampler

    assert sampler is sample_per_class and callable(split)
    assert textune.data.DataError is DataError and textune.data.Examples is Examples
    assert textune.data.load_examples is load_examples and textune.data.from_lists is from_lists
    for f in (align_labels, coerce_inputs, csv_dialect, csv_frames, file_kind, from_frame,
              html_entities, jsonl_record, read_table):
        assert callable(f)
    for name in textune.data.__all__:
        assert hasattr(textune.data, name), name
