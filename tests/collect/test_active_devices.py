"""``capgo_app_active_devices{app_id, platform}``: Capgo's own count of active devices, from
``native_usage``'s ``activeDevices`` where Capgo answers it, absent where it does not."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
from pydantic import SecretStr

from capgo_exporter.api import CapgoClient, ClientOptions
from capgo_exporter.collect.statistics import (
    ACTIVE_DEVICES_DAYS,
    APP_ACTIVE_DEVICES,
    APP_MAU,
    StatisticsCollector,
)
from capgo_exporter.sim import SimConfig, Simulator
from capgo_exporter.sim.timeutil import to_ms
from tests.clock import pinned_now

from .conftest import KEY, discover, make_settings, run, values

COUNTS = {"android": 12, "ios": 30, "electron": 1, "unknown": 0, "total": 43}


class ActiveDevicesAdded(httpx.AsyncBaseTransport):
    """The simulator, with ``activeDevices`` added to ``native_usage`` as newer Capgo answers;
    the ranges asked for are kept."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.ranges: list[tuple[str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if not request.url.path.endswith("/native_usage") or response.status_code != 200:
            return response
        self.ranges.append((request.url.params["from"], request.url.params["to"]))
        body: dict[str, Any] = json.loads(await response.aread())
        body["activeDevices"] = COUNTS
        return httpx.Response(200, json=body)


def _client(transport: httpx.AsyncBaseTransport) -> CapgoClient:
    options = ClientOptions(
        api_key=SecretStr(KEY), base_url="http://sim", requests_per_minute=100_000, max_retries=0
    )
    return CapgoClient.create(options, transport=transport)


async def test_active_devices_per_platform_where_capgo_counts_them(sim: Simulator) -> None:
    transport = ActiveDevicesAdded(sim.transport())
    settings = make_settings()
    async with _client(transport) as client:
        discovery = await discover(client, settings)
        result = await run(StatisticsCollector(), client, settings, discovery)
    platforms = ("android", "ios", "electron", "unknown")
    assert values(result.samples, APP_ACTIVE_DEVICES) == {
        (app.app_id, platform): COUNTS[platform] for app in discovery.apps for platform in platforms
    }
    today = pinned_now().date()
    start = today - timedelta(days=ACTIVE_DEVICES_DAYS - 1)
    assert set(transport.ranges) == {(start.isoformat(), (today + timedelta(days=1)).isoformat())}


async def test_absent_where_capgo_does_not_count_them(sim: Simulator) -> None:
    settings = make_settings()
    async with _client(sim.transport()) as client:
        discovery = await discover(client, settings)
        result = await run(StatisticsCollector(), client, settings, discovery)
    assert APP_ACTIVE_DEVICES not in result.samples
    assert len(values(result.samples, APP_MAU)) == len(discovery.apps)  # the rest is there
    assert sim.request_counts()["GET /statistics/app/{app_id}/native_usage"] == len(discovery.apps)


async def test_against_newer_capgo_the_counts_are_its_devices_of_the_last_30_days() -> None:
    config = SimConfig(
        seed=7, orgs=1, apps_per_org=2, keys={KEY: "org_super_admin"}, newer_capgo=True
    )
    sim = Simulator(config, clock=pinned_now)
    settings = make_settings()
    async with _client(sim.transport()) as client:
        discovery = await discover(client, settings)
        result = await run(StatisticsCollector(), client, settings, discovery)
    today = pinned_now().date()
    start = datetime.combine(today - timedelta(days=ACTIVE_DEVICES_DAYS - 1), time(), UTC)
    end = datetime.combine(today + timedelta(days=1), time(), UTC)
    for app in discovery.apps:
        store = sim._world.devices[app.app_id]
        counted = Counter(
            f.platform
            for f in map(store.facts, range(store.count))
            if to_ms(start) <= f.updated_ms < to_ms(end)
        )
        served = {
            platform: value
            for (app_id, platform), value in values(result.samples, APP_ACTIVE_DEVICES).items()
            if app_id == app.app_id
        }
        assert served == {p: counted[p] for p in ("android", "ios", "electron", "unknown")}
        assert sum(served.values()) > 0
