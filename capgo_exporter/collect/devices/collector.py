"""The devices collector: keeps the device index in step with Capgo, then aggregates it.

Capgo has no device count, so the first run walks every device of every app. Later runs ask
only for devices changed after the app's high-water mark (one request when nothing changed);
every ``devices_full_resync_interval`` a full walk again deletes the devices Capgo forgot.
A walk that fails leaves what it stored (each page is one transaction) but neither deletes nor
moves the mark, so the next run repeats it.

Pages are large (50,000 devices) unless Capgo's storage proves to cut them at 1,000; see
`DevicePageSize`. A walk reports its progress (pages and devices so far) to a `WalkObserver`
as it goes: the metrics themselves come only from complete walks. An app's series are
published as soon as its full walk completes (through ``context.publish_early``), the other
apps keeping their previous complete figures or none; so the first walk of a small app is not
held back by a million-device one. Incremental walks take a request or two each: their apps
are published when the run ends, in one snapshot swap instead of one per app.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import date, datetime
from functools import partial
from typing import Literal

from capgo_exporter.api import CapgoClient
from capgo_exporter.api.models import App, Channel, Organization
from capgo_exporter.collect.base import (
    BaseCollector,
    CollectContext,
    CollectResult,
    Probe,
    WalkObserver,
    app_probe,
)
from capgo_exporter.collect.devices.aggregates import AppDevices
from capgo_exporter.collect.devices.index import DeviceIndex
from capgo_exporter.collect.devices.page_size import DevicePageSize
from capgo_exporter.collect.gate import PermissionGate, guarded
from capgo_exporter.collect.samples import Samples, SampleSet, merged
from capgo_exporter.collectors import CollectorName
from capgo_exporter.metrics import MetricSet
from capgo_exporter.settings import Settings

# The metrics this collector fills (catalogue.py finds them through the registry).
METRICS = MetricSet("devices")
_DEVICES = "Devices Capgo knows (GET /device, kept in the exporter's device index)"
APP_DEVICES = METRICS.gauge(
    "capgo_app_devices",
    f"{_DEVICES}, by the bundle they run (version_name); bundles past "
    '--collector.devices.max-bundles-per-app (fewest devices first) fold into bundle="other".',
    "app_id",
    "platform",
    "bundle",
    "is_prod",
    "is_emulator",
)
APP_DEVICES_BY_NATIVE = METRICS.gauge(
    "capgo_app_devices_by_native_version",
    f"{_DEVICES}, by native build (version_build). Builds past the "
    "--collector.devices.max-native-versions-per-app most common (10) fold into "
    'native_version="other" per platform: at most that many series per app, plus one per '
    "platform.",
    "app_id",
    "platform",
    "native_version",
)
APP_DEVICES_BY_PLUGIN = METRICS.gauge(
    "capgo_app_devices_by_plugin_version",
    f"{_DEVICES}, by updater plugin version (plugin_version). Versions past the "
    "--collector.devices.max-plugin-versions-per-app most common (10) fold into "
    'plugin_version="other": at most that many series per app, plus one.',
    "app_id",
    "plugin_version",
)
APP_DEVICES_ON_BUILTIN = METRICS.gauge(
    "capgo_app_devices_on_builtin",
    f"{_DEVICES} still on the bundle built into the binary: version_name equal to "
    "version_build, or the reserved names builtin and unknown.",
    "app_id",
    "platform",
)
APP_DEVICES_SEEN_1D = METRICS.gauge(
    "capgo_app_devices_seen_1d",
    f"{_DEVICES} whose updated_at is within the last day.",
    "app_id",
    "platform",
)
APP_DEVICES_SEEN_7D = METRICS.gauge(
    "capgo_app_devices_seen_7d",
    f"{_DEVICES} whose updated_at is within the last 7 days.",
    "app_id",
    "platform",
)
APP_DEVICES_SEEN_30D = METRICS.gauge(
    "capgo_app_devices_seen_30d",
    f"{_DEVICES} whose updated_at is within the last 30 days.",
    "app_id",
    "platform",
)
APP_DEVICES_CHANNEL_OVERRIDE = METRICS.gauge(
    "capgo_app_devices_channel_override",
    f"{_DEVICES} forced onto a channel (device field channel).",
    "app_id",
    "channel",
)
CHANNEL_ADOPTION = METRICS.gauge(
    "capgo_channel_bundle_adoption_ratio",
    "Share (0-1) of the devices a channel serves that run its current bundle. A channel serves "
    "the devices forced onto it, plus, when it is the app's only public channel, every device "
    "without an override. Absent for a channel that serves no device.",
    "app_id",
    "channel",
)
DEVICES_TRACKED = METRICS.gauge(
    "capgo_exporter_devices_tracked",
    "Devices in the exporter's device index, per app.",
    "app_id",
    cached=False,
)

_SEEN = {"1d": APP_DEVICES_SEEN_1D, "7d": APP_DEVICES_SEEN_7D, "30d": APP_DEVICES_SEEN_30D}
Walk = Literal["full", "incremental"]


class DevicesCollector(BaseCollector):
    """Every index call runs in a worker thread: the index lock may be held for milliseconds
    by another app's page, and the event loop must not wait on it."""

    name: CollectorName = "devices"

    def __init__(
        self,
        settings: Settings,
        index: DeviceIndex | None = None,
        *,
        gate: PermissionGate | None = None,
        page_size: DevicePageSize | None = None,
    ) -> None:
        super().__init__(gate=gate)
        self._index = index if index is not None else DeviceIndex.open(settings.state_dir)
        self.page_size = page_size or DevicePageSize(
            configured=settings.device_page_size,
            state_dir=settings.state_dir,
            base_url=settings.api_url,
        )
        self._observers: list[WalkObserver] = []

    def observe_walks(self, observer: WalkObserver) -> None:
        self._observers.append(observer)
        observer.device_page_size(self.page_size.current)

    def _progress(self, app_id: str, pages: int, devices: int, *, walking: bool) -> None:
        for observer in self._observers:
            observer.device_walk_progress(app_id, pages=pages, devices=devices, walking=walking)

    def _capped(self, safe_size: int) -> None:
        self.page_size.capped(safe_size)
        for observer in self._observers:
            observer.device_page_size(self.page_size.current)

    async def collect(self, context: CollectContext) -> CollectResult:
        discovery = self.discovery_of(context)
        app_ids = [app.app_id for app in discovery.apps]
        for gone in set(await asyncio.to_thread(self._index.app_ids)) - set(app_ids):
            await asyncio.to_thread(self._index.drop_app, gone)
            for observer in self._observers:
                observer.device_walk_forgotten(gone)
        # More walks at once than the client's own concurrency cap would only queue there.
        walks = asyncio.Semaphore(context.settings.concurrency)

        app_samples: dict[str, Samples] = {}

        async def sync(app_id: str) -> Walk | None:
            async with walks:
                # A key without app.read_devices on this app: skip it, not the whole run.
                walk = await guarded(
                    self._gate, context.log, f"devices:{app_id}", self._sync(context, app_id)
                )
            if walk is not None:
                fresh = app_samples[app_id] = await self._samples_of(context, app_id)
                if walk == "full" and context.publish_early is not None:
                    await context.publish_early(
                        lambda served: _with_app(served, app_id, fresh, keep=set(app_ids))
                    )
            return walk

        # Every app finishes its walk (what was walked is kept), then the first failure
        # fails the run.
        outcomes = await asyncio.gather(*map(sync, app_ids), return_exceptions=True)
        if "full" in outcomes:
            await asyncio.to_thread(_release_freed_memory)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        samples = merged(app_samples[a] for a in app_ids if a in app_samples)
        return CollectResult(samples, devices=self._index)

    async def _samples_of(self, context: CollectContext, app_id: str) -> Samples:
        """The app's series, from its index rows as they are now (its walk complete)."""
        # Off the event loop: it may scan the app's rows (a tenth of a second a million).
        summary = await asyncio.to_thread(self._index.summarize, app_id, context.now())
        samples = SampleSet()
        _app_samples(samples, app_id, summary, context.settings)
        channels = self.discovery_of(context).channels.get(app_id)
        _channel_samples(samples, app_id, summary, channels)
        return samples.freeze()

    async def _sync(self, context: CollectContext, app_id: str) -> Walk:
        index, settings = self._index, context.settings
        started = context.now()
        mark = await asyncio.to_thread(index.high_water_mark, app_id)
        full = mark is None or _resync_due(
            await asyncio.to_thread(index.last_full_sync, app_id),
            started,
            settings.devices_full_resync_interval,
        )
        if full:
            await asyncio.to_thread(index.begin_full_sync, app_id, started)
        devices = pages = 0
        self._progress(app_id, pages, devices, walking=True)
        try:
            async for rows in context.client.devices.rows(
                app_id,
                updated_after=None if full else mark,
                page_size=self.page_size.current,
                on_capped=self._capped,
            ):
                # A page of 50,000 is about 0.1 s of CPU: in a thread, the loop goes on
                # serving scrapes and reading the other apps' responses meanwhile.
                await asyncio.to_thread(index.upsert_devices, app_id, rows)
                devices += len(rows)
                pages += 1
                del rows  # stored: let it go before the next page arrives
                self._progress(app_id, pages, devices, walking=True)
        finally:
            self._progress(app_id, pages, devices, walking=False)
        if full:
            deleted = await asyncio.to_thread(index.finish_full_sync, app_id, started)
            context.log.info("full device walk", app_id=app_id, devices=devices, deleted=deleted)
        else:
            await asyncio.to_thread(index.finish_incremental_sync, app_id, started)
            context.log.debug("incremental device walk", app_id=app_id, changed=devices)
        return "full" if full else "incremental"

    def close(self) -> None:
        self._index.close()


def _glibc_malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        return None


_MALLOC_TRIM = _glibc_malloc_trim()


def _release_freed_memory() -> None:
    """Give the pages of a walk's freed buffers back to the OS. glibc keeps them in its arenas
    (worker threads have their own), so RSS at rest stayed at the walk's peak about two runs
    in three: 147-151 MB instead of 114 MB after a million devices."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _with_app(served: Samples, app_id: str, fresh: Samples, *, keep: set[str]) -> Samples:
    """What is served, with the app's series replaced by ``fresh`` and those of apps not in
    ``keep`` (gone since) dropped. Every device metric's first label is app_id."""
    others_kept = keep - {app_id}
    others = {
        spec: {labels: v for labels, v in values.items() if labels[0] in others_kept}
        for spec, values in served.items()
    }
    return merged([others, fresh])


def _resync_due(last_full: datetime | None, now: datetime, interval: float) -> bool:
    return last_full is None or (now - last_full).total_seconds() >= interval


def _app_samples(samples: SampleSet, app_id: str, summary: AppDevices, settings: Settings) -> None:
    by_bundle = summary.folded_by_bundle(settings.max_bundles_per_app)
    for (platform, bundle, prod, emulator), n in by_bundle.items():
        samples.set(APP_DEVICES, n, app_id, platform, bundle, prod, emulator)
    for (platform, native), n in summary.folded_by_native(settings.native_versions_per_app).items():
        samples.set(APP_DEVICES_BY_NATIVE, n, app_id, platform, native)
    for plugin, n in summary.folded_by_plugin(settings.plugin_versions_per_app).items():
        samples.set(APP_DEVICES_BY_PLUGIN, n, app_id, plugin)
    for platform, n in summary.on_builtin.items():
        samples.set(APP_DEVICES_ON_BUILTIN, n, app_id, platform)
    for window, spec in _SEEN.items():
        for platform, n in summary.seen[window].items():
            samples.set(spec, n, app_id, platform)
    samples.set(DEVICES_TRACKED, summary.total, app_id)


def _channel_samples(
    samples: SampleSet,
    app_id: str,
    summary: AppDevices,
    channels: tuple[Channel, ...] | None,
) -> None:
    """Overrides and adoption. An override naming a channel that no longer exists does not
    apply (Capgo serves the device as if it had none); without the app's channel list, the
    overrides are shown as stored and there is no adoption to compute."""
    if not channels:  # unknown (inventory could not list them), or none: nothing to apply
        for name, n in summary.overrides.items():
            samples.set(APP_DEVICES_CHANNEL_OVERRIDE, n, app_id, name)
        return
    known = {channel.name for channel in channels}
    for name, n in summary.overrides.items():
        if name in known:
            samples.set(APP_DEVICES_CHANNEL_OVERRIDE, n, app_id, name)
    public = [channel.name for channel in channels if channel.public]
    # Devices without an override get the public channel, when the app has exactly one.
    default = public[0] if len(public) == 1 else None
    served, running = _served(summary.running, known, default)
    for channel in channels:
        count, bundle = served[channel.name], channel.bundle_name
        if count:  # a channel without a bundle: none of its devices runs it
            adopted = running[(channel.name, bundle)] if bundle is not None else 0
            samples.set(CHANNEL_ADOPTION, adopted / count, app_id, channel.name)


def _served(
    running: Mapping[tuple[str | None, str | None], int], known: set[str], default: str | None
) -> tuple[Counter[str], Counter[tuple[str, str | None]]]:
    """Devices per serving channel, and per (serving channel, bundle they run)."""
    served: Counter[str] = Counter()
    by_bundle: Counter[tuple[str, str | None]] = Counter()
    for (override, bundle), n in running.items():
        serving = override if override in known else default
        if serving is not None:
            served[serving] += n
            by_bundle[(serving, bundle)] += n
    return served, by_bundle


def build(settings: Settings) -> DevicesCollector:
    # The device index lives in the state directory, known only from the settings.
    return DevicesCollector(settings)


def probes(
    client: CapgoClient, org: Organization | None, app: App | None, today: date
) -> list[Probe]:
    return app_probe(app, "GET /device", "devices", partial(_first_page, client))


async def _first_page(client: CapgoClient, app_id: str) -> str:
    async for page in client.devices.raw_pages(app_id, page_size=1):
        return "devices readable" if page else "no devices yet"
    return "no devices yet"
