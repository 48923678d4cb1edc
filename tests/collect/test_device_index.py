"""The device index on hand-written rows: storage, sync bookkeeping and every aggregate."""

from __future__ import annotations

import functools
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from capgo_exporter.collect.devices.aggregates import AppDevices
from capgo_exporter.collect.devices.columns import device_key, to_ms
from capgo_exporter.collect.devices.index import FILE_NAME, DeviceIndex
from tests.clock import PINNED_NOW

NOW = PINNED_NOW
APP = "com.acme.shop"


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def uuid(n: int) -> str:
    return f"{n:08x}-0000-4000-8000-{n * 7919:012x}"


def device(n: int, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "device_id": uuid(n),
        "platform": "ios",
        "version_name": "1.2.0",
        "version_build": "1.0.0",
        "plugin_version": "7.0.1",
        "is_prod": True,
        "is_emulator": False,
        "updated_at": iso(NOW - timedelta(hours=1)),
    }
    row.update(fields)
    return row


def summary(index: DeviceIndex, app: str = APP) -> AppDevices:
    return index.summarize(app, NOW)


def test_aggregates_every_breakdown(index: DeviceIndex) -> None:
    index.upsert_rows(
        APP,
        [
            device(1),
            device(2, platform="android", is_prod=False, channel="beta"),
            device(3, platform="android", version_name="1.1.0", plugin_version="6.14.2"),
            device(4, is_emulator=True, version_build="1.1.0", channel="beta"),
        ],
    )
    result = summary(index)
    assert result.total == 4
    assert result.by_bundle == {
        ("ios", "1.2.0", "true", "false"): 1,
        ("ios", "1.2.0", "true", "true"): 1,
        ("android", "1.2.0", "false", "false"): 1,
        ("android", "1.1.0", "true", "false"): 1,
    }
    assert result.by_native == {("ios", "1.0.0"): 1, ("ios", "1.1.0"): 1, ("android", "1.0.0"): 2}
    assert result.by_plugin == {"7.0.1": 3, "6.14.2": 1}
    assert result.overrides == {"beta": 2}
    assert result.running == {(None, "1.2.0"): 1, (None, "1.1.0"): 1, ("beta", "1.2.0"): 2}


def test_upserting_a_device_again_replaces_it(index: DeviceIndex) -> None:
    index.upsert_rows(APP, [device(1), device(2)])
    index.upsert_rows(APP, [device(2, version_name="1.3.0", channel="beta")])
    result = summary(index)
    assert result.total == 2
    assert result.by_bundle == {
        ("ios", "1.2.0", "true", "false"): 1,
        ("ios", "1.3.0", "true", "false"): 1,
    }
    assert result.overrides == {"beta": 1}


def test_apps_are_counted_apart(index: DeviceIndex) -> None:
    index.upsert_rows(APP, [device(1), device(2)])
    index.upsert_rows("com.acme.other", [device(1)])  # the same device id in another app
    assert (summary(index).total, summary(index, "com.acme.other").total) == (2, 1)
    assert index.app_ids() == ["com.acme.other", APP]


def test_builtin_rule(index: DeviceIndex) -> None:
    index.upsert_rows(
        APP,
        [
            device(1, version_name="1.0.0", version_build="1.0.0"),  # same as the binary
            device(2, version_name="builtin"),
            device(3, version_name="unknown"),
            device(4, version_name="1.2.0"),  # a live update
            device(5, version_name=None, version_build=None),  # missing: no evidence
            device(6, platform="android", version_name="2.0.0"),
        ],
    )
    assert summary(index).on_builtin == {"ios": 3, "android": 0}


def test_seen_windows_are_exact_to_the_millisecond(index: DeviceIndex) -> None:
    day = timedelta(days=1)
    ms = timedelta(milliseconds=1)
    index.upsert_rows(
        APP,
        [
            device(1, updated_at=iso(NOW - day)),  # exactly on the edge: in
            device(2, updated_at=iso(NOW - day - ms)),  # just out of the day
            device(3, updated_at=iso(NOW - 7 * day)),
            device(4, updated_at=iso(NOW - 30 * day - ms)),  # out of every window
            device(5, platform="electron", updated_at=iso(NOW - 40 * day)),
            device(6, updated_at=None),  # unknown: in no window
        ],
    )
    assert summary(index).seen == {
        "1d": {"ios": 1, "electron": 0},
        "7d": {"ios": 3, "electron": 0},
        "30d": {"ios": 3, "electron": 0},
    }


def test_missing_null_and_odd_values(index: DeviceIndex) -> None:
    index.upsert_rows(
        APP,
        [
            {"device_id": uuid(1)},  # nothing but the id
            device(2, platform=None, is_prod=None, plugin_version=""),
            device(3, version_build=42, is_emulator="yes"),  # wrong types
            device(4, platform={"nested": True}),  # unhashable
            device(
                5, updated_at=f"{(NOW - timedelta(hours=1)):%Y-%m-%d %H:%M:%S}"
            ),  # Analytics Engine form
            device(6, updated_at="not a date"),
        ],
    )
    result = summary(index)
    assert result.total == 6
    assert result.by_bundle == {
        ("unknown", "unknown", "unknown", "unknown"): 1,
        ("unknown", "1.2.0", "unknown", "false"): 1,
        ("unknown", "1.2.0", "true", "false"): 1,
        ("ios", "1.2.0", "true", "unknown"): 1,
        ("ios", "1.2.0", "true", "false"): 2,
    }
    assert result.by_native[("ios", "42")] == 1
    assert result.by_plugin["unknown"] == 2
    assert result.seen["1d"]["ios"] == 2  # device 5 parsed; device 6 not


def test_legacy_bundle_shape(index: DeviceIndex) -> None:
    """Older servers sent the bundle as version: {id, name}."""
    index.upsert_rows(
        APP,
        [
            device(1, version_name=None, version={"id": 7, "name": "1.0.9"}),
            device(2, version_name=None, version={"id": 8, "name": "1.1.0"}),
        ],
    )
    assert {bundle for _, bundle, _, _ in summary(index).by_bundle} == {"1.0.9", "1.1.0"}


def test_folding_keeps_the_most_used_bundles(index: DeviceIndex) -> None:
    rows = [device(n, version_name="a") for n in range(3)]
    rows += [device(n, version_name="b", platform="android") for n in range(3, 6)]
    rows += [device(n, version_name="c") for n in range(6, 8)]
    rows += [device(8, version_name="d"), device(9, version_name="d", platform="android")]
    rows += [device(10, version_name="e")]
    index.upsert_rows(APP, rows)
    result = summary(index)
    # a and b lead with 3; c and d tie at 2 and the name decides; e folds too.
    assert result.folded_by_bundle(3) == {
        ("ios", "a", "true", "false"): 3,
        ("android", "b", "true", "false"): 3,
        ("ios", "c", "true", "false"): 2,
        ("ios", "other", "true", "false"): 2,
        ("android", "other", "true", "false"): 1,
    }
    assert result.folded_by_bundle(5) == result.by_bundle


def test_full_sync_deletes_what_the_walk_did_not_return(index: DeviceIndex) -> None:
    index.upsert_rows(APP, [device(1), device(2), device(3)])
    index.finish_full_sync(APP, NOW)
    index.begin_full_sync(APP)
    index.upsert_rows(APP, [device(1)])
    index.upsert_rows(APP, [device(3)])
    assert index.finish_full_sync(APP, NOW) == 1
    assert summary(index).total == 2


def test_an_interrupted_full_sync_deletes_nothing(index: DeviceIndex) -> None:
    index.upsert_rows(APP, [device(1), device(2), device(3)])
    index.finish_full_sync(APP, NOW - timedelta(days=2))
    index.begin_full_sync(APP)
    index.upsert_rows(APP, [device(1)])  # ... and the walk fails here
    assert summary(index).total == 3
    assert index.last_full_sync(APP) == NOW - timedelta(days=2)
    index.begin_full_sync(APP)  # the next run walks again, completely
    index.upsert_rows(APP, [device(2), device(3)])
    assert index.finish_full_sync(APP, NOW) == 1
    assert summary(index).total == 2


def test_high_water_mark(index: DeviceIndex) -> None:
    assert index.high_water_mark(APP) is None
    newest = NOW - timedelta(minutes=10)
    index.upsert_rows(APP, [device(1, updated_at=iso(newest)), device(2)])
    index.finish_full_sync(APP, NOW)
    assert index.high_water_mark(APP) == newest
    assert index.last_full_sync(APP) == NOW
    # A device changed while the walk ran: the mark stops at the walk's start.
    started = NOW + timedelta(minutes=5)
    index.upsert_rows(APP, [device(3, updated_at=iso(started + timedelta(seconds=30)))])
    index.finish_incremental_sync(APP, started)
    assert index.high_water_mark(APP) == started
    # Never backwards, even when the newest device is gone.
    index.begin_full_sync(APP)
    index.upsert_rows(APP, [device(2)])
    index.finish_full_sync(APP, NOW + timedelta(hours=1))
    assert index.high_water_mark(APP) == started


def test_no_mark_without_devices(index: DeviceIndex) -> None:
    """An empty app keeps getting full walks: one request, as an incremental one would be."""
    index.begin_full_sync(APP)
    index.finish_full_sync(APP, NOW)
    assert index.high_water_mark(APP) is None
    assert index.last_full_sync(APP) == NOW


def test_drop_app(index: DeviceIndex) -> None:
    index.upsert_rows(APP, [device(1)])
    index.upsert_rows("com.acme.other", [device(1), device(2)])
    index.finish_full_sync(APP, NOW)
    index.drop_app(APP)
    assert index.app_ids() == ["com.acme.other"]
    assert summary(index) == AppDevices()
    assert index.high_water_mark(APP) is None
    assert summary(index, "com.acme.other").total == 2


def test_device_keys() -> None:
    # Stable across processes and versions: the file index outlives the exporter.
    assert device_key("00000001-0000-4000-8000-000000001eef") == -9223372030412300561
    assert device_key("my-custom-device") == -470155754944634089
    # UUIDs keep their order (a full walk appends) and their case does not matter.
    ids = [uuid(n) for n in range(0, 5000, 7)]
    assert [device_key(i) for i in ids] == sorted(device_key(i) for i in ids)
    assert device_key(uuid(9).upper()) == device_key(uuid(9))
    # v7 UUIDs share their head (a timestamp); their random tail keeps the keys apart.
    v7 = {f"019c2f3a-1b2c-7{n:03x}-8{n * 31 % 4096:03x}-{n * 7919:012x}" for n in range(4096)}
    assert len({device_key(i) for i in v7}) == len(v7)


@pytest.mark.parametrize(
    "device_id",
    [
        "00000001-0000-4000-8000-000000001eef",
        "00000001-0000-4000-8000-000000001EEF",
        "my-custom-device",
        "0123456789abcdef0123456789abcdef0123",  # 36 hex digits: more than 64 bits
        "0x23456789abcdef0123456789abcdef0123",
        "00000001-0000-4000-8000-00000000zzzz",
        " 0000001-0000-4000-8000-000000001eef",
        "----------------------------------12",
    ],
)
def test_every_id_is_stored_under_its_device_key(index: DeviceIndex, device_id: str) -> None:
    """An id that looks like a UUID without being one is stored all the same, under a key
    SQLite can hold (36 hex digits are 144 bits: hashed, not an OverflowError failing the
    page)."""
    index.upsert_rows(APP, [{"device_id": device_id, "updated_at": iso(NOW)}])
    stored = index._db.execute("SELECT key FROM device").fetchall()
    assert stored == [(device_key(device_id),)]
    assert -(2**63) <= device_key(device_id) < 2**63


def test_device_keys_in_another_process() -> None:
    code = "from capgo_exporter.collect.devices.columns import device_key as k; print(k('abc'))"
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert int(output) == device_key("abc")


def test_file_index_survives_a_restart(tmp_path: Path) -> None:
    first = DeviceIndex.open(tmp_path)
    first.upsert_rows(APP, [device(1), device(2, channel="beta")])
    first.finish_full_sync(APP, NOW)
    before = first.summarize(APP, NOW)
    first.close()
    first.close()  # twice is fine
    assert [path.name for path in tmp_path.iterdir()] == [FILE_NAME]  # the WAL folded in
    assert uuid(1).encode() not in (tmp_path / FILE_NAME).read_bytes()  # ids are not stored

    second = DeviceIndex.open(tmp_path)
    try:
        assert second.summarize(APP, NOW) == before
        assert second.high_water_mark(APP) == NOW - timedelta(hours=1)
        assert second.last_full_sync(APP) == NOW
        second.upsert_rows(APP, [device(3, channel="beta")])  # a known profile, reused
        assert second.summarize(APP, NOW).overrides == {"beta": 2}
    finally:
        second.close()


def test_an_index_of_another_schema_is_rebuilt(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / FILE_NAME)
    db.execute("CREATE TABLE device (whatever)")
    db.execute("PRAGMA user_version = 99")
    db.close()
    index = DeviceIndex.open(tmp_path)
    try:
        index.upsert_rows(APP, [device(1)])
        assert index.summarize(APP, NOW).total == 1
    finally:
        index.close()


def test_to_ms_is_exact() -> None:
    assert to_ms(datetime(1970, 1, 1, 0, 0, 1, 999_999, tzinfo=UTC)) == 1999


def test_an_unreadable_index_file_is_set_aside_and_rebuilt(tmp_path: Path) -> None:
    # The index is a cache of Capgo: a damaged file must not keep the exporter from starting.
    (tmp_path / FILE_NAME).write_bytes(b"this is not a database" * 100)
    index = DeviceIndex.open(tmp_path, now=lambda: datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC))
    index.upsert_rows("com.acme.app", [{"device_id": "d1", "platform": "ios"}])
    assert index.app_ids() == ["com.acme.app"]
    index.close()
    aside = tmp_path / f"{FILE_NAME}.20260301T120005Z.corrupt"
    assert aside.read_bytes().startswith(b"this is not")


def test_every_corrupt_copy_is_kept_up_to_the_last_few(tmp_path: Path) -> None:
    # Seven corruptions, two of them in the same second: none overwrites another, and the
    # five newest are kept.
    seconds = [0, 10, 10, 20, 30, 40, 50]
    for n, second in enumerate(seconds):
        (tmp_path / FILE_NAME).write_bytes(f"damaged #{n} ".encode() * 100)
        when = datetime(2026, 3, 1, 12, 0, second, tzinfo=UTC)
        DeviceIndex.open(tmp_path, now=functools.partial(lambda t: t, when)).close()
    kept = sorted(p.name.removeprefix(FILE_NAME) for p in tmp_path.glob("*.corrupt"))
    assert kept == [
        ".20260301T120010Z-1.corrupt",
        ".20260301T120020Z.corrupt",
        ".20260301T120030Z.corrupt",
        ".20260301T120040Z.corrupt",
        ".20260301T120050Z.corrupt",
    ]
    assert (
        (tmp_path / f"{FILE_NAME}.20260301T120010Z-1.corrupt")
        .read_bytes()
        .startswith(b"damaged #2")
    )
