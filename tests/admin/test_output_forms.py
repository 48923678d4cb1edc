"""Admin output: tables for people (sizes, dates), JSON Lines with raw values for programs."""

from __future__ import annotations

import io
import json

import pytest

from capgo_exporter.admin.output import Column, Output, human_bytes, human_date
from capgo_exporter.sim import Simulator

from .conftest import APP, Admin


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1536, "1.5 KiB"),
        (5 * 1024**3, "5 GiB"),
        (123456789, "118 MiB"),
    ],
)
def test_human_bytes(value: int, text: str) -> None:
    assert human_bytes(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("2025-10-28T05:46:39.568000Z", "2025-10-28 05:46 UTC"),
        ("2025-10-28T07:46:39+02:00", "2025-10-28 05:46 UTC"),
        ("2025-10-28", "2025-10-28"),
        ("soon", "soon"),
    ],
)
def test_human_date(value: str, text: str) -> None:
    assert human_date(value) == text


ROW = {"name": "1.2.3", "created_at": "2025-10-28T05:46:39.568000Z", "size": 1536}
COLUMNS = [Column("NAME", "name"), Column("CREATED", "created_at", "date"),
           Column("SIZE", "size", "bytes")]  # fmt: skip


async def test_a_table_shows_sizes_and_dates_json_keeps_raw_values() -> None:
    table, data = io.StringIO(), io.StringIO()
    await Output("table", table, io.StringIO()).rows([ROW], COLUMNS, "bundles")
    await Output("json", data, io.StringIO()).rows([ROW], COLUMNS, "bundles")
    assert table.getvalue().splitlines()[1].split("  ") == [
        "1.2.3",
        "2025-10-28 05:46 UTC",
        "1.5 KiB",
    ]
    assert json.loads(data.getvalue()) == ROW


def test_one_object_is_one_json_line_like_each_item_of_a_list() -> None:
    out = io.StringIO()
    Output("json", out, io.StringIO()).document(ROW)
    Output("json", out, io.StringIO()).done("done", {"status": "ok"})
    assert [json.loads(line) for line in out.getvalue().splitlines()] == [ROW, {"status": "ok"}]


def test_a_document_table_shows_timestamps_for_people() -> None:
    out = io.StringIO()
    Output("table", out, io.StringIO()).document(ROW)
    assert "created_at  2025-10-28 05:46 UTC" in out.getvalue()


def test_stats_table_has_human_sizes_and_json_has_bytes(sim: Simulator, admin: Admin) -> None:
    table = admin.ok("stats", "app", APP, "-o", "table").out.splitlines()
    assert table[0].split() == ["DATE", "MAU", "STORAGE", "BANDWIDTH", "BUILD_SECONDS"]
    assert any(unit in table[1] for unit in ("B", "KiB", "MiB", "GiB"))
    rows = admin.ok("stats", "app", APP, "-o", "json").lines()
    assert isinstance(rows[0]["storage"], int | float)
