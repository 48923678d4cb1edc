"""The poll loop: last good data, max age, readiness, health, backoff, stale series."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import pytest
import structlog.testing
from pydantic import SecretStr

from capgo_exporter.api import (
    AuthenticationError,
    CapgoClient,
    CapgoUnavailableError,
    ClientOptions,
    ServerError,
)
from capgo_exporter.collect.base import (
    CollectContext,
    CollectResult,
    Discovery,
    DiscoveryMissing,
    WalkObserver,
)
from capgo_exporter.collect.inventory import APP_INFO, ORG_INFO, InventoryCollector
from capgo_exporter.collect.samples import SampleSet
from capgo_exporter.collect.statistics import ORG_MAU
from capgo_exporter.collectors import CollectorName
from capgo_exporter.health import AUTH_BACKOFF_SECONDS
from capgo_exporter.scheduler import Scheduler
from capgo_exporter.selfmetrics import SelfMetrics
from capgo_exporter.settings import load_settings
from capgo_exporter.sim import SimConfig, Simulator
from capgo_exporter.snapshot import SnapshotHolder

Outcome = Callable[[CollectContext], CollectResult]


class Scripted:
    """A collector whose runs follow a script: a result, or an exception to raise."""

    def __init__(self, name: CollectorName, *outcomes: CollectResult | Exception) -> None:
        self.name: CollectorName = name
        self._outcomes = list(outcomes)
        self.runs = 0
        self.seen_discovery: list[Discovery | None] = []

    async def collect(self, context: CollectContext) -> CollectResult:
        self.runs += 1
        self.seen_discovery.append(context.discovery)
        outcome = self._outcomes[min(self.runs, len(self._outcomes)) - 1]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def observe_walks(self, observer: WalkObserver) -> None:
        return None

    def close(self) -> None:
        return None


def org_result(org: str, mau: float | None = None, discovery: bool = False) -> CollectResult:
    samples = SampleSet()
    samples.set(ORG_INFO, 1, org, "Acme")
    if mau is not None:
        samples.set(ORG_MAU, mau, org)
    return CollectResult(samples.freeze(), Discovery() if discovery else None)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def make(
    *collectors: Scripted | InventoryCollector, clock: Clock | None = None, **settings: object
) -> tuple[Scheduler, SnapshotHolder, SelfMetrics]:
    values = {"collectors": ",".join(c.name for c in collectors), **settings}
    config = load_settings(values, environ={}, home=None)
    holder = SnapshotHolder()
    metrics = SelfMetrics([c.name for c in collectors], process_metrics=False)
    options = ClientOptions(api_key=SecretStr("unused"), base_url="http://unused.invalid")
    client = CapgoClient.create(options)
    scheduler = Scheduler(
        client, config, list(collectors), holder, metrics,
        wall_clock=clock or Clock(), rng=random.Random(0),
    )  # fmt: skip
    return scheduler, holder, metrics


def value(metrics: SelfMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


async def test_run_once_runs_inventory_first_and_serves_everything() -> None:
    inventory = Scripted("inventory", org_result("o1", discovery=True))
    statistics = Scripted("statistics", org_result("o1", mau=42))
    scheduler, holder, metrics = make(statistics, inventory)
    assert not scheduler.ready()
    assert await scheduler.run_once()
    assert statistics.seen_discovery == [Discovery()]  # inventory had run before it
    text = holder.current.text.decode()
    assert 'capgo_org_monthly_active_users{org_id="o1"} 42.0' in text
    assert scheduler.ready()
    assert value(metrics, "capgo_up") == 1
    assert value(metrics, "capgo_exporter_collector_up", collector="statistics") == 1


def one_outage() -> tuple[Scripted, Scripted]:
    """Inventory, and statistics that serve MAU 10, then fail with a 503, then serve 12."""
    inventory = Scripted("inventory", org_result("o1", discovery=True))
    statistics = Scripted(
        "statistics",
        org_result("o1", mau=10),
        ServerError(status=503, code="unknown_error", message="down", endpoint="/stats"),
        org_result("o1", mau=12),
    )  # fmt: skip
    return inventory, statistics


async def test_failure_keeps_last_good_data_until_recovery() -> None:
    inventory, statistics = one_outage()
    clock = Clock()
    scheduler, holder, metrics = make(inventory, statistics, clock=clock)
    await scheduler.run_once()
    clock.now += 60
    assert not await scheduler.run_collector(statistics)
    assert 'org_id="o1"} 10.0' in holder.current.text.decode()
    assert value(metrics, "capgo_up") == 0
    assert value(metrics, "capgo_exporter_collector_up", collector="statistics") == 0
    status = {s.name: s for s in scheduler.collector_statuses()}["statistics"]
    assert status.last_error is not None
    assert status.last_error == "503 unknown_error: down (GET /stats)"
    assert await scheduler.run_collector(statistics)
    assert 'org_id="o1"} 12.0' in holder.current.text.decode()
    assert value(metrics, "capgo_up") == 1


async def test_data_older_than_max_age_disappears() -> None:
    inventory = Scripted("inventory", org_result("o1", discovery=True))
    statistics = Scripted(
        "statistics",
        org_result("o1", mau=10),
        ServerError(status=500, code="unknown_error", message="x", endpoint="/x"),
    )
    clock = Clock()
    scheduler, holder, _ = make(inventory, statistics, clock=clock, max_age="10m")
    await scheduler.run_once()
    clock.now += 9 * 60
    await scheduler.run_collector(inventory)  # inventory keeps succeeding
    await scheduler.run_collector(statistics)  # fails, but the data are 9 minutes old
    assert b"capgo_org_monthly_active_users" in holder.current.text
    clock.now += 2 * 60
    await scheduler.run_collector(statistics)  # fails again; now 11 minutes old
    assert b"capgo_org_monthly_active_users" not in holder.current.text
    # The exporter's own metrics and the other collectors stay.
    assert b"capgo_org_info" in holder.current.text


class Slow(Scripted):
    """A collector whose second run hangs until released: Capgo answering very slowly."""

    def __init__(self, name: CollectorName, *outcomes: CollectResult | Exception) -> None:
        super().__init__(name, *outcomes)
        self.release = asyncio.Event()

    async def collect(self, context: CollectContext) -> CollectResult:
        if self.runs >= 1:
            await self.release.wait()
        return await super().collect(context)


def mau_series(holder: SnapshotHolder) -> bool:
    return b"capgo_org_monthly_active_users" in holder.current.text


async def test_series_never_vanish_while_health_says_up() -> None:
    inventory = Scripted("inventory", org_result("o1", discovery=True))
    statistics = Slow("statistics", org_result("o1", mau=10), org_result("o1", mau=11))
    clock = Clock()
    scheduler, holder, metrics = make(inventory, statistics, clock=clock, max_age="10m")
    await scheduler.run_once()
    slow_run = asyncio.create_task(scheduler.run_collector(statistics))
    await asyncio.sleep(0)
    clock.now += 9 * 60
    await scheduler.run_collector(inventory)  # publishes; the run in progress is 9 min old
    assert mau_series(holder)
    assert value(metrics, "capgo_exporter_collector_up", collector="statistics") == 1
    clock.now += 2 * 60
    await scheduler.run_collector(inventory)  # the data pass their max age mid-run
    assert not mau_series(holder)
    # The drop and the health gauges go together.
    assert value(metrics, "capgo_exporter_collector_up", collector="statistics") == 0
    assert value(metrics, "capgo_up") == 0
    status = {s.name: s for s in scheduler.collector_statuses()}["statistics"]
    assert not status.up
    assert status.last_error == "no successful run for longer than the max age (600s)"
    # A later run of another collector does not bring health back on its own.
    await scheduler.run_collector(inventory)
    assert value(metrics, "capgo_up") == 0
    statistics.release.set()
    assert await slow_run
    assert 'org_id="o1"} 11.0' in holder.current.text.decode()
    assert value(metrics, "capgo_exporter_collector_up", collector="statistics") == 1
    assert value(metrics, "capgo_up") == 1


async def test_collectors_wait_for_the_first_inventory_run() -> None:
    inventory = Scripted(
        "inventory", ServerError(status=500, code="x", message="x", endpoint="/organization")
    )
    statistics = Scripted("statistics", org_result("o1", mau=1))
    scheduler, _, _ = make(inventory, statistics)
    await scheduler.run_once()
    # Inventory failed first; statistics still ran (and can report why), with no discovery.
    assert statistics.seen_discovery == [None]
    assert scheduler.ready()


async def test_rejected_key_backs_off_at_least_ten_minutes() -> None:
    rejected = AuthenticationError(
        status=401, code="invalid_apikey", message="Invalid apikey", endpoint="/organization"
    )
    inventory = Scripted("inventory", rejected)
    scheduler, _, _ = make(inventory, inventory_interval="30s")
    await scheduler.run_collector(inventory)
    assert scheduler._next_delay(inventory, succeeded=False) >= AUTH_BACKOFF_SECONDS
    # A plain failure retries at the normal interval (±10 % jitter).
    other = Scripted("inventory", ServerError(status=500, code="x", message="x", endpoint="/x"))
    scheduler2, _, _ = make(other, inventory_interval="30s")
    await scheduler2.run_collector(other)
    assert 27 <= scheduler2._next_delay(other, succeeded=False) <= 33


async def test_run_loop_polls_at_the_interval_and_stops_cleanly() -> None:
    inventory = Scripted("inventory", org_result("o1", discovery=True))
    # Below the 10 s floor, allowed because no real Capgo is polled (a loopback API URL).
    scheduler, _, _ = make(inventory, inventory_interval="100ms", api_url="http://127.0.0.1:9")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    started = loop.time()
    task = asyncio.create_task(scheduler.run(stop))
    # Bounds that a loaded machine cannot break: it may only make the loop slower.
    async with asyncio.timeout(10):
        while inventory.runs < 3:
            await asyncio.sleep(0.01)
    assert loop.time() - started >= 0.2, "three runs need two intervals between them"
    assert scheduler.healthy()
    stop.set()
    await asyncio.wait_for(task, 2)
    runs_when_stopped = inventory.runs
    await asyncio.sleep(0.25)
    assert inventory.runs == runs_when_stopped, "no run after stop"


async def test_series_of_a_deleted_app_disappear() -> None:
    sim = Simulator(SimConfig(seed=9, orgs=1, apps_per_org=2, devices_per_app=5))
    options = ClientOptions(api_key=SecretStr("demo"), base_url="http://sim")
    client = CapgoClient.create(options, transport=sim.transport())
    settings = load_settings({"collectors": "inventory"}, environ={}, home=None)
    holder = SnapshotHolder()
    metrics = SelfMetrics(["inventory"], process_metrics=False)
    collector = InventoryCollector()
    scheduler = Scheduler(client, settings, [collector], holder, metrics)
    await scheduler.run_once()
    gone, kept = sim.app_ids()
    assert f'app_id="{gone}"'.encode() in holder.current.text
    await client.apps.delete(gone)
    await scheduler.run_once()
    await client.aclose()
    assert f'app_id="{gone}"'.encode() not in holder.current.text
    assert f'app_id="{kept}"'.encode() in holder.current.text
    assert holder.current.parts["inventory"].samples[APP_INFO]


@pytest.mark.parametrize("fmt", ["text", "openmetrics"])
async def test_snapshot_formats_render_the_same_series(fmt: str) -> None:
    inventory = Scripted("inventory", org_result("o1", discovery=True))
    statistics = Scripted("statistics", org_result("o1", mau=3))
    scheduler, holder, _ = make(inventory, statistics)
    await scheduler.run_once()
    snapshot = holder.current
    body = snapshot.text if fmt == "text" else snapshot.openmetrics
    assert b'capgo_org_monthly_active_users{org_id="o1"} 3.0' in body
    assert not body.endswith(b"# EOF\n")  # the server appends the live part and EOF
    # Each collector publishes only its own metrics: org_info from inventory, MAU from statistics.
    assert snapshot.series == 2


async def test_a_repeated_failure_is_logged_once_then_every_five_minutes() -> None:
    waiting = DiscoveryMissing("waiting for a successful inventory run")
    down = ServerError(status=503, code="unknown_error", message="down", endpoint="/stats")
    # 20 identical failures 30 s apart, another failure, a success, the first failure again.
    outcomes: list[CollectResult | Exception] = [waiting] * 20
    outcomes += [down, org_result("o1", mau=1), waiting]
    statistics = Scripted("statistics", *outcomes)
    clock = Clock()
    scheduler, _, _ = make(statistics, clock=clock)
    with structlog.testing.capture_logs() as logs:
        for _ in outcomes:
            await scheduler.run_collector(statistics)
            clock.now += 30
    failures = [
        (line["error"], line["repeated"])
        for line in logs
        if line["event"] == "collector run failed"
    ]
    assert failures == [
        ("waiting for a successful inventory run", 0),  # t = 0
        ("waiting for a successful inventory run", 9),  # t = 300 s: a reminder
        # t = 330 to 570 s: left out
        ("503 unknown_error: down (GET /stats)", 0),  # a change: at once
        ("waiting for a successful inventory run", 0),  # after a success: at once
    ]


async def test_collectors_that_failed_during_an_outage_run_again_when_capgo_answers() -> None:
    """Capgo's return is noticed by the client's probe (its circuit closes): the collectors
    whose runs failed meanwhile run again at once, not an interval (here an hour) later; one
    whose run succeeded keeps its interval."""
    unavailable = CapgoUnavailableError("not sent: the circuit is open", endpoint="/app")
    statistics = Scripted("statistics", unavailable, org_result("o1", mau=12))
    account = Scripted("account", org_result("o1"))
    config = load_settings(
        {"collectors": "statistics,account", "statistics_interval": "1h", "account_interval": "1h"},
        environ={},
        home=None,
    )
    options = ClientOptions(api_key=SecretStr("unused"), base_url="http://unused.invalid")
    client = CapgoClient.create(options)
    metrics = SelfMetrics(["statistics", "account"], process_metrics=False)
    scheduler = Scheduler(client, config, [statistics, account], SnapshotHolder(), metrics)
    circuit = client.http.circuit
    for _ in range(circuit.failures_to_open):
        circuit.failed("503 on every route")
    assert circuit.is_open
    stop = asyncio.Event()
    task = asyncio.create_task(scheduler.run(stop))
    async with asyncio.timeout(10):
        while statistics.runs < 1 or account.runs < 1:
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)
    assert (statistics.runs, account.runs) == (1, 1)  # the next runs are an hour away
    circuit.answered()  # the probe's answer
    async with asyncio.timeout(10):
        while statistics.runs < 2:
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)
    assert account.runs == 1
    assert value(metrics, "capgo_exporter_collector_up", collector="statistics") == 1
    stop.set()
    await asyncio.wait_for(task, 2)
    await client.aclose()
