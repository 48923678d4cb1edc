"""The devices collector against the simulator: its samples equal the simulator's ground truth,
and its walks cost what the design says (counted by the simulator)."""

from __future__ import annotations

import math
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from capgo_exporter.api import CapgoClient, CapgoTransportError, ClientOptions
from capgo_exporter.catalogue import specs_of
from capgo_exporter.collect.base import CollectContext, Discovery, DiscoveryMissing
from capgo_exporter.collect.devices.collector import (
    APP_DEVICES,
    APP_DEVICES_BY_NATIVE,
    APP_DEVICES_BY_PLUGIN,
    APP_DEVICES_CHANNEL_OVERRIDE,
    APP_DEVICES_ON_BUILTIN,
    APP_DEVICES_SEEN_1D,
    APP_DEVICES_SEEN_7D,
    APP_DEVICES_SEEN_30D,
    CHANNEL_ADOPTION,
    DEVICES_TRACKED,
    DevicesCollector,
)
from capgo_exporter.collect.devices.index import DeviceIndex
from capgo_exporter.collect.labels import flag
from capgo_exporter.collect.samples import Labels, Samples
from capgo_exporter.metrics import MetricSpec
from capgo_exporter.settings import Settings
from capgo_exporter.sim import GroundTruth, SimConfig, Simulator
from tests.clock import PINNED_NOW
from tests.collect.conftest import make_settings

NOW = PINNED_NOW
DEVICES = 3000
PAGE = 500
DEVICE_ROUTE = "GET /device"


class Clock:
    """One clock for the simulator and the collector, so seen windows agree to the ms."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Failing(httpx.AsyncBaseTransport):
    """The simulator, except that an app's n-th GET /device from now on cannot connect, and
    that the devices in `hidden` are left out of every page (Capgo forgot them)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.hidden: set[str] = set()
        self._failing: str | None = None
        self._left = 0

    def fail(self, app_id: str | None, at: int = 1) -> None:
        self._failing, self._left = app_id, at

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/device" and request.url.params["app_id"] == self._failing:
            self._left -= 1
            if self._left == 0:
                raise httpx.ConnectError("connection refused", request=request)
        response = await self.inner.handle_async_request(request)
        if request.url.path != "/device" or not self.hidden:
            return response
        body = httpx.Response(200, content=await response.aread()).json()
        body["data"] = [row for row in body["data"] if row["device_id"] not in self.hidden]
        return httpx.Response(response.status_code, json=body, headers=response.headers)


class Fleet:
    """A simulated account of two apps, a client on it, and collectors sharing one index."""

    def __init__(self, settings: Settings, config: SimConfig | None = None) -> None:
        self.clock = Clock()
        config = config or SimConfig(seed=1, orgs=1, apps_per_org=2, devices_per_app=DEVICES)
        self.sim = Simulator(config, clock=self.clock)
        self.transport = Failing(self.sim.transport())
        self.settings = settings
        options = ClientOptions(
            api_key=SecretStr("demo"),
            base_url="http://sim",
            requests_per_minute=1_000_000,
            max_retries=0,
        )
        self.client = CapgoClient.create(options, transport=self.transport)
        self.apps = self.sim.app_ids()

    async def discovery(self) -> Discovery:
        apps = tuple([app async for app in self.client.apps.list()])
        channels = {
            app.app_id: tuple([c async for c in self.client.channels.list(app.app_id)])
            for app in apps
        }
        return Discovery(apps=apps, channels=channels)

    async def collect(
        self, collector: DevicesCollector, discovery: Discovery | None = None
    ) -> Samples:
        self.sim.reset_request_counts()
        found = discovery or await self.discovery()
        self.sim.reset_request_counts()
        context = CollectContext(
            client=self.client, settings=self.settings, discovery=found, now=self.clock
        )
        return (await collector.collect(context)).samples

    def device_requests(self) -> int:
        return self.sim.request_counts().get(DEVICE_ROUTE, 0)


@pytest.fixture
def settings() -> Settings:
    return make_settings(device_page_size=PAGE, max_bundles_per_app=6)


@pytest.fixture
async def fleet(settings: Settings) -> AsyncIterator[Fleet]:
    fleet = Fleet(settings)
    yield fleet
    await fleet.client.aclose()


@pytest.fixture
def collector(settings: Settings) -> DevicesCollector:
    return DevicesCollector(settings, DeviceIndex())


def expected(truth: GroundTruth) -> dict[MetricSpec, dict[Labels, float]]:
    """Every device metric as the collector should report it, from the simulator's world."""
    out: dict[MetricSpec, dict[Labels, float]] = {spec: {} for spec in specs_of("devices")}
    for app in (app for org in truth.orgs for app in org.apps):
        a = app.app_id
        for (platform, bundle, prod, emulator), n in app.devices_by.items():
            out[APP_DEVICES][(a, platform, bundle, flag(prod), flag(emulator))] = n
        for (platform, native), n in app.devices_by_native.items():
            out[APP_DEVICES_BY_NATIVE][(a, platform, native)] = n
        for plugin, n in app.devices_by_plugin.items():
            out[APP_DEVICES_BY_PLUGIN][(a, plugin)] = n
        platforms = {platform for platform, _ in app.devices_by_native}
        for platform in platforms:  # a sample for every platform present, 0 included
            out[APP_DEVICES_ON_BUILTIN][(a, platform)] = app.on_builtin.get(platform, 0)
            for window, spec in (
                ("1d", APP_DEVICES_SEEN_1D),
                ("7d", APP_DEVICES_SEEN_7D),
                ("30d", APP_DEVICES_SEEN_30D),
            ):
                out[spec][(a, platform)] = app.seen[window].get(platform, 0)
        for channel, n in app.channel_overrides.items():
            out[APP_DEVICES_CHANNEL_OVERRIDE][(a, channel)] = n
        for ch in app.channels:
            if ch.adoption_ratio is not None:
                out[CHANNEL_ADOPTION][(a, ch.name)] = ch.adoption_ratio
        out[DEVICES_TRACKED][(a,)] = app.devices
    return out


def actual(samples: Samples) -> dict[MetricSpec, dict[Labels, float]]:
    return {spec: dict(samples.get(spec, {})) for spec in specs_of("devices")}


def assert_expected(samples: Samples, want: dict[MetricSpec, dict[Labels, float]]) -> None:
    """Every device metric as ``want`` says, compared metric by metric (a failure names it)."""
    got = actual(samples)
    for spec in want:
        assert got[spec] == want[spec], spec.name


def assert_truth(fleet: Fleet, samples: Samples) -> None:
    max_bundles = fleet.settings.max_bundles_per_app
    assert_expected(samples, expected(fleet.sim.truth(max_bundles_per_app=max_bundles)))


async def test_first_run_walks_everything_once_and_equals_the_truth(
    fleet: Fleet, collector: DevicesCollector
) -> None:
    samples = await fleet.collect(collector)
    assert fleet.device_requests() == len(fleet.apps) * math.ceil(DEVICES / PAGE)
    assert_truth(fleet, samples)
    # The fixture is worth testing with: folding, overrides and adoption all happen.
    assert any(labels[2] == "other" for labels in samples[APP_DEVICES])
    assert samples[APP_DEVICES_CHANNEL_OVERRIDE]
    assert 0 < min(samples[CHANNEL_ADOPTION].values()) < 1


@pytest.mark.parametrize("touched", [0, 1, 999, 1000, 1001])
async def test_incremental_runs_fetch_only_what_changed(
    fleet: Fleet, collector: DevicesCollector, touched: int
) -> None:
    await fleet.collect(collector)
    fleet.clock.advance(minutes=5)
    fleet.sim.touch_devices(fleet.apps[0], touched)
    samples = await fleet.collect(collector)
    # Measured: exactly ⌈touched / page size⌉ requests, and 1 when nothing changed. The server
    # fetches limit + 1 rows, so a page that ends the changes exactly says hasMore: false.
    assert fleet.device_requests() == max(1, math.ceil(touched / PAGE)) + 1
    assert_truth(fleet, samples)


async def test_devices_added_later_are_counted(fleet: Fleet, collector: DevicesCollector) -> None:
    await fleet.collect(collector)
    fleet.clock.advance(minutes=5)
    fleet.sim.add_devices(fleet.apps[0], 40)
    samples = await fleet.collect(collector)
    assert fleet.device_requests() == 2
    assert samples[DEVICES_TRACKED][(fleet.apps[0],)] == DEVICES + 40
    assert_truth(fleet, samples)


async def test_a_restart_does_not_walk_again(fleet: Fleet, tmp_path: Path) -> None:
    settings = make_settings(device_page_size=PAGE, max_bundles_per_app=6, state_dir=tmp_path)
    first = DevicesCollector(settings)
    before = await fleet.collect(first)
    first.close()
    fleet.clock.advance(minutes=5)
    fleet.sim.touch_devices(fleet.apps[0], 10)

    second = DevicesCollector(settings)
    try:
        samples = await fleet.collect(second)
    finally:
        second.close()
    assert fleet.device_requests() == len(fleet.apps)  # one incremental page each
    assert_truth(fleet, samples)
    assert samples[DEVICES_TRACKED] == before[DEVICES_TRACKED]


async def test_full_resync_forgets_devices_capgo_forgot(fleet: Fleet) -> None:
    settings = make_settings(
        device_page_size=PAGE, max_bundles_per_app=1000, devices_full_resync_interval="1h"
    )
    fleet.settings = settings
    collector = DevicesCollector(settings, DeviceIndex())
    await fleet.collect(collector)
    app = fleet.apps[0]
    store = fleet.sim.world.devices[app]
    forgotten = [store.device_id(i) for i in range(0, DEVICES, 100)]
    fleet.transport.hidden = set(forgotten)

    fleet.clock.advance(minutes=30)  # not due yet: an incremental walk cannot see deletions
    samples = await fleet.collect(collector)
    assert fleet.device_requests() == 2
    assert samples[DEVICES_TRACKED][(app,)] == DEVICES

    fleet.clock.advance(minutes=31)
    samples = await fleet.collect(collector)
    assert fleet.device_requests() == len(fleet.apps) * math.ceil(DEVICES / PAGE)
    assert samples[DEVICES_TRACKED][(app,)] == DEVICES - len(forgotten)
    # Exactly the forgotten devices are gone from the breakdown.
    truth = Counter(fleet.sim.truth().app(app).devices_by)
    for device_id in forgotten:
        f = store.facts(store.index_of(device_id) or 0)
        truth[(f.platform, f.version_name, f.is_prod, f.is_emulator)] -= 1
    want = {(app, p, b, flag(prod), flag(emu)): n for (p, b, prod, emu), n in truth.items() if n}
    got = {labels: n for labels, n in samples[APP_DEVICES].items() if labels[0] == app}
    assert got == want


async def test_a_failed_first_walk_stores_no_mark(
    fleet: Fleet, collector: DevicesCollector
) -> None:
    fleet.transport.fail(fleet.apps[0], at=3)
    with pytest.raises(CapgoTransportError):
        await fleet.collect(collector)
    fleet.transport.fail(None)
    samples = await fleet.collect(collector)
    # The app whose walk failed is walked whole again; the other one had finished its walk.
    assert fleet.device_requests() == math.ceil(DEVICES / PAGE) + 1
    assert_truth(fleet, samples)


async def test_a_failed_incremental_walk_is_repeated_whole(
    fleet: Fleet, collector: DevicesCollector
) -> None:
    await fleet.collect(collector)
    fleet.clock.advance(minutes=5)
    fleet.sim.touch_devices(fleet.apps[0], 1200)  # 3 pages
    fleet.transport.fail(fleet.apps[0], at=2)
    with pytest.raises(CapgoTransportError):
        await fleet.collect(collector)
    fleet.transport.fail(None)
    samples = await fleet.collect(collector)
    assert fleet.device_requests() == 3 + 1  # the mark did not move past the stored pages
    assert_truth(fleet, samples)


async def test_an_interrupted_resync_deletes_nothing(fleet: Fleet) -> None:
    settings = make_settings(device_page_size=PAGE, devices_full_resync_interval="1h")
    fleet.settings = settings
    collector = DevicesCollector(settings, DeviceIndex())
    await fleet.collect(collector)
    fleet.clock.advance(hours=2)
    fleet.transport.fail(fleet.apps[0], at=2)  # the resync fails on its second page
    with pytest.raises(CapgoTransportError):
        await fleet.collect(collector)
    fleet.transport.fail(None)
    samples = await fleet.collect(collector)
    assert samples[DEVICES_TRACKED] == {(app,): DEVICES for app in fleet.apps}
    assert_truth(fleet, samples)


async def test_apps_gone_from_discovery_are_dropped(
    fleet: Fleet, collector: DevicesCollector
) -> None:
    discovery = await fleet.discovery()
    await fleet.collect(collector, discovery)
    kept = Discovery(apps=discovery.apps[:1], channels=discovery.channels)
    samples = await fleet.collect(collector, kept)
    assert set(samples[DEVICES_TRACKED]) == {(fleet.apps[0],)}
    assert all(labels[0] == fleet.apps[0] for labels in samples[APP_DEVICES])
    fleet.clock.advance(minutes=5)
    samples = await fleet.collect(collector, discovery)  # back: walked from scratch
    assert fleet.device_requests() == 1 + math.ceil(DEVICES / PAGE)
    assert_truth(fleet, samples)


async def test_a_refused_app_is_skipped_not_fatal(
    fleet: Fleet, collector: DevicesCollector
) -> None:
    refused = fleet.apps[1]
    inner = fleet.transport.handle_async_request

    async def refuse(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/device" and request.url.params.get("app_id") == refused:
            body: dict[str, Any] = {"error": "cannot_access_app", "message": "no"}
            return httpx.Response(400, json=body, request=request)
        return await inner(request)

    fleet.transport.handle_async_request = refuse  # type: ignore[method-assign]
    samples = await fleet.collect(collector)
    assert set(samples[DEVICES_TRACKED]) == {(fleet.apps[0],)}


async def test_without_discovery(fleet: Fleet, collector: DevicesCollector) -> None:
    context = CollectContext(client=fleet.client, settings=fleet.settings, discovery=None)
    with pytest.raises(DiscoveryMissing):
        await collector.collect(context)


def test_name_and_close(settings: Settings) -> None:
    index = DeviceIndex()
    collector = DevicesCollector(settings, index)
    assert collector.name == "devices"
    collector.close()
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        index.upsert_rows("com.acme.shop", [{"device_id": "x"}])
