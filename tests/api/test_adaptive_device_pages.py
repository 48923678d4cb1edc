"""The device walk's adaptive page size against the simulator modelling both storages:
Analytics Engine (production, fetches capped at 50,001 rows) and the Supabase path (1,000).
Both answer a cut-short page with hasMore:false; the walk must notice and lose nothing."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import pytest

from capgo_exporter.api.devices import DEFAULT_PAGE_SIZE, capped_at
from tests.api.test_client_against_sim import client_for, simulator

SUPABASE, ANALYTICS = 1_000, 50_001


async def walk(devices: int, cap: int, **kwargs: Any) -> tuple[list[str], int, list[int]]:
    """Every device id one walk returns, the GET /device requests it took, and what it
    reported through on_capped."""
    sim = simulator(devices, device_row_cap=cap)
    app_id = sim.app_ids()[0]
    reported: list[int] = []
    async with client_for(sim) as capgo:
        seen = [
            row.device_id
            async for page in capgo.devices.rows(app_id, on_capped=reported.append, **kwargs)
            for row in page
        ]
    return seen, sim.request_counts()["GET /device"], reported


@pytest.mark.parametrize(
    ("rows", "limit", "has_more", "cap"),
    [
        (1_000, 50_000, False, 1_000),  # the Supabase signature
        (1_000, 1_000, False, 1_000),  # limit 1000 is already cut (fetch of 1001 capped)
        (50_001, 60_000, False, 50_001),  # the Analytics Engine signature
        (999, 50_000, False, None),  # a short page: the real end
        (1_000, 999, False, None),  # cannot happen, and 999 is never cut
        (1_000, 50_000, True, None),  # hasMore: the storage did not cut it
        (50_000, 50_000, False, None),  # the largest safe page, genuinely last
    ],
)
def test_the_truncation_signature(rows: int, limit: int, has_more: bool, cap: int | None) -> None:
    assert capped_at(rows, limit, has_more) == cap


@pytest.mark.parametrize("devices", [0, 1, 49_999, 50_000, 50_001, 120_000])
async def test_production_paging_takes_pages_of_50000(devices: int) -> None:
    seen, requests, reported = await walk(devices, ANALYTICS)
    assert len(seen) == len(set(seen)) == devices
    assert requests == max(1, math.ceil(devices / DEFAULT_PAGE_SIZE))
    assert reported == []


@pytest.mark.parametrize("devices", [1_001, 2_500, 10_000])
async def test_supabase_paging_falls_back_to_999_with_one_extra_request(devices: int) -> None:
    seen, requests, reported = await walk(devices, SUPABASE)
    assert len(seen) == len(set(seen)) == devices
    assert requests == 1 + math.ceil(devices / 999)
    assert reported == [999]


@pytest.mark.parametrize("devices", [0, 999])
async def test_supabase_paging_of_small_apps_costs_nothing_extra(devices: int) -> None:
    seen, requests, reported = await walk(devices, SUPABASE)
    assert len(seen) == devices
    assert requests == 1
    assert reported == []


async def test_exactly_the_cap_is_ambiguous_confirmed_and_not_reported() -> None:
    """1,000 devices on production paging look exactly like a Supabase cut: the walk re-reads
    (999, then 1) and loses nothing, but does not conclude the storage cuts pages."""
    seen, requests, reported = await walk(1_000, ANALYTICS)
    assert len(set(seen)) == 1_000
    assert requests == 3
    assert reported == []


async def test_a_page_larger_than_analytics_engine_answers_falls_back_to_50000() -> None:
    seen, requests, reported = await walk(120_000, ANALYTICS, page_size=60_000)
    assert len(set(seen)) == 120_000
    assert requests == 1 + math.ceil(120_000 / 50_000)
    assert reported == [50_000]


async def test_an_incremental_walk_falls_back_too() -> None:
    sim = simulator(3_000, device_row_cap=SUPABASE)
    app_id = sim.app_ids()[0]
    async with client_for(sim) as capgo:
        newest = max([row.updated_at async for page in capgo.devices.rows(app_id) for row in page])
        touched = set(sim.touch_devices(app_id, 1_500))
        sim.reset_request_counts()
        reported: list[int] = []
        changed = {
            row.device_id
            async for page in capgo.devices.rows(
                app_id, updated_after=datetime.fromisoformat(newest), on_capped=reported.append
            )
            for row in page
        }
    assert changed == touched
    assert sim.request_counts()["GET /device"] == 1 + math.ceil(1_500 / 999)
    assert reported == [999]


async def test_raw_pages_fall_back_the_same_way() -> None:
    sim = simulator(2_500, device_row_cap=SUPABASE)
    app_id = sim.app_ids()[0]
    async with client_for(sim) as capgo:
        seen = [row["device_id"] async for page in capgo.devices.raw_pages(app_id) for row in page]
    assert len(set(seen)) == 2_500


def test_large_pages_are_read_in_large_chunks() -> None:
    """The read size the client sets on httpcore still exists there (a rename would silently
    bring back 64 KiB reads and a third more CPU per device)."""
    import httpcore

    import capgo_exporter.api.core  # noqa: F401 - sets it

    assert httpcore.AsyncHTTP11Connection.READ_NUM_BYTES == 1 << 20


@pytest.mark.parametrize(
    ("cap", "devices", "requests"),
    [
        # The Supabase path: one request more than pages of 999 from the start, at most.
        (SUPABASE, 999, 1),
        (SUPABASE, 1_000, 3),  # 1,000 cut-looking, then 999 + 1
        (SUPABASE, 1_001, 3),  # 1,000 cut, then 999 + 2
        (SUPABASE, 50_001, 52),  # 1,000 cut, then 51 pages of 999
        # Production paging: pages of 50,000. Exactly 1,000 devices look cut at 1,000 and take
        # two more requests to settle: the cursor is opaque, so no cheaper proof exists.
        (ANALYTICS, 999, 1),
        (ANALYTICS, 1_000, 3),
        (ANALYTICS, 1_001, 1),
        (ANALYTICS, 50_001, 2),
    ],
)
async def test_requests_per_walk_lose_nothing_and_cost_at_most_one_more_than_999(
    cap: int, devices: int, requests: int
) -> None:
    seen, made, _ = await walk(devices, cap)
    assert len(seen) == len(set(seen)) == devices
    assert made == requests
    if cap == SUPABASE:
        assert made <= math.ceil(devices / 999) + 1
