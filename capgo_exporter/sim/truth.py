"""Ground truth: what the exporter should report, computed from the world, not through HTTP."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from capgo_exporter.sim.model import App, Channel, Org
from capgo_exporter.sim.state import RESERVED_BUNDLES, World
from capgo_exporter.sim.stats import AppSeries
from capgo_exporter.sim.timeutil import billing_cycle_start, to_ms

DeviceKey = tuple[str, str, bool, bool]  # platform, bundle (version_name), is_prod, is_emulator
_WINDOWS = {"1d": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}


@dataclass(frozen=True)
class ChannelTruth:
    name: str
    bundle: str | None
    public: bool
    allow_dev: bool
    allow_emulator: bool
    allow_prod: bool
    allow_device_self_set: bool
    disable_auto_update: str
    updated_at: datetime
    rollout_ratio: float | None  # None when no rollout is enabled
    rollout_paused: bool
    served_devices: int
    adoption_ratio: float | None  # None when the channel serves no device


@dataclass(frozen=True)
class AppTruth:
    id: str
    app_id: str
    name: str
    org_id: str
    mau: int
    storage_bytes: int
    bandwidth_bytes: int
    build_time_seconds: int
    bundles: int  # rows GET /bundle returns over all pages
    latest_bundle_created: datetime | None
    bundle_created: Mapping[str, datetime]
    bundle_usage: Mapping[str, float]  # latest complete day (yesterday)
    channels: tuple[ChannelTruth, ...]
    devices: int
    devices_by: Mapping[DeviceKey, int]
    devices_by_native: Mapping[tuple[str, str], int]  # platform, version_build
    devices_by_plugin: Mapping[str, int]
    on_builtin: Mapping[str, int]  # by platform
    seen: Mapping[str, Mapping[str, int]]  # "1d"/"7d"/"30d" -> platform -> count
    channel_overrides: Mapping[str, int]


@dataclass(frozen=True)
class OrgTruth:
    id: str
    name: str
    mau: int
    storage_bytes: int
    bandwidth_bytes: int
    build_time_seconds: int
    billing_cycle_start: datetime
    members_by_role: Mapping[str, int]
    pending_invitations: int
    apps: tuple[AppTruth, ...]


@dataclass(frozen=True)
class ApiKeyTruth:
    id: int
    name: str
    expires_at: datetime | None


@dataclass(frozen=True)
class GroundTruth:
    now: datetime
    orgs: tuple[OrgTruth, ...]
    apikeys: tuple[ApiKeyTruth, ...]

    def org(self, org_id: str) -> OrgTruth:
        return next(o for o in self.orgs if o.id == org_id)

    def app(self, app_id: str) -> AppTruth:
        return next(a for o in self.orgs for a in o.apps if a.app_id == app_id)


@dataclass(frozen=True)
class _Usage:
    mau: int
    storage: int
    bandwidth: int
    build_time: int


def _usage(series: list[AppSeries], start: date, today: date) -> _Usage:
    days = [start + timedelta(days=i) for i in range((today - start).days + 1)]
    return _Usage(
        mau=sum(s.new_mau(d) for s in series for d in days),
        storage=sum(s.storage(today) for s in series),
        bandwidth=sum(s.bandwidth(d) for s in series for d in days),
        build_time=sum(s.build_time(d) for s in series for d in days),
    )


def compute_truth(
    world: World, cycle_start_day: int = 1, max_bundles_per_app: int | None = None
) -> GroundTruth:
    now = world.now()
    cycle = billing_cycle_start(now.date(), cycle_start_day)
    orgs = tuple(_org(world, org, cycle, now, max_bundles_per_app) for org in world.live_orgs())
    keys = tuple(ApiKeyTruth(k.id, k.name, k.expires_at) for k in world.keys)
    return GroundTruth(now=now, orgs=orgs, apikeys=keys)


def _org(
    world: World, org: Org, cycle: datetime, now: datetime, max_bundles: int | None
) -> OrgTruth:
    everything = [world.series[a.app_id] for a in world.apps if a.owner_org == org.id]
    usage = _usage(everything, cycle.date(), now.date())
    members = Counter(m.role for m in org.members if not m.is_tmp)
    return OrgTruth(
        id=org.id,
        name=org.name,
        mau=usage.mau,
        storage_bytes=usage.storage,
        bandwidth_bytes=usage.bandwidth,
        build_time_seconds=usage.build_time,
        billing_cycle_start=cycle,
        members_by_role=dict(members),
        pending_invitations=sum(m.is_tmp for m in org.members),
        apps=tuple(_app(world, a, cycle, now, max_bundles) for a in world.live_apps(org.id)),
    )


def _app(
    world: World, app: App, cycle: datetime, now: datetime, max_bundles: int | None
) -> AppTruth:
    series = world.series[app.app_id]
    usage = _usage([series], cycle.date(), now.date())
    live = world.live_bundles(app.app_id)
    store = world.devices[app.app_id]
    yesterday = now.date() - timedelta(days=1)
    checks = series.update_checks(yesterday, store.version_weights)
    total_checks = sum(checks.values())
    devices = _Devices(world, app, now)
    return AppTruth(
        id=app.id,
        app_id=app.app_id,
        name=app.name,
        org_id=app.owner_org,
        mau=usage.mau,
        storage_bytes=usage.storage,
        bandwidth_bytes=usage.bandwidth,
        build_time_seconds=usage.build_time,
        bundles=len(live),
        latest_bundle_created=max((b.created_at for b in live), default=None),
        bundle_created={b.name: b.created_at for b in live},
        bundle_usage={n: c / total_checks for n, c in checks.items()} if total_checks else {},
        channels=devices.channels,
        devices=store.count,
        devices_by=devices.by_bundle(max_bundles),
        devices_by_native=dict(devices.native),
        devices_by_plugin=dict(devices.plugin),
        on_builtin=dict(devices.builtin),
        seen={w: dict(c) for w, c in devices.seen.items()},
        channel_overrides=dict(devices.overrides),
    )


class _Devices:
    """One pass over an app's devices, collecting every aggregate."""

    def __init__(self, world: World, app: App, now: datetime) -> None:
        store = world.devices[app.app_id]
        channels = world.channels.get(app.app_id, [])
        names = {c.name for c in channels}
        public = [c.name for c in channels if c.public]
        default = public[0] if len(public) == 1 else None  # serves devices without override
        thresholds = {w: to_ms(now - span) for w, span in _WINDOWS.items()}
        self.by: Counter[DeviceKey] = Counter()
        self.native: Counter[tuple[str, str]] = Counter()
        self.plugin: Counter[str] = Counter()
        self.builtin: Counter[str] = Counter()
        self.seen: dict[str, Counter[str]] = {w: Counter() for w in _WINDOWS}
        self.overrides: Counter[str] = Counter()
        served: Counter[str] = Counter()
        running: Counter[tuple[str, str]] = Counter()  # (channel, version_name)
        # Devices grouped by what is counted: `n` devices alike, counted at once.
        for f, n in store.fact_groups(list(thresholds.values())).items():
            self.by[(f.platform, f.version_name, f.is_prod, f.is_emulator)] += n
            self.native[(f.platform, f.version_build)] += n
            self.plugin[f.plugin_version] += n
            if f.version_name == f.version_build or f.version_name in RESERVED_BUNDLES:
                self.builtin[f.platform] += n
            for window, seen in zip(thresholds, f.updated_since, strict=True):
                if seen:
                    self.seen[window][f.platform] += n
            channel = f.channel if f.channel in names else None
            if channel is not None:
                self.overrides[channel] += n
            serving = channel or default
            if serving is not None:
                served[serving] += n
                running[(serving, f.version_name)] += n
        self.channels = tuple(self._channel(world, c, served, running) for c in channels)

    @staticmethod
    def _channel(
        world: World, c: Channel, served: Counter[str], running: Counter[tuple[str, str]]
    ) -> ChannelTruth:
        bundle = world.bundle_by_id(c.app_id, c.version)
        name = bundle.name if bundle else None
        count = served[c.name]
        return ChannelTruth(
            name=c.name,
            bundle=name,
            public=c.public,
            allow_dev=c.allow_dev,
            allow_emulator=c.allow_emulator,
            allow_prod=c.allow_prod,
            allow_device_self_set=c.allow_device_self_set,
            disable_auto_update=c.disable_auto_update,
            updated_at=c.updated_at,
            rollout_ratio=c.rollout_percentage_bps / 10000 if c.rollout_enabled else None,
            rollout_paused=c.rollout_paused_at is not None,
            served_devices=count,
            adoption_ratio=running[(c.name, name or "")] / count if count else None,
        )

    def by_bundle(self, max_bundles: int | None) -> dict[DeviceKey, int]:
        """Devices by bundle; past `max_bundles` (most devices first) the rest become "other"."""
        if max_bundles is None:
            return dict(self.by)
        per_bundle: Counter[str] = Counter()
        for (_, bundle, _, _), n in self.by.items():
            per_bundle[bundle] += n
        ranked = sorted(per_bundle, key=lambda b: (-per_bundle[b], b))
        kept = set(ranked[:max_bundles])
        folded: Counter[DeviceKey] = Counter()
        for (platform, bundle, prod, emulator), n in self.by.items():
            folded[(platform, bundle if bundle in kept else "other", prod, emulator)] += n
        return dict(folded)
