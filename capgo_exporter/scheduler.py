"""The poll loop: one interval per collector, one shared request budget, one snapshot swap.

Each enabled collector runs in its own task, first at start-up and then every interval
(±10 % jitter, so collectors and exporters do not poll in step). The discovering collector
(inventory, per the registry) runs first: those that need its discovery wait for its first run,
and those that read the device index (rollouts) wait for the first run of the one keeping it.

Failure semantics, per collector:
- a failed run keeps the collector's last good samples, served until they are older than its
  ``max_age``; ``capgo_exporter_collector_up`` goes to 0 and so does ``capgo_up``;
- health and data tell the same story: when a collector's samples pass ``max_age`` and are
  dropped (a run that fails, or one still in progress because Capgo is slow), its
  ``capgo_exporter_collector_up`` and ``capgo_up`` go to 0 in the same snapshot swap, and stay 0
  until a run succeeds. Series never vanish while every health gauge says 1. The data's age is
  ``time() - capgo_exporter_collector_last_success_timestamp_seconds``;
- a rejected key (401 ``invalid_apikey``) backs the collector off for at least 10 minutes,
  because 20 failed authentications lock the exporter's IP out of Capgo;
- permission refusals of one part (an org's statistics, the key list) are handled inside the
  collectors and do not fail the run;
- data that are not being refreshed say so while it lasts: a run in progress for longer than
  its collector's interval takes that collector's ``capgo_exporter_collector_up`` and
  ``capgo_up`` to 0, and a ``Retry-After`` pause that holds every request takes ``capgo_up``
  to 0 (checked every `STALL_CHECK_SECONDS`); the last good samples are still served until
  their max age;
- a run that failed while Capgo failed as a whole (the client's circuit open: nothing sent but
  a probe now and then) runs again as soon as Capgo answers a probe, not an interval later, so
  every collector recovers within one probe wait (at most the shortest interval) of Capgo's
  return;
- a run that succeeds but reports parts it had to leave out (``CollectResult.skipped``: the
  events collector's apps whose events Capgo would not give) is a success for ``capgo_up``,
  which stays 1, and its samples are served; the collector's ``capgo_exporter_collector_up``
  says 0 until a run leaves nothing out, so series missing from a run never go with every
  health gauge at 1.

After every run the snapshot is rebuilt from the parts and swapped in whole, so a scrape sees
either the old or the new exposition, never a mix. Series of apps, channels or bundles that
are gone disappear with the run that no longer returns them. A collector may also publish part
of a run early (the devices collector: an app whose full walk is complete): its samples change,
its health and age do not, and renders asked for while one is in progress are done once.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from types import MappingProxyType

import structlog

from capgo_exporter import health
from capgo_exporter.api import CapgoClient, CapgoError
from capgo_exporter.collect.base import (
    CollectContext,
    Collector,
    DeviceLookup,
    Discovery,
    DiscoveryMissing,
    SamplesUpdate,
)
from capgo_exporter.collectors import spec_of
from capgo_exporter.health import HealthBook, RunOutcome
from capgo_exporter.selfmetrics import SelfMetrics
from capgo_exporter.settings import Settings
from capgo_exporter.snapshot import Part, Snapshot, SnapshotHolder
from capgo_exporter.status import CollectorStatus

HEARTBEAT_SECONDS = 5.0
# The poll loop is dead if it has not beaten for this long (the event loop is stuck).
HEARTBEAT_DEADLINE_SECONDS = 60.0
REAP_SECONDS = 15.0
# How often runs in progress and Retry-After pauses are looked at for the health gauges.
STALL_CHECK_SECONDS = 1.0
JITTER = 0.1


def _same_parts(parts: dict[str, Part], rendered: dict[str, Part]) -> bool:
    return parts.keys() == rendered.keys() and all(parts[k] is rendered[k] for k in parts)


async def _first_of(events: Sequence[asyncio.Event], timeout: float) -> None:
    """Until one of ``events`` is set, or ``timeout`` seconds have passed."""
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


class Scheduler:
    def __init__(
        self,
        client: CapgoClient,
        settings: Settings,
        collectors: Sequence[Collector],
        holder: SnapshotHolder,
        self_metrics: SelfMetrics,
        *,
        wall_clock: Callable[[], float] | None = None,
        calendar: Callable[[], datetime] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        """``wall_clock`` (Unix time) times the runs and stamps the exporter's own series:
        ``time.time`` unless given, looked up here, so that a test that pins the system clock
        pins it here too. ``calendar`` is what the collectors take as now for Capgo's data
        (billing cycles, device windows): the wall clock's unless given (``--clock.start``
        shifts it alone, so the exporter's own timestamps stay comparable with Prometheus's
        clock)."""
        self._client = client
        self._settings = settings
        self._collectors = list(collectors)
        self._holder = holder
        self._metrics = self_metrics
        self._wall_clock = wall_clock if wall_clock is not None else time.time
        self._calendar = calendar or (lambda: datetime.fromtimestamp(self._wall_clock(), UTC))
        self._rng = rng or random.Random()
        self._log = structlog.get_logger("capgo_exporter.scheduler")
        self._parts: dict[str, Part] = {}
        self._rendered: dict[str, Part] | None = None  # the parts of the current snapshot
        self._health = HealthBook(
            ((c.name, settings.interval_for(c.name)) for c in collectors),
            self_metrics,
            self._wall_clock,
        )
        self._discovery: Discovery | None = None
        self._devices: DeviceLookup | None = None
        # Set after the discovering collector's first run (or at once when it is disabled).
        self._discovery_ran = asyncio.Event()
        self._render_lock = asyncio.Lock()
        self._heartbeat: float | None = None
        self._running: dict[str, float] = {}  # collector → when its run started (monotonic)
        # Set, and replaced by a new one, when Capgo answers a probe after an outage: the loops
        # whose last run failed wait on the one they saw and run again at once.
        self._capgo_back = asyncio.Event()
        client.http.when_answering_again(self._answering_again)
        if not any(spec_of(c.name).discovers for c in collectors):
            self._discovery_ran.set()
        # Set after the first run of the collector keeping the device index (or at once).
        self._devices_ran = asyncio.Event()
        if not any(spec_of(c.name).keeps_device_index for c in collectors):
            self._devices_ran.set()

    # --- ExporterStatus -----------------------------------------------------------------------
    def collector_statuses(self) -> list[CollectorStatus]:
        return self._health.statuses()

    def healthy(self) -> bool:
        beat = self._heartbeat
        return beat is not None and time.monotonic() - beat < HEARTBEAT_DEADLINE_SECONDS

    def ready(self) -> bool:
        return all(status.finished_first_run for status in self._health.statuses())

    # --- running ------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set; in-flight runs are cancelled then."""
        tasks = [asyncio.create_task(self._loop(c, stop), name=c.name) for c in self._collectors]
        tasks.append(asyncio.create_task(self._beat(stop), name="heartbeat"))
        tasks.append(asyncio.create_task(self._reap(stop), name="max-age"))
        tasks.append(asyncio.create_task(self._watch_stalls(stop), name="stalls"))
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def run_once(self) -> bool:
        """Run every collector once, the discovering one first; True when all succeeded."""
        ordered = sorted(self._collectors, key=lambda c: not spec_of(c.name).discovers)
        results = [await self.run_collector(collector) for collector in ordered]
        return all(results)

    async def _loop(self, collector: Collector, stop: asyncio.Event) -> None:
        if spec_of(collector.name).needs_inventory:
            await self._discovery_ran.wait()
        if spec_of(collector.name).reads_device_index:
            await self._devices_ran.wait()
        while not stop.is_set():
            capgo_back = self._capgo_back  # the one Capgo's return during this run sets
            succeeded = await self.run_collector(collector)
            delay = self._next_delay(collector, succeeded)
            self._health.scheduled(collector.name, self._wall_clock() + delay)
            wake = [stop] if succeeded else [stop, capgo_back]
            await _first_of(wake, timeout=delay)

    def _answering_again(self) -> None:
        self._capgo_back.set()
        self._capgo_back = asyncio.Event()

    def _next_delay(self, collector: Collector, succeeded: bool) -> float:
        interval = self._settings.interval_for(collector.name)
        delay = interval * (1 + self._rng.uniform(-JITTER, JITTER))
        if not succeeded and self._health.key_rejected(collector.name):
            delay = max(delay, health.AUTH_BACKOFF_SECONDS)
        return delay

    async def run_collector(self, collector: Collector) -> bool:
        """One run of one collector: collect, record the outcome, swap in a new snapshot."""
        name = collector.name
        context = CollectContext(
            client=self._client,
            settings=self._settings,
            discovery=self._discovery,
            now=self._calendar,
            log=self._log.bind(collector=name),
            publish_early=partial(self._publish_early, name),
            devices=self._devices,
        )
        started = time.perf_counter()
        self._running[name] = time.monotonic()
        try:
            result = await collector.collect(context)
        except (CapgoError, DiscoveryMissing, OSError, ValueError) as error:
            # ValueError covers pydantic's ValidationError: a shape we cannot read.
            outcome = RunOutcome(name, time.perf_counter() - started, self._wall_clock(), error)
        else:
            outcome = RunOutcome(
                name, time.perf_counter() - started, self._wall_clock(), skipped=result.skipped
            )
            self._parts[name] = Part(result.samples, outcome.finished_at)
            if result.discovery is not None:
                self._discovery = result.discovery
            if result.devices is not None:
                self._devices = result.devices
        status = self._health.finished(outcome)
        # Published first: /readyz (from the statuses) must not say ready before /metrics
        # serves what made it so.
        had_data = name in self._parts
        await self._publish()
        self._health.settle(outcome, status, dropped=had_data and name not in self._parts)
        del self._running[name]  # with settle, no await between: the run is over for both
        if spec_of(name).discovers:
            self._discovery_ran.set()
        if spec_of(name).keeps_device_index:
            self._devices_ran.set()
        return outcome.succeeded

    async def _publish_early(self, name: str, update: SamplesUpdate) -> None:
        """Serve part of a run before it ends. The part keeps its collection time (what it
        still holds from earlier runs is that old; a first part is new)."""
        part = self._parts.get(name)
        samples = update(part.samples if part is not None else MappingProxyType({}))
        collected_at = part.collected_at if part is not None else self._wall_clock()
        self._parts[name] = Part(samples, collected_at)
        await self._publish()

    async def _publish(self) -> None:
        """Render the parts still within their max age and swap the snapshot in."""
        async with self._render_lock:
            expired = self._expired()
            for name in expired:
                del self._parts[name]
            # Down with its data: a scrape must not see series gone and health still 1.
            self._health.expire(expired, self._settings.max_age_for)
            parts = dict(self._parts)
            if self._rendered is not None and _same_parts(parts, self._rendered):
                return  # rendered while this call waited for the lock (early publishes)
            # Rendering 20,000 series takes a while: keep it off the event loop.
            self._holder.current = await asyncio.to_thread(Snapshot.render, parts)
            self._rendered = parts

    async def _beat(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._heartbeat = time.monotonic()
            await asyncio.sleep(HEARTBEAT_SECONDS)

    def check_stalls(self) -> None:
        """Tell the health book which runs are overdue and whether a pause holds requests."""
        now = time.monotonic()
        overdue = [
            name
            for name, started in self._running.items()
            if now - started > self._settings.interval_for(name)
        ]
        self._health.observe_stalls(overdue, paused=self._client.http.budget.paused_for > 0)

    async def _watch_stalls(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.check_stalls()
            await asyncio.sleep(STALL_CHECK_SECONDS)

    async def _reap(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(REAP_SECONDS)
            if self._expired():
                await self._publish()

    def _expired(self) -> list[str]:
        """Collectors whose last good data are older than their max age."""
        now = self._wall_clock()
        return [
            name
            for name, part in self._parts.items()
            if now - part.collected_at > self._settings.max_age_for(name)
        ]
