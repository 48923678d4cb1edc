"""Health tells the truth while runs stall: a Retry-After pause in force, or a run that has
lasted longer than its interval, says 0, even while the last good data are still served."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from capgo_exporter.collectors import COLLECTORS
from capgo_exporter.daemon import exporter
from capgo_exporter.health import HealthBook, RunOutcome
from capgo_exporter.selfmetrics import SelfMetrics
from capgo_exporter.settings import load_settings
from capgo_exporter.sim import SimConfig, Simulator
from tests.clock import running_clock
from tests.faults.harness import Series, capgo_up, collector_up, parse

NOW = 1_760_000_000.0


def book() -> tuple[HealthBook, SelfMetrics]:
    metrics = SelfMetrics(["a", "b"], process_metrics=False)
    health = HealthBook([("a", 60.0), ("b", 60.0)], metrics, lambda: NOW)
    for name in ("a", "b"):
        outcome = RunOutcome(name, 1.0, NOW)
        health.settle(outcome, health.finished(outcome), dropped=False)
    return health, metrics


def gauges(metrics: SelfMetrics) -> Series:
    return parse(metrics.render().decode())


def test_an_overdue_run_takes_its_collector_and_capgo_up_down() -> None:
    health, metrics = book()
    assert capgo_up(gauges(metrics)) == 1
    health.observe_stalls(["a"], paused=False)
    seen = gauges(metrics)
    assert (capgo_up(seen), collector_up(seen, "a"), collector_up(seen, "b")) == (0, 0, 1)
    assert health.status("a").stalled
    assert not health.status("a").complete  # the landing page says "no"
    # The run ends well: up again, all of it.
    outcome = RunOutcome("a", 90.0, NOW + 90)
    health.settle(outcome, health.finished(outcome), dropped=False)
    health.observe_stalls([], paused=False)
    seen = gauges(metrics)
    assert (capgo_up(seen), collector_up(seen, "a")) == (1, 1)


def test_a_retry_after_pause_takes_capgo_up_down_while_it_holds() -> None:
    health, metrics = book()
    health.observe_stalls([], paused=True)
    seen = gauges(metrics)
    assert (capgo_up(seen), collector_up(seen, "a"), collector_up(seen, "b")) == (0, 1, 1)
    health.observe_stalls([], paused=False)
    assert capgo_up(gauges(metrics)) == 1


class RateLimitedAfterSwitch(httpx.AsyncBaseTransport):
    """The simulator, until `storm` is set: then every answer is a 429 with Retry-After 59."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.storm = False
        self.limited = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.storm:
            return await self.inner.handle_async_request(request)
        self.limited += 1
        body = {"error": "too_many_requests", "message": "Too many requests"}
        return httpx.Response(429, json=body, headers={"retry-after": "59"})


@pytest.mark.serial
async def test_a_59_second_retry_after_with_a_long_max_age(tmp_path: Path) -> None:
    """The storm a hostile-world trial measured: runs wait out a 59 s pause, the data (max age
    10 minutes) are still served, and every sample said 1 before. Now capgo_up says 0 from the
    pause's first second, and each collector whose run has outlasted its interval (1 s here)
    says 0 too."""
    sim = Simulator(SimConfig(orgs=1, apps_per_org=1, devices_per_app=50), clock=running_clock())
    transport = RateLimitedAfterSwitch(sim.transport())
    settings = load_settings(
        {
            "api_url": "http://127.0.0.1:9",  # loopback: 1 s intervals are allowed
            "api_key": "demo",
            "requests_per_minute": 100_000,
            "max_age": 600,
            "state_dir": str(tmp_path),
            **{f"{name}_interval": 1.0 for name in COLLECTORS},
        },
        environ={},
        home=None,
    )
    stop = asyncio.Event()
    async with exporter(settings, transport) as built:
        polling = asyncio.create_task(built.scheduler.run(stop))
        try:
            deadline = time.monotonic() + 20
            while capgo_up(gauges(built.self_metrics)) != 1:
                assert time.monotonic() < deadline, "never healthy before the storm"
                await asyncio.sleep(0.05)
            transport.storm = True
            while transport.limited == 0:
                assert time.monotonic() < deadline + 10, "no request met the storm"
                await asyncio.sleep(0.05)
            # The stall check runs every second; each run now waits out 59 s.
            await asyncio.sleep(2.5)
            samples = []
            for _ in range(20):
                samples.append(gauges(built.self_metrics))
                await asyncio.sleep(0.05)
            served = built.holder.current.series
        finally:
            stop.set()
            await polling
    assert served > 0  # the data are still served: within their 10-minute max age
    assert all(capgo_up(sample) == 0 for sample in samples)
    stalled = [c for c in COLLECTORS if all(collector_up(s, c) == 0 for s in samples)]
    assert stalled, "no collector said its run had outlasted its interval"
