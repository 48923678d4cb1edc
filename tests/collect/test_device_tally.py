"""The index's aggregates come from tallies kept up to date page by page; whatever happened to
an app (full walks, incremental pages, devices sent twice, walks cut short, a restart), they
equal the aggregates counted afresh from the rows it holds."""

from __future__ import annotations

import random
import sqlite3
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from capgo_exporter.collect.devices.aggregates import SEEN_WINDOWS, AppDevices, aggregate
from capgo_exporter.collect.devices.columns import to_ms
from capgo_exporter.collect.devices.index import DeviceIndex
from capgo_exporter.collect.labels import text
from capgo_exporter.state_dir import StateDirWriteError
from tests.clock import PINNED_NOW

NOW = PINNED_NOW
APP = "com.acme.shop"
HOUR = timedelta(hours=1)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def counted_afresh(index: DeviceIndex, app_id: str, now: datetime) -> AppDevices:
    """The aggregates from every row of the app, each device looked at once."""
    app = index._generations.number(app_id)
    if app is None:
        return AppDevices()
    rows = index._db.execute(
        "SELECT profile, updated_ms FROM device WHERE app = ?", (app,)
    ).fetchall()
    per_profile: Counter[int] = Counter(profile for profile, _ in rows)
    seen: dict[str, Counter[str]] = {}
    platforms = {text(index._profiles.values[p][0]) for p in per_profile}
    for window, span in SEEN_WINDOWS.items():
        since = to_ms(now - span)
        seen[window] = Counter(dict.fromkeys(platforms, 0))
        for profile, ms in rows:
            if ms is not None and ms >= since:
                seen[window][text(index._profiles.values[profile][0])] += 1
    return aggregate(((index._profiles.values[p], n) for p, n in per_profile.items()), seen)


class Fleet:
    """Devices with random profiles and times, some around the windows' edges."""

    def __init__(self, seed: int) -> None:
        self.rnd = random.Random(seed)

    def stamp(self) -> Any:
        rnd = self.rnd
        choice = rnd.random()
        if choice < 0.05:
            return None
        if choice < 0.08:
            return rnd.choice(["2026-11-12 18:57:24", "not a time", 12])  # one-by-one path
        if choice < 0.4:  # within a few ms of an edge
            edge = NOW - rnd.choice(list(SEEN_WINDOWS.values()))
            return iso(edge + timedelta(milliseconds=rnd.randint(-3, 3)))
        return iso(NOW - timedelta(milliseconds=rnd.randrange(0, 40 * 86_400_000)))

    def device(self, n: int) -> dict[str, Any]:
        rnd = self.rnd
        return {
            "device_id": f"{n:08x}-0000-4000-8000-{n * 7919:012x}",
            "platform": rnd.choice(["ios", "android", "electron", None]),
            "version_name": rnd.choice(["1.0.0", "1.1.0", "builtin"]),
            "version_build": rnd.choice(["1.0.0", "2.0.0"]),
            "plugin_version": "7.0.1",
            "channel": rnd.choice([None, None, "beta"]),
            "is_prod": rnd.choice([True, False]),
            "is_emulator": False,
            "updated_at": self.stamp(),
        }

    def pages(self, ids: list[int], size: int) -> Iterator[list[dict[str, Any]]]:
        for start in range(0, len(ids), size):
            yield [self.device(n) for n in ids[start : start + size]]


def assert_same(index: DeviceIndex, now: datetime = NOW) -> None:
    assert index.summarize(APP, now) == counted_afresh(index, APP, now)


@pytest.mark.parametrize("seed", range(6))
def test_aggregates_equal_a_fresh_count_through_any_history(index: DeviceIndex, seed: int) -> None:
    fleet = Fleet(seed)
    rnd = fleet.rnd
    known = list(range(300))
    for _ in range(8):
        action = rnd.choice(["full", "full", "incremental", "cut short", "twice"])
        if action == "full":  # some devices gone, some new
            known = sorted(rnd.sample(known, len(known) * 3 // 4) + rnd.sample(range(300, 600), 60))
            index.begin_full_sync(APP, NOW)
            for page in fleet.pages(known, rnd.choice([7, 50, 1000])):
                index.upsert_rows(APP, page)
            index.finish_full_sync(APP, NOW)
        elif action == "incremental":  # changed devices, a few of them twice in a page
            changed = rnd.sample(known, 40) + rnd.sample(known, 5)
            for page in fleet.pages(changed, 20):
                index.upsert_rows(APP, page)
            index.finish_incremental_sync(APP, NOW)
        elif action == "cut short":
            index.begin_full_sync(APP)
            index.upsert_rows(APP, next(fleet.pages(known, 30)))
        else:  # a full walk that sends some devices twice, across pages
            walked = sorted(known + rnd.sample(known, 10))
            index.begin_full_sync(APP, NOW)
            for page in fleet.pages(walked, 25):
                index.upsert_rows(APP, page)
            index.finish_full_sync(APP, NOW)
        for hours_later in (0, 1, 5, 30):  # the edges move; the tally stays right
            assert_same(index, NOW + hours_later * HOUR + timedelta(milliseconds=rnd.randint(0, 9)))


def test_a_full_walk_hands_its_tally_to_the_app(
    index: DeviceIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a full walk, summarizing sorts nothing: the walk's own tally is used, and the
    first summary reads no row back (what the walk kept of the windows' first hours)."""
    fleet = Fleet(1)
    index.begin_full_sync(APP, NOW)
    for page in fleet.pages(list(range(500)), 100):
        index.upsert_rows(APP, page)
    index.finish_full_sync(APP, NOW)
    expected = counted_afresh(index, APP, NOW)

    def no_recount(app: int) -> None:
        raise AssertionError("the app's tally was counted again from its rows")

    monkeypatch.setattr(index._summaries, "_tally_from_rows", no_recount)
    later = NOW + timedelta(minutes=59)
    expected_later = counted_afresh(index, APP, later)
    statements: list[str] = []
    index._db.set_trace_callback(statements.append)
    assert index.summarize(APP, later) == expected_later
    assert not [sql for sql in statements if "FROM device" in sql]
    index._db.set_trace_callback(None)
    assert index.summarize(APP, NOW) == expected  # again: the walk's rows were let go
    index.upsert_rows(APP, next(fleet.pages(list(range(100, 150)), 50)))  # incremental
    assert index.summarize(APP, NOW) == counted_afresh(index, APP, NOW)


def test_a_first_walk_that_gets_a_device_twice_still_counts_it_once(index: DeviceIndex) -> None:
    fleet = Fleet(2)
    index.begin_full_sync(APP)
    index.upsert_rows(APP, next(fleet.pages([1, 2, 3], 3)))
    index.upsert_rows(APP, next(fleet.pages([3, 4, 3], 3)))  # 3 again, twice in a page
    index.finish_full_sync(APP, NOW)
    assert index.summarize(APP, NOW).total == 4
    assert_same(index)


def test_tallies_are_rebuilt_after_a_restart(tmp_path: Path) -> None:
    fleet = Fleet(3)
    first = DeviceIndex.open(tmp_path)
    first.begin_full_sync(APP)
    for page in fleet.pages(list(range(200)), 64):
        first.upsert_rows(APP, page)
    first.finish_full_sync(APP, NOW)
    before = first.summarize(APP, NOW)
    first.close()
    second = DeviceIndex.open(tmp_path)
    try:
        assert second.summarize(APP, NOW) == before
        second.upsert_rows(APP, next(fleet.pages(list(range(50, 90)), 40)))
        assert_same(second)
    finally:
        second.close()


@pytest.mark.parametrize("walking", [False, True])
def test_a_page_that_fails_to_store_leaves_no_trace_in_the_counts(
    index: DeviceIndex, monkeypatch: pytest.MonkeyPatch, walking: bool
) -> None:
    fleet = Fleet(4)
    index.begin_full_sync(APP, NOW)
    index.upsert_rows(APP, next(fleet.pages(list(range(100)), 100)))
    if not walking:
        index.finish_full_sync(APP, NOW)
        assert_same(index)  # the app has its tally
    store = index._rows._store

    def disk_full(app: int, generation: int, values: list[Any]) -> None:
        store(app, generation, values)  # written, then the transaction fails
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(index._rows, "_store", disk_full)
    # Devices new and known; only new ones in a fresh walk, which would stop being fresh at
    # the first known one.
    failed = list(range(100, 200)) if walking else list(range(50, 150))
    # The index turns SQLite's error into the state directory's, which names the file.
    with pytest.raises(StateDirWriteError, match="disk is full"):
        index.upsert_rows(APP, next(fleet.pages(failed, 100)))
    monkeypatch.undo()
    if walking:
        index.upsert_rows(APP, next(fleet.pages(list(range(200, 220)), 20)))
        index.finish_full_sync(APP, NOW)
    assert_same(index)
