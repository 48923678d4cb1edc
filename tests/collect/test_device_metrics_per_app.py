"""An app's device metrics appear as soon as that app's walk completes, while another app is
still walking: never partial counts, and the collector's health is unchanged until the run
ends."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx

from capgo_exporter.catalogue import specs_of
from capgo_exporter.collect.base import CollectContext, SamplesUpdate
from capgo_exporter.collect.devices.collector import APP_DEVICES, DEVICES_TRACKED, DevicesCollector
from capgo_exporter.collect.devices.index import DeviceIndex
from capgo_exporter.collect.samples import Samples
from capgo_exporter.daemon import exporter
from capgo_exporter.sim import SimConfig, Simulator
from tests.clock import pinned_now
from tests.collect.conftest import make_settings
from tests.collect.test_devices_collector import Fleet, actual, assert_truth, expected
from tests.waiting import device_walk_settings, until

DEVICES, PAGE = 2_000, 500


class HeldApp(httpx.AsyncBaseTransport):
    """The simulator, except that one app's GET /device waits for `release` (a slow walk)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, app_id: str | None = None) -> None:
        self.inner = inner
        self.app_id = app_id
        self.release = asyncio.Event()
        self.waiting = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/device" and request.url.params.get("app_id") == self.app_id:
            self.waiting += 1
            await self.release.wait()
        return await self.inner.handle_async_request(request)


def tracked(app_id: str, n: int) -> bytes:
    return f'capgo_exporter_devices_tracked{{app_id="{app_id}"}} {n}.0'.encode()


async def test_a_first_walk_serves_each_app_when_its_walk_completes() -> None:
    sim = Simulator(
        SimConfig(seed=4, orgs=1, apps_per_org=2, devices_per_app=DEVICES), clock=pinned_now
    )
    done, slow = sim.app_ids()
    transport = HeldApp(sim.transport(), slow)
    settings = device_walk_settings(PAGE)
    stop = asyncio.Event()
    async with exporter(settings, transport) as built:
        running = asyncio.create_task(built.scheduler.run(stop))
        try:
            await until(lambda: tracked(done, DEVICES) in built.holder.current.text)
            assert transport.waiting  # the slow app is walking meanwhile

            served = built.holder.current.text
            assert f'capgo_app_devices{{app_id="{done}"'.encode() in served
            assert f'app_id="{slow}",platform='.encode() not in served  # nothing of it, no 0s
            assert f'capgo_exporter_devices_tracked{{app_id="{slow}"'.encode() not in served
            # The run has not ended: not ready, and the collector not said to be up.
            assert not built.scheduler.ready()
            sample = built.self_metrics.registry.get_sample_value
            assert sample("capgo_exporter_collector_up", {"collector": "devices"}) == 0

            transport.release.set()
            await until(built.scheduler.ready)
            served = built.holder.current.text
            assert tracked(done, DEVICES) in served
            assert tracked(slow, DEVICES) in served
            assert sample("capgo_exporter_collector_up", {"collector": "devices"}) == 1
        finally:
            stop.set()
            await running


async def test_a_resync_keeps_an_apps_previous_figures_until_its_walk_completes() -> None:
    settings = make_settings(device_page_size=PAGE, devices_full_resync_interval=3600)
    config = SimConfig(seed=5, orgs=1, apps_per_org=3, devices_per_app=DEVICES)
    fleet = Fleet(settings, config)
    first, slow, gone = fleet.apps
    collector = DevicesCollector(settings, DeviceIndex())
    try:
        served = await fleet.collect(collector)
        discovery = await fleet.discovery()
        fleet.clock.advance(hours=2)  # a full resync is due
        for app_id in (first, slow):
            fleet.sim.add_devices(app_id, 100)
        held = fleet.transport.inner = HeldApp(fleet.transport.inner, slow)
        early: list[Samples] = []

        async def publish(update: SamplesUpdate) -> None:
            nonlocal served
            served = update(served)
            early.append(served)
            held.release.set()

        context = CollectContext(
            client=fleet.client,
            settings=settings,
            discovery=replace(discovery, apps=discovery.apps[:2]),  # `gone` was deselected
            now=fleet.clock,
            publish_early=publish,
        )
        # The slow app is released by the first early publish: without one, this times out.
        result = (await asyncio.wait_for(collector.collect(context), timeout=30)).samples
    finally:
        collector.close()
        await fleet.client.aclose()
    # First published: the app that finished, complete; the slow one as its last full walk
    # left it; the deselected one no more.
    assert early[0][DEVICES_TRACKED] == {(first,): DEVICES + 100, (slow,): DEVICES}
    assert not any(labels[0] == gone for labels in early[0][APP_DEVICES])
    assert len(early) == 2
    assert early[1][DEVICES_TRACKED] == result[DEVICES_TRACKED]
    assert result[DEVICES_TRACKED] == {(first,): DEVICES + 100, (slow,): DEVICES + 100}
    truth = expected(fleet.sim.truth(max_bundles_per_app=settings.max_bundles_per_app))
    for spec, values in actual(result).items():
        assert values == {k: v for k, v in truth[spec].items() if k[0] != gone}, spec.name


async def test_incremental_runs_publish_only_at_the_end() -> None:
    """An incremental walk is a request or two: one snapshot swap per run, not one per app."""
    settings = make_settings(device_page_size=PAGE)
    fleet = Fleet(settings)
    collector = DevicesCollector(settings, DeviceIndex())
    calls: list[SamplesUpdate] = []

    async def publish(update: SamplesUpdate) -> None:
        calls.append(update)

    try:
        discovery = await fleet.discovery()
        for run in range(2):
            context = CollectContext(
                client=fleet.client,
                settings=settings,
                discovery=discovery,
                now=fleet.clock,
                publish_early=publish,
            )
            samples = (await collector.collect(context)).samples
            # The first run walks every app in full, each published early; the second polls.
            assert len(calls) == len(fleet.apps), run
    finally:
        collector.close()
        await fleet.client.aclose()
    assert_truth(fleet, samples)


def test_every_device_metric_is_per_app() -> None:
    """Publishing one app replaces the series whose first label is that app_id."""
    assert {spec.labels[0] for spec in specs_of("devices")} == {"app_id"}
