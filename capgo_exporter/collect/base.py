"""What every collector shares: its inputs (client, settings, what inventory discovered, the
clock) and its output (samples, plus the discovery itself for the inventory collector)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Protocol

import structlog

from capgo_exporter.api import CapgoClient
from capgo_exporter.api.models import App, Channel, Organization
from capgo_exporter.collect.gate import PermissionGate
from capgo_exporter.collect.samples import Samples
from capgo_exporter.collectors import CollectorName
from capgo_exporter.settings import Settings


async def count(items: AsyncIterator[object], noun: str) -> str:
    """A probe's outcome: how many items an endpoint listed ("12 channels")."""
    total = 0
    async for _ in items:
        total += 1
    return f"{total} {noun}"


@dataclass(frozen=True)
class Probe:
    """One request ``check`` sends to see whether the key may use an endpoint."""

    endpoint: str
    collector: CollectorName
    # Returns a short outcome ("12 channels"); raises CapgoError when refused or failing.
    run: Callable[[], Awaitable[str]]


def app_probe(
    app: App | None,
    endpoint: str,
    collector: CollectorName,
    read: Callable[[str], Awaitable[str]],
) -> list[Probe]:
    """The probe of an endpoint read per app (``read(app_id)``): none when the key sees none."""
    if app is None:
        return []
    app_id = app.app_id
    return [Probe(endpoint, collector, lambda: read(app_id))]


def utc_now() -> datetime:
    return datetime.now(UTC)


def utc_today() -> date:
    """Today in UTC, Capgo's calendar: the default clock of what works in whole days."""
    return utc_now().date()


@dataclass(frozen=True)
class Discovery:
    """The organizations, apps and channels the key can see (after allow/deny lists)."""

    orgs: tuple[Organization, ...] = ()
    apps: tuple[App, ...] = ()
    channels: Mapping[str, tuple[Channel, ...]] = field(default_factory=dict)


class DeviceLookup(Protocol):
    """What other collectors may ask of the device index the devices collector keeps."""

    def walked(self, app_id: str) -> bool:
        """Whether a walk of the app's devices has completed (the index knows its fleet)."""
        ...

    def production_devices(self, app_id: str, device_ids: Collection[str]) -> set[str]:
        """The ids among ``device_ids`` the index knows as is_prod and not is_emulator."""
        ...


# Given the samples a collector serves now (empty when none), the samples to serve instead.
SamplesUpdate = Callable[[Samples], Samples]


@dataclass(frozen=True)
class CollectContext:
    client: CapgoClient
    settings: Settings
    # None until the inventory collector has succeeded once.
    discovery: Discovery | None
    now: Callable[[], datetime] = utc_now
    log: structlog.stdlib.BoundLogger = field(
        default_factory=lambda: structlog.get_logger("capgo_exporter.collect")
    )
    # Serves part of a run's outcome before the run ends (an app whose device walk is
    # complete), without saying anything of the run's success. None: only at the end.
    publish_early: Callable[[SamplesUpdate], Awaitable[None]] | None = None
    # The device index, once the devices collector has run (None before, or when disabled).
    devices: DeviceLookup | None = None


@dataclass(frozen=True)
class CollectResult:
    samples: Samples
    discovery: Discovery | None = None
    # Parts the run left out because Capgo would not give them (one app's device events:
    # "events:com.acme.shop"), each already logged by the collector. The run succeeded: its
    # samples are served and capgo_up is unaffected, but the collector's
    # capgo_exporter_collector_up says 0, since figures it should publish are missing.
    skipped: tuple[str, ...] = ()
    # The device index, from the devices collector: passed on to every later run's context.
    devices: DeviceLookup | None = None


class DiscoveryMissing(Exception):
    """A collector needs the inventory's discovery and it has not succeeded yet."""


class WalkObserver(Protocol):
    """Who wants to see a long walk advance (self-metrics, a terminal): today the device
    walks of the devices collector, page by page."""

    def device_walk_progress(
        self, app_id: str, *, pages: int, devices: int, walking: bool
    ) -> None: ...

    def device_page_size(self, size: int) -> None: ...

    def device_walk_forgotten(self, app_id: str) -> None:
        """The app is gone: its progress must not linger."""


class Collector(Protocol):
    name: CollectorName

    async def collect(self, context: CollectContext) -> CollectResult: ...

    def observe_walks(self, observer: WalkObserver) -> None:
        """Report the progress of long walks to ``observer`` from now on; a collector that
        walks nothing long ignores it."""
        ...

    def close(self) -> None:
        """Flush and release what the collector holds (the device index)."""
        ...


class BaseCollector:
    """The ordinary collector: it holds a permission gate, reports no walks and has nothing
    to close. Its settings come with each run's context."""

    name: CollectorName

    def __init__(self, *, gate: PermissionGate | None = None) -> None:
        self._gate = gate or PermissionGate()

    def observe_walks(self, observer: WalkObserver) -> None:
        return None

    def close(self) -> None:
        return None

    @staticmethod
    def discovery_of(context: CollectContext) -> Discovery:
        if context.discovery is None:
            raise DiscoveryMissing("waiting for a successful inventory run")
        return context.discovery
