"""``capgo-exporter check`` takes its day from the clock it is given, not from the wall clock."""

from __future__ import annotations

import io

import httpx
from pydantic import SecretStr

from capgo_exporter.api import CapgoClient, ClientOptions
from capgo_exporter.check import run_check
from capgo_exporter.sim import SimConfig, Simulator

from .clock import PINNED_NOW, day, pinned_now

KEY = "demo"


class RecordingTransport(httpx.AsyncBaseTransport):
    """The simulator's transport, keeping each request it carries."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.inner.handle_async_request(request)


async def test_check_probes_statistics_around_the_day_it_is_given() -> None:
    sim = Simulator(
        SimConfig(orgs=1, apps_per_org=1, devices_per_app=10, keys={KEY: "org_super_admin"}),
        clock=pinned_now,
    )
    transport = RecordingTransport(sim.transport())
    options = ClientOptions(api_key=SecretStr(KEY), base_url="http://sim", max_retries=0)
    out = io.StringIO()
    async with CapgoClient.create(options, transport=transport) as client:
        status = await run_check(client, "the simulator", out, today=PINNED_NOW.date)
    assert status == 0, out.getvalue()
    asked = [
        (r.url.params["from"], r.url.params["to"])
        for r in transport.requests
        if r.url.path.startswith("/statistics/app/")
    ]
    # Yesterday to tomorrow around the pinned day, whatever the date the test runs on.
    assert asked == [(day(-1), day(1))]
