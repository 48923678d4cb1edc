"""The daemon polling the simulator in this process, for the benchmarks of what Capgo does.

Its collectors, scheduler, request budget (the default, 100 a minute) and client, every
collector polling every ``interval``, against a simulated account of one organization, two
apps and 2,000 devices each. A loopback API URL: intervals under 10 s are allowed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx

from capgo_exporter.collectors import COLLECTORS
from capgo_exporter.daemon import Exporter, exporter
from capgo_exporter.settings import load_settings
from capgo_exporter.sim import SimConfig, Simulator


@asynccontextmanager
async def polling_daemon(
    interval: str,
    wrap: Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport] = lambda inner: inner,
) -> AsyncIterator[tuple[Simulator, Exporter]]:
    """The simulator and the daemon, polling until the block ends; ``wrap`` puts a
    transport of the benchmark's between them. The simulator records arrivals from here."""
    sim = Simulator(SimConfig(seed=1, orgs=1, apps_per_org=2, devices_per_app=2_000))
    settings = load_settings(
        {
            "api_url": "http://127.0.0.1:9",
            "api_key": "demo",
            **{f"{name}_interval": interval for name in COLLECTORS},
        },
        environ={},
        home=None,
    )
    sim.arrivals.start()
    stop = asyncio.Event()
    async with exporter(settings, wrap(sim.transport())) as built:
        polling = asyncio.create_task(built.scheduler.run(stop))
        try:
            yield sim, built
        finally:
            stop.set()
            await polling
