"""The client's paginators and budget against the simulator (in-process and over TCP)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from pydantic import SecretStr

from capgo_exporter.api import (
    AuthenticationError,
    CapgoClient,
    CapgoHTTP,
    ClientOptions,
    RequestBudget,
    RetryPolicy,
)
from capgo_exporter.sim import SimConfig, Simulator
from tests.clock import running_clock

KEY = "demo"


def simulator(devices: int = 100, **config: Any) -> Simulator:
    options: dict[str, Any] = {
        "seed": 4,
        "orgs": 1,
        "apps_per_org": 1,
        "keys": {KEY: "org_super_admin"},
    }
    return Simulator(
        SimConfig(devices_per_app=devices, **(options | config)), clock=running_clock()
    )


def options(key: str = KEY, base_url: str = "http://sim") -> ClientOptions:
    return ClientOptions(api_key=SecretStr(key), base_url=base_url, requests_per_minute=1_000_000)


def client_for(sim: Simulator) -> CapgoClient:
    return CapgoClient.create(options(), transport=sim.transport())


@pytest.mark.parametrize(
    ("devices", "page_size"), [(0, 999), (1, 999), (999, 999), (1000, 999), (2500, 50), (7, 3)]
)
async def test_every_device_exactly_once(devices: int, page_size: int) -> None:
    sim = simulator(devices)
    app_id = sim.app_ids()[0]
    async with client_for(sim) as capgo:
        seen = [d.device_id async for d in capgo.devices.list(app_id, page_size=page_size)]
    assert len(seen) == devices
    assert len(set(seen)) == devices
    # The minimum the API allows: the last page is the one with hasMore false.
    assert sim.request_counts()["GET /device"] == max(1, -(-devices // page_size))


async def test_a_100k_walk_with_pages_of_999_takes_exactly_101_requests() -> None:
    sim = simulator(100_000)
    app_id = sim.app_ids()[0]
    async with client_for(sim) as capgo:
        count = 0
        async for page in capgo.devices.raw_pages(app_id, page_size=999):
            count += len(page)
    assert count == 100_000
    assert sim.request_counts()["GET /device"] == 101


async def test_devices_changing_during_the_walk_are_still_returned_once() -> None:
    sim = simulator(5000)
    app_id = sim.app_ids()[0]
    seen: list[str] = []
    async with client_for(sim) as capgo:
        async for page in capgo.devices.raw_pages(app_id, page_size=500):
            seen += [row["device_id"] for row in page]
            # Devices check in (new updated_at, often a new bundle) while we walk.
            sim.touch_devices(app_id, 200)
    assert len(seen) == 5000
    assert len(set(seen)) == 5000


async def test_devices_added_during_the_walk_never_duplicate_others() -> None:
    sim = simulator(3000)
    app_id = sim.app_ids()[0]
    seen: list[str] = []
    async with client_for(sim) as capgo:
        async for page in capgo.devices.raw_pages(app_id, page_size=400):
            seen += [row["device_id"] for row in page]
            sim.add_devices(app_id, 50)
    assert len(seen) == len(set(seen))
    assert len(seen) >= 3000


async def test_updated_after_returns_only_the_touched_devices() -> None:
    sim = simulator(4000)
    app_id = sim.app_ids()[0]
    async with client_for(sim) as capgo:
        newest = max(
            [d.updated_at async for d in capgo.devices.list(app_id) if d.updated_at is not None]
        )
        touched = set(sim.touch_devices(app_id, 1500))
        sim.reset_request_counts()
        changed = {d.device_id async for d in capgo.devices.list(app_id, updated_after=newest)}
    assert changed == touched
    assert sim.request_counts()["GET /device"] == 1  # 1500 devices fit one page of 50,000


@pytest.mark.parametrize("legacy", [False, True], ids=["cursor", "legacy-array"])
async def test_legacy_device_paging_is_walked_too(legacy: bool) -> None:
    sim = simulator(230, legacy_device_paging=legacy)
    app_id = sim.app_ids()[0]
    async with client_for(sim) as capgo:
        seen = [d.device_id async for d in capgo.devices.list(app_id)]
    assert sorted(seen) == sorted(set(seen))
    assert len(seen) == 230


@pytest.mark.parametrize("channels", [1, 49, 50, 51, 130])
async def test_every_channel_exactly_once_despite_the_page_bug(channels: int) -> None:
    sim = simulator(10, channels_per_app=1)
    app_id = sim.app_ids()[0]
    async with client_for(sim) as capgo:
        for i in range(channels - 1):
            await capgo.channels.set(app_id, f"extra-{i:03d}", public=False)
        listed = [c.name async for c in capgo.channels.list(app_id)]
    assert len(listed) == channels
    assert len(set(listed)) == channels


@pytest.mark.parametrize("bundles", [0, 1, 50, 51, 240])
async def test_every_live_bundle_exactly_once(bundles: int) -> None:
    sim = simulator(10, bundles_per_app=bundles)
    app_id = sim.app_ids()[0]
    truth = sim.truth().app(app_id)
    async with client_for(sim) as capgo:
        listed = [b.name async for b in capgo.bundles.list(app_id)]
    assert len(listed) == len(set(listed)) == truth.bundles
    assert set(listed) == set(truth.bundle_created)


async def test_apps_and_orgs_are_listed_across_pages() -> None:
    sim = Simulator(
        SimConfig(seed=2, orgs=3, apps_per_org=4, devices_per_app=1), clock=running_clock()
    )
    async with client_for(sim) as capgo:
        apps = [a.app_id async for a in capgo.apps.list(page_size=5)]
        orgs = [o.id async for o in capgo.organizations.list()]
    assert sorted(apps) == sorted(sim.app_ids())
    assert sorted(orgs) == sorted(sim.org_ids())


async def _walk_under_limit(
    budget_per_minute: int, rate: int, burst: int
) -> tuple[int, float, dict[str, int]]:
    """Two concurrent walks of 120 small pages under a server limit.

    Small pages keep each request cheap, so the client, not the simulator's CPU, sets the pace.
    """
    sim = simulator(1200)
    sim.configure(rate_limit_per_min=rate, rate_limit_burst=burst)
    app_id = sim.app_ids()[0]
    http = CapgoHTTP(
        options(),
        transport=sim.transport(),
        budget=RequestBudget(budget_per_minute, burst=burst, concurrency=4),
        retry=RetryPolicy(max_retries=0),
    )
    requests = 0

    async def walk() -> None:
        nonlocal requests
        async for _ in capgo.devices.raw_pages(app_id, page_size=10):
            requests += 1

    started = time.monotonic()
    async with CapgoClient(http) as capgo:
        await asyncio.gather(walk(), walk(), return_exceptions=True)
    return requests, time.monotonic() - started, sim.status_counts()


@pytest.mark.serial  # asserts how long something takes
async def test_a_budget_equal_to_the_servers_limit_never_gets_a_429() -> None:
    # The server allows 6000 a minute with a burst of 10; so does the client's budget.
    requests, elapsed, statuses = await _walk_under_limit(6000, rate=6000, burst=10)
    assert requests == 240
    assert not any(key.endswith(" 429") for key in statuses), statuses
    # And it costs no more time than the limit demands: at most 1.1 x requests / rate.
    assert elapsed <= 1.1 * requests / (6000 / 60)


async def test_a_budget_above_the_servers_limit_does_meet_429s() -> None:
    # The same walk with twice the budget: proof the test above can fail.
    _, _, statuses = await _walk_under_limit(12000, rate=6000, burst=10)
    assert any(key.endswith(" 429") for key in statuses), statuses


async def test_over_tcp_with_keep_alive() -> None:
    sim = simulator(3000)
    app_id = sim.app_ids()[0]
    with sim.serve_tcp() as url:
        async with CapgoClient.create(options(base_url=url)) as capgo:
            seen = [d.device_id async for d in capgo.devices.list(app_id, page_size=999)]
    assert len(set(seen)) == 3000


async def test_the_simulated_lockout_is_reported_not_retried() -> None:
    sim = simulator(10)
    async with CapgoClient.create(options("not-a-key"), transport=sim.transport()) as capgo:
        with pytest.raises(AuthenticationError, match="invalid_apikey"):
            await capgo.apps.get(sim.app_ids()[0])
        # The client now refuses to send with the rejected key: no road to the IP lockout.
        for _ in range(30):
            with pytest.raises(AuthenticationError, match="not sent"):
                await capgo.apps.get(sim.app_ids()[0])
    assert sum(n for k, n in sim.status_counts().items() if k.endswith(" 401")) == 1
