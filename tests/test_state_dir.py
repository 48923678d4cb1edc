"""The state directory: one exporter at a time, and a device index that cannot be written
makes the devices run fail, logged once with the path and the free space, never a crash."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
import structlog

from capgo_exporter import cli
from capgo_exporter.api.device_rows import DeviceRow
from capgo_exporter.collect.devices.index import DeviceIndex
from capgo_exporter.daemon import exporter
from capgo_exporter.settings import load_settings
from capgo_exporter.state_dir import StateDirInUseError, StateDirLock, StateDirWriteError
from tests.e2e.conftest import free_port

NOW = datetime(2026, 11, 20, tzinfo=UTC)


async def test_a_second_exporter_on_the_same_directory_refuses_to_start(tmp_path: Path) -> None:
    settings = load_settings({"api_key": "k", "state_dir": str(tmp_path)}, environ={}, home=None)
    async with exporter(settings):
        with pytest.raises(StateDirInUseError) as refused:
            async with exporter(settings):
                pass
        message = str(refused.value)
        assert str(tmp_path) in message
        assert f"pid {os.getpid()}" in message
        assert "\n" not in message
    async with exporter(settings):  # released with the first
        pass


def test_the_command_line_says_it_in_one_line_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    held = StateDirLock(tmp_path)
    held.acquire()
    try:
        address = f"127.0.0.1:{free_port()}"
        with pytest.raises(SystemExit) as exited:
            cli.main(["--demo", "--state.dir", str(tmp_path), "--web.listen-address", address])
    finally:
        held.release()
    assert exited.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert "--state.dir" in lines[0]
    assert str(tmp_path) in lines[0]
    assert f"pid {os.getpid()}" in lines[0]


def devices(start: int, count: int) -> list[DeviceRow]:
    return [
        DeviceRow(device_id=f"{i:032x}", updated_at="2026-11-19T00:00:00Z", platform="ios")
        for i in range(start, start + count)
    ]


def test_a_write_that_fails_is_logged_once_and_rolled_back(tmp_path: Path) -> None:
    index = DeviceIndex(tmp_path / "devices.sqlite3")
    index.upsert_devices("com.acme.app", devices(0, 10))
    # The disk is full from now on: SQLite answers SQLITE_FULL ("database or disk is full")
    # as it does when a write finds no free block. (The index's own connection: the page cap
    # is a per-connection setting.)
    (pages,) = index._db.execute("PRAGMA page_count").fetchone()
    index._db.execute(f"PRAGMA max_page_count={pages}")
    with structlog.testing.capture_logs() as logs:
        for attempt in range(3):
            with pytest.raises(StateDirWriteError, match="database or disk is full"):
                index.upsert_devices("com.acme.app", devices(1000 * (attempt + 1), 5000))
    assert [entry["event"] for entry in logs] == [
        "device index cannot be written; device figures stop being refreshed"
    ]
    assert logs[0]["path"] == str(tmp_path / "devices.sqlite3")
    assert logs[0]["free_bytes"] > 0
    assert index.summarize("com.acme.app", NOW).total == 10  # nothing half-written
    index._db.execute("PRAGMA max_page_count=1073741823")  # space again
    index.upsert_devices("com.acme.app", devices(100, 10))
    with structlog.testing.capture_logs() as logs:
        index._db.execute(f"PRAGMA max_page_count={pages}")
        with pytest.raises(StateDirWriteError):
            index.upsert_devices("com.acme.app", devices(9000, 5000))
    assert len(logs) == 1  # a new run of failures is logged again
    index.close()  # never raises
