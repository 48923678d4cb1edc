"""No import cycle inside the package, counting every import a module names.

The graph is read from the source with ``ast``, not from what Python happens to import: an
import under ``if TYPE_CHECKING:`` or inside a function is an edge too, since it ties the two
modules together as much as one at the top does (mypy follows it; a refactor that moves it to
the top turns it into a circular-import error). Edges, between modules of the package only:

- ``import a.b`` and ``from a.b import name``: to ``a.b``, which for a package is its
  ``__init__.py`` (Python runs it before it looks ``name`` up);
- ``from a import b`` where ``a.b`` is a module: to ``a.b`` as well;
- relative imports (``from .x import y``) resolved against the importing module's package.

The packages above ``a`` in ``a.b`` are not counted, although Python imports them first: a
package's ``__init__`` that re-exports its modules would otherwise be in a cycle with each of
them.

Each cycle is reported as one strongly connected component: the modules that all reach each
other.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "capgo_exporter"


def modules_of(root: Path, package: str) -> dict[str, Path]:
    """Every module of ``package`` under ``root``, by dotted name (a package by its own)."""
    found = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _is_package(name: str, modules: Mapping[str, Path]) -> bool:
    return modules[name].name == "__init__.py"


def _targets(node: ast.AST, name: str, modules: Mapping[str, Path]) -> Iterator[str]:
    """The modules of the package one import statement of module ``name`` names."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    if not isinstance(node, ast.ImportFrom):
        return
    base = node.module or ""
    if node.level:
        # The importing module's package; a package's __init__ is its own package.
        anchor = name.split(".") if _is_package(name, modules) else name.split(".")[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join([*anchor, *([base] if base else [])])
    yield base
    for alias in node.names:
        yield f"{base}.{alias.name}"  # kept only when that is a module


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module → the modules of the package it imports, anywhere in its source."""
    modules = modules_of(root, package)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        graph[name] = {
            target
            for node in ast.walk(tree)
            for target in _targets(node, name, modules)
            if target in modules and target != name
        }
    return graph


def cycles(graph: Mapping[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm,
    iterative so that no recursion limit applies)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(frozenset(component))
    return found


def _first(cycle: frozenset[str]) -> str:
    return min(cycle)


def describe(component: frozenset[str], graph: Mapping[str, set[str]]) -> str:
    lines = [f"cycle of {len(component)} modules:"]
    for module in sorted(component):
        inside = sorted(graph[module] & component)
        lines.append(f"  {module} imports {', '.join(inside)}")
    return "\n".join(lines)


def test_no_import_cycle() -> None:
    graph = import_graph(ROOT, PACKAGE)
    found = cycles(graph)
    assert not found, "import cycles (imports under TYPE_CHECKING and in functions count):\n" + (
        "\n".join(describe(c, graph) for c in sorted(found, key=_first))
    )


def _write(root: Path, files: Mapping[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_the_checker_counts_every_kind_of_import(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.a import A\n",
            "pkg/a.py": "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from pkg.sub import b\nA = 1\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/b.py": "def f():\n    from ..c import C\n    return C\n",
            "pkg/c.py": "import pkg.a\nC = 2\n",
            "pkg/d.py": "from . import c\nfrom .sub import b\nfrom pkg import A\n",
            "pkg/e.py": "import pkg.sub\nimport os\n",
        },
    )
    graph = import_graph(tmp_path, "pkg")
    assert graph == {
        "pkg": {"pkg.a"},
        "pkg.a": {"pkg.sub", "pkg.sub.b"},
        "pkg.sub": set(),
        "pkg.sub.b": {"pkg.c"},
        "pkg.c": {"pkg.a"},
        "pkg.d": {"pkg", "pkg.c", "pkg.sub", "pkg.sub.b"},
        "pkg.e": {"pkg.sub"},
    }
    assert cycles(graph) == [frozenset({"pkg.a", "pkg.sub.b", "pkg.c"})]
