"""Wiring: settings → client → collectors → scheduler → snapshot ← server; and demo mode.

``--demo`` runs the simulated Capgo in-process and points the daemon at it, so a new user sees
real metrics with no key. The simulator has no rate limit of its own, so demo mode lifts the
request budget (unless set explicitly) and sets example plan limits, which makes every metric
of the catalogue appear within seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import structlog
from pydantic import SecretStr

from capgo_exporter.api import CapgoClient, ClientOptions
from capgo_exporter.clock import SYSTEM_CLOCK, Clock
from capgo_exporter.collect.base import Collector
from capgo_exporter.collect.registry import build_collectors
from capgo_exporter.scheduler import JITTER, Scheduler
from capgo_exporter.selfmetrics import SelfMetrics
from capgo_exporter.server import ExporterApp, ExporterServer
from capgo_exporter.settings import Settings
from capgo_exporter.snapshot import SnapshotHolder
from capgo_exporter.state_dir import StateDirLock
from capgo_exporter.webconfig import WebConfig

if TYPE_CHECKING:  # the simulator loads only for --demo
    from capgo_exporter.sim import SimConfig, Simulator

DEMO_KEY = "demo"
DEMO_URL = "http://capgo-simulator.invalid"
# Demo dataset: big enough to look real, small enough to be served within seconds.
DEMO_ORGS, DEMO_APPS_PER_ORG, DEMO_DEVICES_PER_APP = 2, 3, 5000
DEMO_DEFAULTS: dict[str, Any] = {
    "requests_per_minute": 6000,
    "plan_mau_limit": 20_000,
    "plan_storage_limit_bytes": 5 * 1024**3,
    "plan_bandwidth_limit_bytes": 50 * 1024**3,
}
# How often demo mode makes some simulated devices check in, so incremental sync shows.
DEMO_ACTIVITY_SECONDS = 30.0
DEMO_DEVICES_TOUCHED = 25

log = structlog.get_logger("capgo_exporter")


@dataclass
class Demo:
    """The in-process simulator behind ``--demo``."""

    transport: httpx.AsyncBaseTransport
    settings: Settings
    simulator: Simulator

    async def keep_devices_active(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=DEMO_ACTIVITY_SECONDS)
            for app_id in self.simulator.app_ids():
                self.simulator.touch_devices(app_id, DEMO_DEVICES_TOUCHED)


def demo_config() -> SimConfig:
    """The account --demo simulates."""
    from capgo_exporter.sim import SimConfig

    return SimConfig(
        keys={DEMO_KEY: "org_super_admin"},
        orgs=DEMO_ORGS,
        apps_per_org=DEMO_APPS_PER_ORG,
        devices_per_app=DEMO_DEVICES_PER_APP,
        bad_release_apps=frozenset({0}),  # so the release-health row has a story
        newer_capgo=True,  # Capgo as it is now: its own active-device counts too
        # So the rollouts row has one: Capgo pauses the first app's rollout during the demo,
        # the second's is close to its threshold, the third's fails with auto-pause off.
        rollout_scenarios={0: "paused", 1: "near", 2: "unguarded"},
    )


def start_demo(settings: Settings, clock: Clock = SYSTEM_CLOCK) -> Demo:
    """A simulator on ``clock`` and the settings that point at it. Demo defaults apply only
    where the user kept the exporter's own default: a value they set stays."""
    from capgo_exporter.sim import Simulator

    simulator = Simulator(demo_config(), clock=clock.now)
    update: dict[str, Any] = {
        field: value
        for field, value in DEMO_DEFAULTS.items()
        if getattr(settings, field) == Settings.model_fields[field].default
    }
    # The demo settings carry the simulator's key, so nothing downstream special-cases demo mode.
    update |= {"api_url": DEMO_URL, "api_key": SecretStr(DEMO_KEY), "api_key_source": "--demo"}
    demo_settings = settings.model_copy(update=update)
    return Demo(simulator.transport(), demo_settings, simulator)


def client_options(settings: Settings) -> ClientOptions:
    """How the client talks to Capgo, from the settings: the one place they are mapped."""
    shortest_interval = min(settings.interval_for(name) for name in settings.collectors)
    return ClientOptions(
        api_key=settings.api_key or SecretStr(""),  # refused: a key is required
        base_url=settings.api_url,
        requests_per_minute=settings.requests_per_minute,
        concurrency=settings.concurrency,
        request_timeout=settings.request_timeout,
        connect_timeout=settings.connect_timeout,
        max_retries=settings.max_retries,
        # While Capgo keeps failing, a route's back-off grows up to the shortest interval;
        # while it fails as a whole, it is probed once per shortest interval: a little under,
        # so that each run of that collector, however jittered, may send the probe.
        backoff_max=shortest_interval,
        probe_interval=shortest_interval * (1 - JITTER),
        max_response_bytes=settings.max_response_size,
    )


def make_client(
    settings: Settings,
    observer: SelfMetrics | None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> CapgoClient:
    return CapgoClient.create(client_options(settings), observer=observer, transport=transport)


@dataclass
class Exporter:
    """Everything the daemon runs, built but not started."""

    settings: Settings
    client: CapgoClient
    collectors: list[Collector]
    scheduler: Scheduler
    holder: SnapshotHolder
    self_metrics: SelfMetrics

    async def aclose(self) -> None:
        for collector in self.collectors:
            collector.close()
        await self.client.aclose()


@contextlib.asynccontextmanager
async def exporter(
    settings: Settings,
    transport: httpx.AsyncBaseTransport | None = None,
    *,
    process_metrics: bool = True,
    demo: bool = False,
    wall_clock: Callable[[], float] | None = None,
    calendar: Clock | None = None,
) -> AsyncIterator[Exporter]:
    """``process_metrics=False`` for output that joins another exporter's (node_exporter's
    textfile directory), which already has its own ``process_*`` series. ``wall_clock`` (Unix
    time; the system clock unless given) is the scheduler's and, unless ``calendar`` is given,
    the collectors' too: a test runs it on the simulator's clock; ``--clock.start`` shifts the
    calendar alone. The state directory, when set, is locked first: StateDirInUseError when
    another exporter has it."""
    lock = StateDirLock(settings.state_dir) if settings.state_dir is not None else None
    if lock is not None:
        lock.acquire()
    try:
        parts = (settings, transport, process_metrics, demo, wall_clock, calendar)
        async with _built(*parts) as built:
            yield built
    finally:
        if lock is not None:
            lock.release()


@contextlib.asynccontextmanager
async def _built(
    settings: Settings,
    transport: httpx.AsyncBaseTransport | None,
    process_metrics: bool,
    demo: bool,
    wall_clock: Callable[[], float] | None,
    calendar: Clock | None,
) -> AsyncIterator[Exporter]:
    collectors = build_collectors(settings)
    self_metrics = SelfMetrics(
        (c.name for c in collectors),
        process_metrics=process_metrics,
        demo=demo,
        max_age_for=settings.max_age_for,
        budget=settings.requests_per_minute,
    )
    for collector in collectors:
        collector.observe_walks(self_metrics)
    client = make_client(settings, self_metrics, transport)
    holder = SnapshotHolder()
    scheduler = Scheduler(
        client,
        settings,
        collectors,
        holder,
        self_metrics,
        wall_clock=wall_clock,
        calendar=calendar.now if calendar else None,
    )
    built = Exporter(settings, client, collectors, scheduler, holder, self_metrics)
    try:
        yield built
    finally:
        await built.aclose()


class ListenError(OSError):
    """The listen address cannot be bound (in use, not ours, no such interface): a failure a
    restart may fix, unlike a configuration error."""

    def __init__(self, address: str, error: OSError) -> None:
        super().__init__(error.errno, f"{address}: {error.strerror or error}")


# Each stops the daemon cleanly. SIGHUP too: a closed terminal or a `kill -HUP` meant as a
# reload (there is none: settings are read at start) must not skip the flush of the index.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


@contextlib.contextmanager
def _stop_on_signals(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> Iterator[None]:
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    try:
        yield
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)


async def serve(
    settings: Settings,
    demo: Demo | None = None,
    web_config: WebConfig | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> None:
    """Run the daemon until SIGTERM, SIGINT or SIGHUP: poll, serve, then stop cleanly.
    Raises `ListenError` when the listen address cannot be bound."""
    stop = asyncio.Event()
    transport = demo.transport if demo else None
    async with exporter(settings, transport, demo=demo is not None, calendar=clock) as built:
        app = ExporterApp(
            built.holder,
            built.self_metrics,
            built.scheduler,
            web_config=web_config,
            telemetry_path=settings.telemetry_path,
            demo=demo is not None,
        )
        try:
            server = ExporterServer(
                app,
                settings.listen_host,
                settings.listen_port,
                web_config=web_config,
                max_connections=settings.web_max_connections,
            )
        except OSError as error:
            raise ListenError(settings.listen_address, error) from None
        server.start()
        log.info(
            "capgo-exporter started",
            listen=server.bound,
            url=server.url,
            capgo=settings.api_url,
            key_source=settings.api_key_source,
            collectors=list(settings.collectors),
        )
        tasks = [asyncio.create_task(built.scheduler.run(stop))]
        if demo:
            tasks.append(asyncio.create_task(demo.keep_devices_active(stop)))
        try:
            with _stop_on_signals(asyncio.get_running_loop(), stop):
                await stop.wait()
        finally:
            log.info("stopping: finishing in-flight scrapes, flushing the device index")
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            # In-flight scrapes finish; then the device index is flushed by aclose().
            await asyncio.to_thread(server.shutdown)
    log.info("capgo-exporter stopped")
