"""Each API module declares every route template it calls, so that the exporter's request
metrics (which start at zero for the polled ones) cannot miss a new endpoint."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from types import ModuleType

import pytest

from capgo_exporter.api import routes
from capgo_exporter.api.routes import Routes, declared, polled_routes
from capgo_exporter.selfmetrics import EXPORTER_ENDPOINTS

API = Path(routes.__file__).parent
MODULES = sorted(f"capgo_exporter.api.{path.stem}" for path in API.glob("*.py"))


def templates_called(module: ModuleType) -> set[str]:
    """The templates ``module`` passes to ``….call(method, template, …)``: literals, or the
    module's constants they name."""
    tree = ast.parse(Path(str(module.__file__)).read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "call"
            and len(node.args) >= 2
        ):
            template = node.args[1]
            if isinstance(template, ast.Constant):
                found.add(str(template.value))
            else:
                assert isinstance(template, ast.Name), ast.unparse(template)
                found.add(getattr(module, template.id))
    return found


@pytest.mark.parametrize("name", MODULES)
def test_a_module_declares_exactly_the_templates_it_calls(name: str) -> None:
    module = importlib.import_module(name)
    called = templates_called(module)
    declaration = getattr(module, "ROUTES", None)
    if not called:
        assert declaration is None, f"{name} declares routes it never calls"
        return
    assert isinstance(declaration, Routes), f"{name} calls Capgo: declare ROUTES (api/routes.py)"
    assert set(declaration.every) == called
    assert not set(declaration.polled) & set(declaration.admin_only)


def test_the_scan_reads_the_calls_it_should(tmp_path: Path) -> None:
    """The checker itself: a literal template and a constant one are both seen."""
    sample = tmp_path / "sample_area.py"
    sample.write_text(
        'ROUTE = "/b"\n'
        "async def f(http):\n"
        '    await http.call("GET", "/a", params={})\n'
        '    await http.call("POST", ROUTE)\n',
        encoding="utf-8",
    )
    module = ModuleType("sample_area")
    module.__file__ = str(sample)
    module.ROUTE = "/b"  # type: ignore[attr-defined]
    assert templates_called(module) == {"/a", "/b"}


def test_every_calling_module_is_found() -> None:
    calling = {name for name in MODULES if templates_called(importlib.import_module(name))}
    assert set(declared()) == calling


def test_the_exporters_endpoints_are_the_polled_routes() -> None:
    assert polled_routes() == EXPORTER_ENDPOINTS
    assert "/private/stats/insights" in EXPORTER_ENDPOINTS
    assert "/bundle/metadata" not in EXPORTER_ENDPOINTS  # admin commands' alone
