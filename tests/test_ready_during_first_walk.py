"""What an operator sees while a first device walk is running (README "Large fleets"):
/readyz stays 503, the other collectors' metrics are already served, the walk's progress is
visible, and no device metric appears before the app's walk is complete."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx

from capgo_exporter.daemon import exporter
from capgo_exporter.sim import SimConfig, Simulator
from tests.waiting import device_walk_settings, until

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
DEVICES, PAGE = 3_000, 500


class HeldDevicePages(httpx.AsyncBaseTransport):
    """The simulator, except that GET /device after the first page waits for `release`."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.release = asyncio.Event()
        self.device_requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/device":
            self.device_requests += 1
            if self.device_requests > 1:
                await self.release.wait()
        return await self.inner.handle_async_request(request)


async def test_readiness_and_metrics_during_a_first_device_walk() -> None:
    sim = Simulator(
        SimConfig(seed=2, orgs=1, apps_per_org=1, devices_per_app=DEVICES), clock=lambda: NOW
    )
    (app_id,) = sim.app_ids()
    transport = HeldDevicePages(sim.transport())
    settings = device_walk_settings(PAGE)
    stop = asyncio.Event()
    async with exporter(settings, transport) as built:
        running = asyncio.create_task(built.scheduler.run(stop))
        try:
            self_metrics = built.self_metrics.registry.get_sample_value
            await until(
                lambda: self_metrics("capgo_exporter_device_walk_pages", {"app_id": app_id}) == 1
            )
            await until(lambda: b"capgo_app_info{" in built.holder.current.text)

            # Mid-walk: not ready, inventory served, progress visible, no partial device counts.
            assert not built.scheduler.ready()
            served = built.holder.current.text
            assert b"capgo_app_devices{" not in served
            assert b"capgo_exporter_devices_tracked{" not in served
            labels = {"app_id": app_id}
            assert self_metrics("capgo_exporter_device_walk_in_progress", labels) == 1
            assert self_metrics("capgo_exporter_device_walk_devices", labels) == PAGE

            transport.release.set()
            await until(built.scheduler.ready)
            served = built.holder.current.text
            assert (
                f'capgo_exporter_devices_tracked{{app_id="{app_id}"}} {DEVICES}.0'.encode()
                in served
            )
            assert self_metrics("capgo_exporter_device_walk_in_progress", labels) == 0
            assert self_metrics("capgo_exporter_device_walk_devices", labels) == DEVICES
            assert self_metrics("capgo_exporter_device_walk_pages", labels) == DEVICES // PAGE
        finally:
            stop.set()
            await running
