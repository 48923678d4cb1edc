"""The mixin stays readable: short panel-group functions, modules of one job."""

import ast
from pathlib import Path

import pytest

MIXIN = Path(__file__).resolve().parents[2] / "capgo_exporter" / "mixin"
SOURCES = sorted(MIXIN.rglob("*.py"))
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 500


def test_the_dashboards_are_one_module_each() -> None:
    names = {path.stem for path in (MIXIN / "dashboards").glob("*.py")}
    assert {"overview", "app", "exporter", "builder"} <= names


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: str(path.relative_to(MIXIN)))
def test_functions_and_modules_stay_short(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_MODULE_LINES
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef) and node.end_lineno is not None
        if node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, f"split these into panel groups: {long}"
