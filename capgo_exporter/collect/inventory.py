"""The inventory collector: organizations, apps, channels, bundles, and bundle usage.

It is also the discovery every other collector starts from: the organizations and apps the key
can see (after the allow/deny lists) and each app's channels. One poll costs, with fewer than
50 channels and bundles per app: 1 request for the orgs, 1 per 50 apps, and per app 1 for its
channels, 1 per 50 bundles, and 1 for bundle usage.

Exposition (one app, one channel with a 25 % rollout)::

    capgo_org_info{org_id="…",org_name="Acme"} 1.0
    capgo_app_info{app_id="com.acme.app",app_name="Acme",org_id="…"} 1.0
    capgo_app_bundles{app_id="com.acme.app"} 12.0
    capgo_channel_info{allow_dev="false",…,bundle="1.4.0",channel="production",public="true"} 1.0
    capgo_channel_rollout_ratio{app_id="com.acme.app",channel="production"} 0.25
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

from capgo_exporter.api import CapgoClient
from capgo_exporter.api.models import App, Bundle, Channel, Organization
from capgo_exporter.collect import labels
from capgo_exporter.collect.base import (
    BaseCollector,
    CollectContext,
    CollectResult,
    Discovery,
    Probe,
    count,
)
from capgo_exporter.collect.gate import guarded
from capgo_exporter.collect.samples import SampleSet
from capgo_exporter.collectors import CollectorName
from capgo_exporter.metrics import MetricSet
from capgo_exporter.settings import Settings

# The metrics this collector fills (catalogue.py finds them through the registry).
METRICS = MetricSet("inventory")
ORG_INFO = METRICS.gauge(
    "capgo_org_info",
    "Organizations the API key can see, 1 each (GET /organization).",
    "org_id",
    "org_name",
)
APP_INFO = METRICS.gauge(
    "capgo_app_info",
    "Apps the API key can see, 1 each (GET /app).",
    "org_id",
    "app_id",
    "app_name",
)
APP_BUNDLES = METRICS.gauge(
    "capgo_app_bundles",
    "Live (not deleted) bundles of the app (GET /bundle).",
    "app_id",
)
APP_LATEST_BUNDLE_CREATED = METRICS.gauge(
    "capgo_app_latest_bundle_created_timestamp_seconds",
    "Creation time of the app's newest live bundle (bundle field created_at).",
    "app_id",
)
BUNDLE_CREATED = METRICS.gauge(
    "capgo_bundle_created_timestamp_seconds",
    "Creation time of the app's newest bundles, at most --collector.inventory.bundles-per-app "
    "per app (bundle field created_at).",
    "app_id",
    "bundle",
)
APP_BUNDLE_USAGE = METRICS.gauge(
    "capgo_app_bundle_usage_ratio",
    "Share of the app's update checks per bundle on the latest complete day "
    "(GET /statistics/app/:app_id/bundle_usage, 0-1).",
    "app_id",
    "bundle",
)
CHANNEL_INFO = METRICS.gauge(
    "capgo_channel_info",
    "Channels of each app, 1 each, with their current bundle and settings (GET /channel).",
    "app_id",
    "channel",
    "bundle",
    "public",
    "allow_dev",
    "allow_emulator",
    "allow_prod",
    "allow_device_self_set",
    "disable_auto_update",
)
CHANNEL_UPDATED = METRICS.gauge(
    "capgo_channel_updated_timestamp_seconds",
    "Last change of the channel (channel field updated_at).",
    "app_id",
    "channel",
)
CHANNEL_ROLLOUT = METRICS.gauge(
    "capgo_channel_rollout_ratio",
    "Share (0-1) of devices offered the rollout bundle, for channels with a rollout enabled "
    "(channel field rolloutPercentageBps / 10000).",
    "app_id",
    "channel",
)
CHANNEL_ROLLOUT_PAUSED = METRICS.gauge(
    "capgo_channel_rollout_paused",
    "1 when the channel's rollout is paused (channel field rolloutPausedAt set), 0 otherwise; "
    "for channels with a rollout enabled.",
    "app_id",
    "channel",
)

NO_BUNDLE = "none"


class InventoryCollector(BaseCollector):
    name: CollectorName = "inventory"

    async def collect(self, context: CollectContext) -> CollectResult:
        client, settings = context.client, context.settings
        orgs = tuple(
            [org async for org in client.organizations.list() if settings.org_selected(org.id)]
        )
        org_ids = {org.id for org in orgs}
        apps = tuple(
            [
                app
                async for app in client.apps.list()
                if (app.owner_org is None or app.owner_org in org_ids)
                and settings.app_selected(app.app_id)
            ]
        )
        details = await asyncio.gather(*(self._app_details(context, app) for app in apps))

        samples = SampleSet()
        for org in orgs:
            samples.set(ORG_INFO, 1, org.id, labels.text(org.name))
        channels: dict[str, tuple[Channel, ...]] = {}
        for app, (app_channels, bundles, usage) in zip(apps, details, strict=True):
            samples.set(APP_INFO, 1, labels.text(app.owner_org), app.app_id, labels.text(app.name))
            channels[app.app_id] = app_channels
            for channel in app_channels:
                _channel_samples(samples, app.app_id, channel)
            if bundles is not None:
                _bundle_samples(samples, app.app_id, bundles, settings.bundles_per_app)
            for bundle, ratio in usage.items():
                samples.set(APP_BUNDLE_USAGE, ratio, app.app_id, bundle)
        return CollectResult(samples.freeze(), Discovery(orgs=orgs, apps=apps, channels=channels))

    async def _app_details(
        self, context: CollectContext, app: App
    ) -> tuple[tuple[Channel, ...], list[Bundle] | None, dict[str, float]]:
        client, gate, app_id = context.client, self._gate, app.app_id
        channels, bundles, usage = await asyncio.gather(
            guarded(gate, context.log, f"channels:{app_id}", _drain(client.channels.list(app_id))),
            guarded(gate, context.log, f"bundles:{app_id}", _drain(client.bundles.list(app_id))),
            guarded(gate, context.log, f"bundle_usage:{app_id}", _bundle_usage(context, app_id)),
        )
        return (tuple(channels or ()), bundles, usage or {})


async def _drain(iterator: Any) -> list[Any]:
    return [item async for item in iterator]


async def _bundle_usage(context: CollectContext, app_id: str) -> dict[str, float]:
    """Share of update checks per bundle on the latest complete day (yesterday, UTC)."""
    today = context.now().date()
    yesterday = today - timedelta(days=1)
    usage = await context.client.statistics.bundle_usage(app_id, yesterday, today)
    label = yesterday.isoformat()
    if label not in usage.labels:
        return {}
    day = usage.labels.index(label)
    shares: dict[str, float] = {}
    for dataset in usage.datasets:
        if day < len(dataset.data) and dataset.data[day] > 0:
            shares[labels.text(dataset.label)] = dataset.data[day] / 100.0
    return shares


def _channel_samples(samples: SampleSet, app_id: str, channel: Channel) -> None:
    samples.set(
        CHANNEL_INFO,
        1,
        app_id,
        channel.name,
        channel.bundle_name or NO_BUNDLE,
        labels.flag(channel.public),
        labels.flag(channel.allow_dev),
        labels.flag(channel.allow_emulator),
        labels.flag(channel.allow_prod),
        labels.flag(channel.allow_device_self_set),
        labels.text(channel.disable_auto_update),
    )
    if channel.updated_at is not None:
        samples.set(CHANNEL_UPDATED, channel.updated_at.timestamp(), app_id, channel.name)
    if channel.rollout_enabled:
        samples.set(
            CHANNEL_ROLLOUT, (channel.rollout_percentage_bps or 0) / 10_000, app_id, channel.name
        )
        paused = 1 if channel.rollout_paused_at is not None else 0
        samples.set(CHANNEL_ROLLOUT_PAUSED, paused, app_id, channel.name)


def _bundle_samples(samples: SampleSet, app_id: str, bundles: list[Bundle], newest: int) -> None:
    samples.set(APP_BUNDLES, len(bundles), app_id)
    # Newest first; the id breaks ties between bundles uploaded in the same millisecond.
    dated = sorted(
        ((b.created_at, b.id, b.name) for b in bundles if b.created_at is not None), reverse=True
    )
    if dated:
        samples.set(APP_LATEST_BUNDLE_CREATED, dated[0][0].timestamp(), app_id)
    for created_at, _, name in dated[:newest]:
        samples.set(BUNDLE_CREATED, created_at.timestamp(), app_id, name)


def build(settings: Settings) -> InventoryCollector:
    return InventoryCollector()


def probes(
    client: CapgoClient, org: Organization | None, app: App | None, today: date
) -> list[Probe]:
    # GET /organization and GET /app are probed by `check` itself: every probe needs them.
    if app is None:
        return []
    app_id = app.app_id
    return [
        Probe("GET /channel", "inventory", lambda: count(client.channels.list(app_id), "channels")),
        Probe("GET /bundle", "inventory", lambda: count(client.bundles.list(app_id), "bundles")),
    ]
