"""``stats --graph``: an SVG drawn locally, or a one-line hint when the extra is missing."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from capgo_exporter.sim import Simulator

from .conftest import APP, Admin

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize("metric", ["mau", "storage", "bandwidth"])
def test_graph_writes_an_svg_with_the_series(
    sim: Simulator, admin: Admin, tmp_path: Path, metric: str
) -> None:
    pytest.importorskip("matplotlib", reason="the charts extra is not installed")
    out = tmp_path / f"{metric}.svg"
    window = ["--from", "2026-01-01", "--to", "2026-01-12"]
    result = admin.ok("stats", "app", APP, *window, "--graph", metric, "--out", str(out))
    assert len(result.lines()) == 12  # the rows are printed as well
    assert f"wrote {out}" in result.err
    tree = ET.parse(out)
    series = next(e for e in tree.iter() if e.get("id") == f"series-{metric}")
    assert len(list(series.iter(f"{SVG}use"))) == 12  # one marker per day
    texts = {e.text for e in tree.iter(f"{SVG}text")}
    assert metric in texts  # the legend
    assert any(APP in (t or "") for t in texts)  # the title


def test_graph_without_the_extra_is_one_line_and_exit_2(
    sim: Simulator, admin: Admin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails as if not installed
    result = admin("stats", "user", "--graph", "mau", "--out", str(tmp_path / "mau.svg"))
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert "pip install 'capgo-exporter[charts]'" in result.err
    assert sim.request_counts() == {}


def test_graph_to_a_missing_directory_is_exit_2(
    sim: Simulator, admin: Admin, tmp_path: Path
) -> None:
    pytest.importorskip("matplotlib", reason="the charts extra is not installed")
    result = admin("stats", "user", "--graph", "mau", "--out", str(tmp_path / "no" / "mau.svg"))
    assert result.code == 2
    assert "cannot write" in result.err
