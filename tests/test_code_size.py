"""Small units and a typed mixin: no module of the package over 400 lines, no function over 60
(the mixin's panel groups included), dashboards typed without Any."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "capgo_exporter"
MIXIN = PACKAGE / "mixin"
DASHBOARDS = MIXIN / "dashboards"
SOURCES = sorted(PACKAGE.rglob("*.py"))
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 400
# Where parsed JSON comes in (panels_of, panel_queries): the only place values may be Any.
JSON_BOUNDARY = DASHBOARDS / "__init__.py"


def long_functions(source: str) -> list[str]:
    """Functions and methods, nested ones included, longer than MAX_FUNCTION_LINES."""
    return [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        if node.end_lineno is not None and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]


def uses_any(source: str) -> bool:
    """Whether the source names typing.Any, imported by name or through the module."""
    return any(
        (isinstance(node, ast.Name) and node.id == "Any")
        or (isinstance(node, ast.Attribute) and node.attr == "Any")
        or (isinstance(node, ast.alias) and node.name == "Any")
        for node in ast.walk(ast.parse(source))
    )


def function(name: str, body_lines: int, indent: str = "", keyword: str = "def") -> str:
    body = "".join(f"{indent}    x = {i}\n" for i in range(body_lines))
    return f"{indent}{keyword} {name}() -> None:\n{body}"


def test_long_functions_counts_the_def_line_and_finds_nested_and_async_ones() -> None:
    assert long_functions(function("fits", MAX_FUNCTION_LINES - 1)) == []
    assert long_functions(function("over", MAX_FUNCTION_LINES)) == [
        f"over ({MAX_FUNCTION_LINES + 1} lines)"
    ]
    nested = function("outer", 1) + function("inner", MAX_FUNCTION_LINES, indent="    ")
    assert [name.split()[0] for name in long_functions(nested)] == ["outer", "inner"]
    method = "class Panels:\n" + function("rows", MAX_FUNCTION_LINES, indent="    ")
    assert long_functions(method) == [f"rows ({MAX_FUNCTION_LINES + 1} lines)"]
    coroutine = function("fetch", MAX_FUNCTION_LINES, keyword="async def")
    assert long_functions(coroutine) == [f"fetch ({MAX_FUNCTION_LINES + 1} lines)"]


def test_uses_any_finds_every_spelling() -> None:
    assert uses_any("from typing import Any\n")
    assert uses_any("import typing\nx: typing.Any = 1\n")
    assert uses_any("from typing import Any as Whatever\n")
    assert not uses_any("from typing import Final\nx: Final = 'Any'\n")


def test_the_dashboards_are_one_module_each() -> None:
    names = {path.stem for path in DASHBOARDS.glob("*.py")}
    assert {"overview", "app", "exporter", "builder", "schema"} <= names


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_functions_and_modules_stay_short(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    lines = len(text.splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.name} has {lines} lines: split it by job"
    long = long_functions(text)
    assert not long, f"split these into smaller functions (panel groups, steps): {long}"


@pytest.mark.parametrize(
    "path",
    sorted(set(DASHBOARDS.glob("*.py")) - {JSON_BOUNDARY}),
    ids=lambda path: path.name,
)
def test_the_dashboards_are_typed_without_any(path: Path) -> None:
    assert not uses_any(path.read_text(encoding="utf-8")), (
        f"{path.name}: type it with schema.py's TypedDicts"
    )
