"""The Capgo app dashboard: devices, channels, rollouts, bundles and release health of one app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from capgo_exporter.collect.devices.collector import APP_DEVICES
from capgo_exporter.collect.inventory import CHANNEL_INFO
from capgo_exporter.mixin.dashboards.builder import (
    date_stat,
    piechart,
    ratio_bargauge,
    stat,
    thresholds,
    timeseries,
    value_mappings,
)
from capgo_exporter.mixin.dashboards.layout import UID_APP, PanelGroup, dashboard, row
from capgo_exporter.mixin.dashboards.queries import (
    APP,
    Config,
    Target,
    app_total,
    ms,
    sel,
    with_info,
    without,
)
from capgo_exporter.mixin.dashboards.release_health import release_health, release_trends
from capgo_exporter.mixin.dashboards.schema import Dashboard, Panel
from capgo_exporter.mixin.dashboards.tables import Column, table
from capgo_exporter.mixin.dashboards.variables import app_variable, job_variables, org_variable

# Windows of the capgo_app_devices_seen_* gauges, and how a legend says them.
SEEN_WINDOWS: Final = {"1d": "day", "7d": "7 days", "30d": "30 days"}


def _devices(by: str, metric: str = "capgo_app_devices") -> str:
    return f"sum by ({by}) ({sel(metric, APP)})"


def _app_stat(title: str, description: str, metric: str, legend: str, unit: str) -> Panel:
    return stat(title, description, Target(app_total(metric), legend), unit=unit, size=(4, 4))


def device_totals() -> PanelGroup:
    """The Devices row's first line: how many devices, users, bytes."""
    seen = [
        Target(app_total(f"capgo_app_devices_seen_{window}"), f"last {label}")
        for window, label in SEEN_WINDOWS.items()
    ]
    return [
        row("Devices"),
        stat(
            "Devices seen",
            "Devices that checked in with Capgo within the last day, 7 days and 30 days "
            "(device field updated_at).",
            *seen,
            unit="short",
            size=(8, 4),
        ),
        _app_stat(
            "Devices tracked",
            "Devices Capgo knows for the app, in the exporter's device index.",
            "capgo_exporter_devices_tracked",
            "devices",
            "short",
        ),
        _app_stat(
            "Monthly active users",
            "Monthly active users of the app in the current billing cycle so far.",
            "capgo_app_monthly_active_users",
            "MAU",
            "short",
        ),
        _app_stat(
            "Storage",
            "Bytes of bundles the app stores now.",
            "capgo_app_storage_bytes",
            "storage",
            "bytes",
        ),
        _app_stat(
            "Bandwidth",
            "Bytes downloaded from the app in the current billing cycle so far.",
            "capgo_app_bandwidth_bytes",
            "bandwidth",
            "bytes",
        ),
    ]


def device_breakdowns() -> PanelGroup:
    """Devices by bundle, platform, native and plugin version, build type."""
    return [
        timeseries(
            "Devices by bundle",
            "Devices by the bundle they run, stacked. A new bundle's share grows as devices "
            'update; bundles past the per-app limit fold into "other".',
            Target(_devices("bundle"), "{{bundle}}"),
            unit="short",
            size=(16, 8),
            stack=True,
        ),
        piechart(
            "Devices by platform",
            "Devices by platform.",
            Target(_devices("platform"), "{{platform}}", instant=True),
        ),
        piechart(
            "Devices by native version",
            "Devices by native build (version_build): the binary from the app stores.",
            Target(
                _devices("native_version", "capgo_app_devices_by_native_version"),
                "{{native_version}}",
                instant=True,
            ),
        ),
        piechart(
            "Devices by updater plugin version",
            "Devices by version of the Capacitor updater plugin they run.",
            Target(
                _devices("plugin_version", "capgo_app_devices_by_plugin_version"),
                "{{plugin_version}}",
                instant=True,
            ),
        ),
        piechart(
            "Production and development devices",
            "Devices by build type (is_prod) and whether they are emulators.",
            Target(
                _devices("is_prod, is_emulator"),
                "production={{is_prod}}, emulator={{is_emulator}}",
                instant=True,
            ),
        ),
    ]


def device_activity() -> PanelGroup:
    """Devices never updated by Capgo, and devices seen recently, by platform."""
    return [
        timeseries(
            "Devices on the built-in bundle",
            "Devices still running the bundle shipped inside the binary, never updated by "
            "Capgo, by platform.",
            Target(_devices("platform", "capgo_app_devices_on_builtin"), "{{platform}}"),
            unit="short",
        ),
        timeseries(
            "Devices seen by platform",
            "Devices that checked in within the last day, 7 days and 30 days, by platform.",
            *(
                Target(
                    _devices("platform", f"capgo_app_devices_seen_{window}"),
                    f"{{{{platform}}}} {window}",
                )
                for window in SEEN_WINDOWS
            ),
            unit="short",
            size=(16, 8),
        ),
        timeseries(
            "Active devices: Capgo's count and the exporter's",
            "Devices Capgo itself counts as active over the last 30 UTC days (native_usage "
            "activeDevices; newer Capgo only), beside the devices the exporter saw check in "
            "within 30 days, by platform. They differ by Capgo's device retention and by the "
            "window's edge (whole days against a rolling 30 days).",
            Target(_devices("platform", "capgo_app_active_devices"), "{{platform}} (Capgo)"),
            Target(_devices("platform", "capgo_app_devices_seen_30d"), "{{platform}} (seen)"),
            unit="short",
            size=(24, 8),
        ),
    ]


ADOPTION: Final = sel("capgo_channel_bundle_adoption_ratio", APP)


def channel_rollouts() -> PanelGroup:
    """Adoption and rollout per channel, paused rollouts, devices forced onto a channel."""
    return [
        row("Channels and rollouts"),
        ratio_bargauge(
            "Adoption per channel",
            "Share of the devices each channel serves that run its current bundle. Low after "
            "a release is expected; low for long means devices do not update.",
            Target(ADOPTION, "{{channel}}", instant=True),
            thresholds(("yellow", 0.5), ("green", 0.8), base="red"),
            size=(8, 8),
        ),
        timeseries(
            "Adoption per channel over time",
            "Share of each channel's devices on its current bundle; it drops when a channel "
            "gets a new bundle and climbs as devices update.",
            Target(ADOPTION, "{{channel}}"),
            unit="percentunit",
            size=(16, 8),
            defaults={"min": 0, "max": 1},
        ),
        ratio_bargauge(
            "Rollout per channel",
            "Share of devices offered the rollout bundle, for channels with a rollout enabled.",
            Target(sel("capgo_channel_rollout_ratio", APP), "{{channel}}", instant=True),
            thresholds(),
        ),
        stat(
            "Rollout paused",
            "Whether each channel's rollout is paused (for channels with a rollout enabled).",
            Target(sel("capgo_channel_rollout_paused", APP), "{{channel}}"),
            unit="none",
            size=(6, 7),
            defaults={"mappings": value_mappings(("green", "running"), ("orange", "paused"))},
            sparkline=False,
        ),
        timeseries(
            "Devices forced onto a channel",
            "Devices whose channel is overridden (device field channel), per channel.",
            Target(sel("capgo_app_devices_channel_override", APP), "{{channel}}"),
            unit="short",
            size=(10, 7),
        ),
    ]


# The channels table joins every query onto the channel's settings, so its rows share one
# label set; the info's other labels are dropped from its own row.
_CHANNEL_KEYS: Final = ("app_id", "channel")
_CHANNEL_SHOWN: Final = ("bundle", "public", "allow_device_self_set", "disable_auto_update")


def _channel_value(expr: str) -> str:
    keys, shown = ", ".join(_CHANNEL_KEYS), ", ".join(_CHANNEL_SHOWN)
    return with_info(expr, "capgo_channel_info", keys, shown, APP)


def channels_table() -> PanelGroup:
    """One row per channel: its bundle, settings, adoption, rollout and last change."""
    hidden = [
        label for label in CHANNEL_INFO.labels if label not in (*_CHANNEL_KEYS, *_CHANNEL_SHOWN)
    ]
    return [
        table(
            "Channels",
            "Each channel with its current bundle, settings, rollout and last change.",
            [
                Target(without(", ".join(hidden), sel("capgo_channel_info", APP))),
                Target(_channel_value(ADOPTION)),
                Target(_channel_value(sel("capgo_channel_rollout_ratio", APP))),
                Target(_channel_value(sel("capgo_channel_rollout_paused", APP))),
                Target(_channel_value(sel("capgo_app_devices_channel_override", APP))),
                Target(_channel_value(ms(sel("capgo_channel_updated_timestamp_seconds", APP)))),
            ],
            [
                Column("channel", "Channel"),
                Column("bundle", "Bundle"),
                Column("public", "Public"),
                Column("allow_device_self_set", "Self-set allowed"),
                Column("disable_auto_update", "Auto-update blocked"),
                Column("#B", "Adoption", "percentunit"),
                Column("#C", "Rollout", "percentunit"),
                Column("#D", "Rollout paused", "short"),
                Column("#E", "Forced devices", "short"),
                Column("#F", "Changed", "dateTimeFromNow"),
            ],
        ),
    ]


# The labels of capgo_app_devices besides app_id and bundle.
DEVICE_LABELS: Final = ", ".join(
    label for label in APP_DEVICES.labels if label not in ("app_id", "bundle")
)


def bundles() -> PanelGroup:
    """The app's bundles: newest ones, their creation and usage."""
    return [
        row("Bundles"),
        stat(
            "Live bundles",
            "Bundles of the app not deleted.",
            Target(app_total("capgo_app_bundles"), "bundles"),
            unit="short",
            size=(4, 8),
        ),
        date_stat(
            "Latest bundle uploaded",
            "Creation time of the app's newest live bundle.",
            Target(
                ms(f"max({sel('capgo_app_latest_bundle_created_timestamp_seconds', APP)})"),
                "latest",
            ),
            size=(4, 8),
        ),
        ratio_bargauge(
            "Update checks per bundle",
            "Share of the app's update checks per bundle on the latest complete day "
            "(Capgo's bundle_usage statistics).",
            Target(sel("capgo_app_bundle_usage_ratio", APP), "{{bundle}}", instant=True),
            thresholds(),
            size=(16, 8),
        ),
        table(
            "Bundle inventory",
            "The newest bundles with their creation time, their share of update checks and "
            "the devices running them.",
            [
                Target(ms(sel("capgo_bundle_created_timestamp_seconds", APP))),
                Target(without("", sel("capgo_app_bundle_usage_ratio", APP))),
                Target(f"sum without ({DEVICE_LABELS}) ({sel('capgo_app_devices', APP)})"),
            ],
            [
                Column("bundle", "Bundle"),
                Column("#A", "Created", "dateTimeFromNow"),
                Column("#B", "Update checks", "percentunit"),
                Column("#C", "Devices", "short"),
            ],
        ),
    ]


# The dashboard, top to bottom: a new row is one more panel-group function here.
PANEL_GROUPS: Final[tuple[Callable[[], PanelGroup], ...]] = (
    device_totals,
    device_breakdowns,
    device_activity,
    channel_rollouts,
    channels_table,
    bundles,
    release_health,
    release_trends,
)


def app(config: Config) -> Dashboard:
    return dashboard(
        UID_APP,
        "Capgo app",
        "One Capgo app: its devices by bundle, platform, native and plugin version; adoption "
        "and rollouts per channel; its bundles.",
        [*job_variables(), org_variable(), app_variable()],
        [panel for group in PANEL_GROUPS for panel in group()],
        config,
        "now-24h",
    )
