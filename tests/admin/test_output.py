"""Output formats: JSON off a terminal, aligned tables on one, progress on long walks."""

from __future__ import annotations

import io
import json
import sys

import pytest

from capgo_exporter.admin import output
from capgo_exporter.admin.output import Column, Output
from capgo_exporter.sim import Simulator

from .conftest import APP, Admin


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_table_on_a_terminal_json_lines_elsewhere(
    sim: Simulator, admin: Admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    piped = admin.ok("channel", "list", APP).out.splitlines()
    assert [json.loads(line)["name"] for line in piped] == ["production", "beta", "staging"]
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    table = admin.ok("channel", "list", APP).out.splitlines()
    assert table[0].split()[:3] == ["ID", "NAME", "BUNDLE"]
    # Aligned: every row's NAME starts in the header's NAME column.
    column = table[0].index("NAME")
    assert [row[column:].split()[0] for row in table[1:]] == ["production", "beta", "staging"]


def test_a_get_is_one_json_document(sim: Simulator, admin: Admin) -> None:
    channel = admin.ok("channel", "get", APP, "beta").json()
    assert channel["name"] == "beta"
    assert "disableAutoUpdate" in channel  # Capgo's own names: what `set` accepts


def test_a_get_as_a_table_lists_fields(sim: Simulator, admin: Admin) -> None:
    lines = admin.ok("app", "get", APP, "-o", "table").out.splitlines()
    assert lines[0].split() == ["app_id", APP]


async def test_an_empty_table_says_so_on_stderr() -> None:
    stdout, stderr = io.StringIO(), io.StringIO()
    count = await Output("table", stdout, stderr).rows([], [Column("ID", "id")], "bundles")
    assert (count, stdout.getvalue(), stderr.getvalue()) == (0, "", "no bundles\n")


def test_table_cells() -> None:
    assert [output.cell(v) for v in (None, True, False, ["a", "b"], [], {"k": 1}, 2.5)] == [
        "-", "yes", "no", "a,b", "-", '{"k":1}', "2.5",
    ]  # fmt: skip
    assert Column("B", "version.name").value({"version": None}) is None


async def test_long_walks_show_a_counter_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(output, "PROGRESS_AFTER_SECONDS", 0.0)
    monkeypatch.setattr(output, "PROGRESS_EVERY_SECONDS", 0.0)
    stdout, terminal = io.StringIO(), Terminal()
    rows = ({"id": n} for n in range(3))
    await Output("json", stdout, terminal).rows(rows, [Column("ID", "id")], "devices")
    assert "\r3 devices…" in terminal.getvalue()
    assert terminal.getvalue().endswith("\r\033[K")  # the counter is cleared at the end
    assert len(stdout.getvalue().splitlines()) == 3


async def test_no_counter_off_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(output, "PROGRESS_AFTER_SECONDS", 0.0)
    stderr = io.StringIO()
    await Output("json", io.StringIO(), stderr).rows([{"id": 1}], [Column("ID", "id")], "devices")
    assert stderr.getvalue() == ""
