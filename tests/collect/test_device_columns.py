"""A page's device keys and timestamps, converted at once, equal the per-device rules."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from capgo_exporter.collect.devices.columns import (
    _iso_stamps,
    _uuid_keys,
    device_key,
    device_keys,
    epoch_ms,
    epoch_ms_column,
)


def iso(moment: datetime) -> str:
    """JavaScript's toISOString, the form of Capgo's device list."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@pytest.fixture
def rnd() -> random.Random:
    return random.Random(20261202)


def random_ids(rnd: random.Random, n: int) -> list[str]:
    return [str(uuid.UUID(int=rnd.getrandbits(128), version=4)) for _ in range(n)]


def test_uuid_pages_are_converted_at_once_to_the_same_keys(rnd: random.Random) -> None:
    ids = random_ids(rnd, 2000)
    ids += [i.upper() for i in ids[:100]] + [i[:20] + i[20:].upper() for i in ids[100:200]]
    ids += [f"{n:08x}-0000-4000-8000-{n * 7919:012x}" for n in range(100)]  # simulator's shape
    ids += ["ffffffff-ffff-ffff-ffff-ffffffffffff", "00000000-0000-0000-0000-000000000000"]
    at_once = _uuid_keys(ids)
    assert at_once is not None  # the fast path is taken for a page of UUIDs
    assert at_once.tolist() == [device_key(i) for i in ids]
    assert device_keys(ids) == [device_key(i) for i in ids]


@pytest.mark.parametrize(
    "odd_id",
    [
        "my-custom-device",
        "0123456789abcdef0123456789abcdef0123",  # 36 hex digits, no dashes
        "00000001-0000-4000-8000-00000000zzzz",
        " 0000001-0000-4000-8000-000000001eef",  # whitespace, which bytes.fromhex skips
        "00000001-0000-4000-8000-00000000 eef",
        "0000000-10000-4000-8000-000000001eef",  # a dash out of place
        "00000001-0000-4000-8000-000000001eef0",
        "0000000é-0000-4000-8000-000000001eef",
        "",
    ],
)
def test_a_page_with_any_other_id_gets_the_same_keys_one_by_one(
    rnd: random.Random, odd_id: str
) -> None:
    ids = [*random_ids(rnd, 50), odd_id, *random_ids(rnd, 50)]
    assert _uuid_keys(ids) is None
    assert device_keys(ids) == [device_key(i) for i in ids]
    assert all(-(2**63) <= key < 2**63 for key in device_keys(ids))


def test_misaligned_ids_of_the_right_total_length_are_not_converted_at_once() -> None:
    # 35 + 37 characters: the joined page has the length of two UUIDs.
    ids = ["0000001-0000-4000-8000-000000001eef", "000000001-0000-4000-8000-000000001eef"]
    assert _uuid_keys(ids) is None
    assert device_keys(ids) == [device_key(i) for i in ids]


def test_an_empty_page() -> None:
    assert device_keys([]) == []
    assert epoch_ms_column([]).tolist() == []  # type: ignore[union-attr]


def test_capgo_timestamps_are_converted_at_once_to_the_same_milliseconds(
    rnd: random.Random,
) -> None:
    start = datetime(1970, 1, 1, tzinfo=UTC)
    moments = [
        start + timedelta(milliseconds=rnd.randrange(0, 130 * 365 * 86_400_000))
        for _ in range(3000)
    ]
    edges = ["2024-02-29T23:59:59.999Z", "2000-02-29T00:00:00.000Z", "1970-01-01T00:00:00.000Z"]
    edges += ["2026-12-31T23:59:59.999Z", "2027-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z"]
    edges += ["0001-01-01T00:00:00.000Z", "1969-12-31T23:59:59.999Z"]
    stamps = [iso(m) for m in moments] + edges
    at_once = _iso_stamps(stamps)
    assert at_once is not None  # the fast path is taken for Capgo's own form
    assert at_once.tolist() == [epoch_ms(s) for s in stamps]
    assert at_once.dtype == np.int64


@pytest.mark.parametrize(
    "odd_stamp",
    [
        None,
        1_790_000_000,
        "2026-11-12 18:57:24",  # Analytics Engine's form: UTC, converted one by one
        "2026-11-12T18:57:24Z",
        "2026-11-12T18:57:24.958123Z",  # microseconds: rounded down
        "2026-11-12T18:57:24.958+01:00",
        "2025-02-29T00:00:00.000Z",  # no such day
        "2026-04-31T00:00:00.000Z",
        "2026-13-01T00:00:00.000Z",
        "2026-00-10T00:00:00.000Z",
        "2026-01-00T00:00:00.000Z",
        "2026-01-01T24:00:00.000Z",
        "2026-01-01T23:60:00.000Z",
        "2026-01-01T23:59:60.000Z",
        "0000-01-01T00:00:00.000Z",
        "2026-01-01T2a:00:00.000Z",
        "2026-01-01X23:59:59.999Z",
        "2026-01-01T23:59:59.999é",
        "soon",
    ],
)
def test_a_page_with_any_other_timestamp_gets_the_same_milliseconds(odd_stamp: object) -> None:
    stamps = ["2026-11-12T18:57:24.958Z", odd_stamp, "2026-11-13T01:02:03.004Z"]
    assert _iso_stamps(stamps) is None
    column = epoch_ms_column(stamps)
    assert list(column) == [epoch_ms(s) for s in stamps]


def test_epoch_ms_rules() -> None:
    assert epoch_ms("2026-11-12T18:57:24.958Z") == 1_794_509_844_958
    assert epoch_ms("2026-11-12 18:57:24") == 1_794_509_844_000  # no zone: UTC
    assert epoch_ms("2026-11-12T18:57:24.958999Z") == 1_794_509_844_958  # rounded down
    assert epoch_ms("2026-11-12T19:57:24.958+01:00") == 1_794_509_844_958
    assert epoch_ms("2025-02-29T00:00:00Z") is None
    assert epoch_ms({"at": 1}) is None
