"""The daemon against the simulator with a fault switched on, watched the way Prometheus sees it.

`daemon_under_fault` runs the real daemon in process — collectors, scheduler, request budget,
device index and HTTP server, built by ``capgo_exporter.daemon.exporter`` — against the
in-process simulator (requests reach it in the order the daemon sends them, so its arrival
log says exactly which were sent inside a pause). Collectors poll every `INTERVAL` seconds
(short intervals are allowed for a Capgo on loopback). `Watch` scrapes ``/metrics`` over HTTP
every `SCRAPE_EVERY` seconds and checks each scrape as it comes.

The invariants:
(a) no request arrives inside a pause an earlier answer announced (`Simulator.arrivals`);
(b) no series dropped while its health says 1: in every scrape, a collector whose
    ``capgo_exporter_collector_up`` is 1 serves every metric it served before the fault;
(c) recovery within one interval of the fault ending: every collector up, ``capgo_up`` 1,
    every metric back and the device metrics equal to the simulator's truth;
(d) nothing lost in the device index: devices added and changed during the fault are all
    counted after recovery (part of (c)'s truth check).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from capgo_exporter.catalogue import specs_of
from capgo_exporter.collect.devices.collector import (
    APP_DEVICES,
    APP_DEVICES_BY_NATIVE,
    APP_DEVICES_BY_PLUGIN,
    APP_DEVICES_CHANNEL_OVERRIDE,
    APP_DEVICES_ON_BUILTIN,
    DEVICES_TRACKED,
)
from capgo_exporter.collectors import COLLECTORS
from capgo_exporter.daemon import exporter
from capgo_exporter.metrics import MetricSpec
from capgo_exporter.server import ExporterApp, ExporterServer
from capgo_exporter.settings import Settings, load_settings
from capgo_exporter.sim import SimConfig, Simulator
from capgo_exporter.status import CollectorStatus
from tests.clock import running_clock
from tests.collect.test_devices_collector import expected

INTERVAL = 1.0  # every collector's poll interval, seconds
# Recovery must come with the first poll after the fault: it starts within an interval (±10 %
# jitter, scheduler.JITTER) of the last failed one, and then runs (well under a second on this
# account when the machine is idle; the rest of the 2 s is for a busy CI machine).
RECOVERY_DEADLINE = INTERVAL * 1.1 + 2.0
SCRAPE_EVERY = 0.1
APPS, DEVICES, PAGE = 2, 600, 200
# Device figures that do not depend on when they are read: "seen in the last day" moves while
# the suite runs (the exporter and the simulator share one clock running at real speed).
DATE_FREE_DEVICE_METRICS = (
    APP_DEVICES,
    APP_DEVICES_BY_NATIVE,
    APP_DEVICES_BY_PLUGIN,
    APP_DEVICES_ON_BUILTIN,
    APP_DEVICES_CHANNEL_OVERRIDE,
    DEVICES_TRACKED,
)

Series = dict[str, dict[tuple[tuple[str, str], ...], float]]


def parse(text: str) -> Series:
    """Exposition → {sample name: {sorted labels: value}}."""
    out: Series = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            out.setdefault(sample.name, {})[labels] = sample.value
    return out


def collector_up(series: Series, collector: str) -> float | None:
    return series.get("capgo_exporter_collector_up", {}).get((("collector", collector),))


def capgo_up(series: Series) -> float | None:
    return series.get("capgo_up", {}).get(())


def served_names(series: Series, collector: str) -> set[str]:
    """The metrics of this collector present in a scrape."""
    names = {spec.name for spec in specs_of(collector)}  # type: ignore[arg-type]
    return {name for name in series if name in names}


def device_metrics(series: Series) -> dict[str, dict[tuple[str, ...], float]]:
    """The date-free device metrics, keyed like `expected`: label values in the spec's order."""
    out: dict[str, dict[tuple[str, ...], float]] = {}
    for spec in DATE_FREE_DEVICE_METRICS:
        out[spec.name] = {
            tuple(dict(labels)[name] for name in spec.labels): value
            for labels, value in series.get(spec.name, {}).items()
        }
    return out


def device_truth(sim: Simulator, settings: Settings) -> dict[str, dict[tuple[str, ...], float]]:
    truth: dict[MetricSpec, Any] = expected(
        sim.truth(max_bundles_per_app=settings.max_bundles_per_app)
    )
    return {
        spec.name: {k: float(v) for k, v in truth[spec].items()}
        for spec in DATE_FREE_DEVICE_METRICS
    }


@dataclass
class Watch:
    """What the scrapes saw: invariant (b) violations and how health moved."""

    baseline: dict[str, set[str]]
    scrapes: int = 0
    violations: list[str] = field(default_factory=list)
    down_seen: set[str] = field(default_factory=set)  # collectors seen with up 0
    capgo_down_scrapes: int = 0

    def check(self, series: Series) -> None:
        self.scrapes += 1
        if capgo_up(series) == 0:
            self.capgo_down_scrapes += 1
        for collector, names in self.baseline.items():
            if collector_up(series, collector) != 1:
                self.down_seen.add(collector)
                continue
            missing = names - served_names(series, collector)
            if missing:
                self.violations.append(
                    f"scrape {self.scrapes}: {collector} up 1 without {sorted(missing)}"
                )


class Tamper(httpx.AsyncBaseTransport):
    """Between the daemon and the simulator: faults the simulator has no knob for.

    ``oversized``: every answer a 200 whose JSON body is ``oversized`` bytes long (streamed,
    never held whole), sent without reaching the simulator. ``device_arrays``: GET /device is
    answered a bare JSON array of the page's devices instead of the cursor page.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.oversized = 0
        self.device_arrays = False
        self.tampered = 0  # answers changed or made up

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.oversized:
            self.tampered += 1
            return httpx.Response(200, stream=_Padding(self.oversized))
        response = await self.inner.handle_async_request(request)
        if not (self.device_arrays and request.url.path == "/device"):
            return response
        body = json.loads(await response.aread())
        if not isinstance(body, dict) or "data" not in body:
            return httpx.Response(response.status_code, json=body)
        self.tampered += 1
        return httpx.Response(200, json=body["data"])


class _Padding(httpx.AsyncByteStream):
    """``size`` bytes of one JSON array of strings, 64 KiB at a time."""

    def __init__(self, size: int) -> None:
        self._size = size

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"["
        for n in range(self._size // 65536):
            yield b'"' + str(n).encode() + b"x" * 65520 + b'",'
        yield b'""]'


@dataclass
class Daemon:
    sim: Simulator
    settings: Settings
    url: str
    scraper: httpx.AsyncClient
    statuses: Callable[[], list[CollectorStatus]]
    wall_clock: Callable[[], float]  # the exporter's: the simulator's clock, as Unix time
    # Seconds until the client's circuit lets a probe out (0 while closed): when a fault
    # opened it, Capgo's return is noticed no earlier than that.
    next_probe_in: Callable[[], float]
    tamper: Tamper
    baseline: dict[str, set[str]] = field(default_factory=dict)

    async def scrape(self) -> Series:
        response = await self.scraper.get(self.url)
        response.raise_for_status()
        return parse(response.text)

    def unhealthy(self, series: Series) -> str | None:
        """Why a scrape is not healthy: every collector up with every metric it served before,
        the device metrics equal to the simulator's truth. None when it is."""
        for collector in self.settings.collectors:
            if collector_up(series, collector) != 1:
                return f"{collector} is not up"
            missing = self.baseline.get(collector, set()) - served_names(series, collector)
            if missing:
                return f"{collector} does not serve {sorted(missing)}"
        if capgo_up(series) != 1:
            return "capgo_up is not 1"
        truth = device_truth(self.sim, self.settings)
        got = device_metrics(series)
        wrong = [name for name in truth if got[name] != truth[name]]
        return f"device metrics differ from the truth: {wrong}" if wrong else None

    async def until_healthy(self, timeout: float, into: Watch | None = None) -> float:
        """Seconds until a scrape is `healthy` (each checked by ``into`` on the way);
        AssertionError after ``timeout``."""
        started = time.monotonic()
        why = "never scraped"
        while time.monotonic() - started < timeout:
            series = await self.scrape()
            if into is not None:
                into.check(series)
            if (why := self.unhealthy(series)) is None:  # type: ignore[assignment]
                return time.monotonic() - started
            await asyncio.sleep(SCRAPE_EVERY)
        now = self.wall_clock()
        runs = "; ".join(
            f"{s.name} up={s.up} runs={s.runs} error={s.last_error!r} "
            f"next in {(s.next_run or now) - now:.1f}s"
            for s in self.statuses()
        )
        raise AssertionError(f"not healthy within {timeout:g}s: {why} ({runs})")

    async def watch(self, seconds: float, into: Watch) -> None:
        """Scrape for ``seconds``, checking invariant (b) on every scrape."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            into.check(await self.scrape())
            await asyncio.sleep(SCRAPE_EVERY)

    def change_devices(self) -> None:
        """Devices that appear and check in during the fault: the index must not lose them."""
        for app_id in self.sim.app_ids():
            self.sim.add_devices(app_id, 7)
            self.sim.touch_devices(app_id, 40)


def fault_settings(state_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "api_url": "http://127.0.0.1:9",  # loopback: intervals under 10 s are allowed
        "api_key": "demo",
        "requests_per_minute": 100_000,
        "device_page_size": PAGE,
        "state_dir": str(state_dir),
        **{f"{name}_interval": INTERVAL for name in COLLECTORS},
    }
    return load_settings(values | overrides, environ={}, home=None)


@contextlib.asynccontextmanager
async def daemon_under_fault(state_dir: Path, **overrides: Any) -> AsyncIterator[Daemon]:
    """The daemon running and healthy against a fresh simulator; the baseline recorded."""
    clock = running_clock()  # rate limits and latencies need time to pass
    sim = Simulator(
        SimConfig(seed=13, orgs=1, apps_per_org=APPS, devices_per_app=DEVICES), clock=clock
    )
    sim.arrivals.start()
    settings = fault_settings(state_dir, **overrides)
    stop = asyncio.Event()

    def wall_clock() -> float:  # the exporter's clock is the simulator's, as Unix time
        return clock().timestamp()

    tamper = Tamper(sim.transport())
    async with exporter(settings, tamper, wall_clock=wall_clock) as built:
        app = ExporterApp(built.holder, built.self_metrics, built.scheduler)
        server = ExporterServer(app, "127.0.0.1", 0)
        server.start()
        polling = asyncio.create_task(built.scheduler.run(stop))
        try:
            async with httpx.AsyncClient(timeout=10) as scraper:
                daemon = Daemon(
                    sim,
                    settings,
                    f"{server.url}metrics",
                    scraper,
                    built.scheduler.collector_statuses,
                    wall_clock,
                    built.client.http.circuit.next_probe_in,
                    tamper,
                )
                await daemon.until_healthy(30)
                series = await daemon.scrape()
                daemon.baseline = {c: served_names(series, c) for c in settings.collectors}
                yield daemon
        finally:
            stop.set()
            await polling
            await asyncio.to_thread(server.shutdown)
