"""The metric catalogue: every name, help text, type and label set, in one place.

Names are fixed by the design (dashboards, alerts and users rely on them): add, never rename.
Collectors produce samples for the specs of their own ``collector``; the exposition, the docs
(``docs/metrics.md``) and the tests all read this table.

Business gauges are served from a cache refreshed by background polls, never fetched during a
scrape; their HELP text says so and names the Capgo API field they come from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from capgo_exporter.collectors import CollectorName as Collector

MetricType = Literal["gauge", "counter", "histogram"]


@dataclass(frozen=True)
class MetricSpec:
    name: str
    help: str
    labels: tuple[str, ...] = ()
    type: MetricType = "gauge"
    # The collector whose poll produces it; None for the exporter's own live metrics.
    collector: Collector | None = None


def _capgo(collector: Collector, name: str, help_text: str, *labels: str) -> MetricSpec:
    return MetricSpec(name, help_text, labels, "gauge", collector)


def _self(name: str, help_text: str, *labels: str, kind: MetricType = "gauge") -> MetricSpec:
    return MetricSpec(name, help_text, labels, kind, None)


_CYCLE = "in the current billing cycle so far"
_CACHED = "Cached; refreshed by the {} collector."

# --- organizations --------------------------------------------------------------------------
ORG_INFO = _capgo(
    "inventory",
    "capgo_org_info",
    "Organizations the API key can see, 1 each (GET /organization). " + _CACHED.format("inventory"),
    "org_id",
    "org_name",
)
ORG_MAU = _capgo(
    "statistics",
    "capgo_org_monthly_active_users",
    f"Monthly active users of the organization {_CYCLE}: distinct devices seen since the cycle "
    "start (statistics field mau, cumulative). " + _CACHED.format("statistics"),
    "org_id",
)
ORG_STORAGE = _capgo(
    "statistics",
    "capgo_org_storage_bytes",
    "Bytes of bundles the organization stores now (statistics field storage). "
    + _CACHED.format("statistics"),
    "org_id",
)
ORG_BANDWIDTH = _capgo(
    "statistics",
    "capgo_org_bandwidth_bytes",
    f"Bytes downloaded from the organization {_CYCLE} (statistics field bandwidth, cumulative). "
    + _CACHED.format("statistics"),
    "org_id",
)
ORG_BUILD_TIME = _capgo(
    "statistics",
    "capgo_org_build_time_seconds",
    f"Native build time used by the organization {_CYCLE} (statistics field build_time_seconds). "
    + _CACHED.format("statistics"),
    "org_id",
)
ORG_CYCLE_START = _capgo(
    "statistics",
    "capgo_org_billing_cycle_start_timestamp_seconds",
    "Start of the billing cycle the organization's figures are counted from "
    "(--plan.billing-cycle-start-day, UTC midnight).",
    "org_id",
)
ORG_CYCLE_END = _capgo(
    "statistics",
    "capgo_org_billing_cycle_end_timestamp_seconds",
    "End of the organization's current billing cycle: the next start day, UTC midnight. "
    "With the start, it lets rules project usage to the end of the cycle.",
    "org_id",
)
ORG_MAU_LIMIT = _capgo(
    "statistics",
    "capgo_org_monthly_active_users_limit",
    "Monthly active users allowed by the plan, from configuration (--plan.mau-limit); "
    "absent when not configured.",
    "org_id",
)
ORG_STORAGE_LIMIT = _capgo(
    "statistics",
    "capgo_org_storage_limit_bytes",
    "Storage allowed by the plan, from configuration (--plan.storage-limit); "
    "absent when not configured.",
    "org_id",
)
ORG_BANDWIDTH_LIMIT = _capgo(
    "statistics",
    "capgo_org_bandwidth_limit_bytes",
    "Bandwidth per billing cycle allowed by the plan, from configuration "
    "(--plan.bandwidth-limit); absent when not configured.",
    "org_id",
)
ORG_MEMBERS = _capgo(
    "account",
    "capgo_org_members",
    "Members of the organization per role, pending invitations excluded "
    "(GET /organization/members). " + _CACHED.format("account"),
    "org_id",
    "role",
)
ORG_PENDING_INVITATIONS = _capgo(
    "account",
    "capgo_org_pending_invitations",
    "Invitations to the organization not yet accepted (members with is_tmp). "
    + _CACHED.format("account"),
    "org_id",
)

# --- apps -----------------------------------------------------------------------------------
APP_INFO = _capgo(
    "inventory",
    "capgo_app_info",
    "Apps the API key can see, 1 each (GET /app). " + _CACHED.format("inventory"),
    "org_id",
    "app_id",
    "app_name",
)
APP_MAU = _capgo(
    "statistics",
    "capgo_app_monthly_active_users",
    f"Monthly active users of the app {_CYCLE} (statistics field mau, cumulative). "
    + _CACHED.format("statistics"),
    "app_id",
)
APP_STORAGE = _capgo(
    "statistics",
    "capgo_app_storage_bytes",
    "Bytes of bundles the app stores now (statistics field storage). "
    + _CACHED.format("statistics"),
    "app_id",
)
APP_BANDWIDTH = _capgo(
    "statistics",
    "capgo_app_bandwidth_bytes",
    f"Bytes downloaded from the app {_CYCLE} (statistics field bandwidth, cumulative). "
    + _CACHED.format("statistics"),
    "app_id",
)
APP_BUNDLES = _capgo(
    "inventory",
    "capgo_app_bundles",
    "Live (not deleted) bundles of the app (GET /bundle). " + _CACHED.format("inventory"),
    "app_id",
)
APP_LATEST_BUNDLE_CREATED = _capgo(
    "inventory",
    "capgo_app_latest_bundle_created_timestamp_seconds",
    "Creation time of the app's newest live bundle (bundle field created_at). "
    + _CACHED.format("inventory"),
    "app_id",
)
BUNDLE_CREATED = _capgo(
    "inventory",
    "capgo_bundle_created_timestamp_seconds",
    "Creation time of the app's newest bundles, at most --collector.inventory.bundles-per-app "
    "per app (bundle field created_at). " + _CACHED.format("inventory"),
    "app_id",
    "bundle",
)
APP_BUNDLE_USAGE = _capgo(
    "inventory",
    "capgo_app_bundle_usage_ratio",
    "Share of the app's update checks per bundle on the latest complete day "
    "(GET /statistics/app/:app_id/bundle_usage, 0-1). " + _CACHED.format("inventory"),
    "app_id",
    "bundle",
)

# --- devices --------------------------------------------------------------------------------
_DEVICES = "Devices Capgo knows (GET /device, kept in the exporter's device index)"
APP_DEVICES = _capgo(
    "devices",
    "capgo_app_devices",
    f"{_DEVICES}, by the bundle they run (version_name); bundles past "
    '--collector.devices.max-bundles-per-app (fewest devices first) fold into bundle="other". '
    + _CACHED.format("devices"),
    "app_id",
    "platform",
    "bundle",
    "is_prod",
    "is_emulator",
)
APP_DEVICES_BY_NATIVE = _capgo(
    "devices",
    "capgo_app_devices_by_native_version",
    f"{_DEVICES}, by native build (version_build). Builds past the "
    "--collector.devices.max-native-versions-per-app most common (10) fold into "
    'native_version="other" per platform: at most that many series per app, plus one per '
    "platform. " + _CACHED.format("devices"),
    "app_id",
    "platform",
    "native_version",
)
APP_DEVICES_BY_PLUGIN = _capgo(
    "devices",
    "capgo_app_devices_by_plugin_version",
    f"{_DEVICES}, by updater plugin version (plugin_version). Versions past the "
    "--collector.devices.max-plugin-versions-per-app most common (10) fold into "
    'plugin_version="other": at most that many series per app, plus one. '
    + _CACHED.format("devices"),
    "app_id",
    "plugin_version",
)
APP_DEVICES_ON_BUILTIN = _capgo(
    "devices",
    "capgo_app_devices_on_builtin",
    f"{_DEVICES} still on the bundle built into the binary: version_name equal to "
    "version_build, or the reserved names builtin and unknown. " + _CACHED.format("devices"),
    "app_id",
    "platform",
)
APP_DEVICES_SEEN_1D = _capgo(
    "devices",
    "capgo_app_devices_seen_1d",
    f"{_DEVICES} whose updated_at is within the last day. " + _CACHED.format("devices"),
    "app_id",
    "platform",
)
APP_DEVICES_SEEN_7D = _capgo(
    "devices",
    "capgo_app_devices_seen_7d",
    f"{_DEVICES} whose updated_at is within the last 7 days. " + _CACHED.format("devices"),
    "app_id",
    "platform",
)
APP_DEVICES_SEEN_30D = _capgo(
    "devices",
    "capgo_app_devices_seen_30d",
    f"{_DEVICES} whose updated_at is within the last 30 days. " + _CACHED.format("devices"),
    "app_id",
    "platform",
)
APP_DEVICES_CHANNEL_OVERRIDE = _capgo(
    "devices",
    "capgo_app_devices_channel_override",
    f"{_DEVICES} forced onto a channel (device field channel). " + _CACHED.format("devices"),
    "app_id",
    "channel",
)
CHANNEL_ADOPTION = _capgo(
    "devices",
    "capgo_channel_bundle_adoption_ratio",
    "Share (0-1) of the devices a channel serves that run its current bundle. A channel serves "
    "the devices forced onto it, plus, when it is the app's only public channel, every device "
    "without an override. Absent for a channel that serves no device. " + _CACHED.format("devices"),
    "app_id",
    "channel",
)

# --- channels -------------------------------------------------------------------------------
CHANNEL_INFO = _capgo(
    "inventory",
    "capgo_channel_info",
    "Channels of each app, 1 each, with their current bundle and settings (GET /channel). "
    + _CACHED.format("inventory"),
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
CHANNEL_UPDATED = _capgo(
    "inventory",
    "capgo_channel_updated_timestamp_seconds",
    "Last change of the channel (channel field updated_at). " + _CACHED.format("inventory"),
    "app_id",
    "channel",
)
CHANNEL_ROLLOUT = _capgo(
    "inventory",
    "capgo_channel_rollout_ratio",
    "Share (0-1) of devices offered the rollout bundle, for channels with a rollout enabled "
    "(channel field rolloutPercentageBps / 10000). " + _CACHED.format("inventory"),
    "app_id",
    "channel",
)
CHANNEL_ROLLOUT_PAUSED = _capgo(
    "inventory",
    "capgo_channel_rollout_paused",
    "1 when the channel's rollout is paused (channel field rolloutPausedAt set), 0 otherwise; "
    "for channels with a rollout enabled. " + _CACHED.format("inventory"),
    "app_id",
    "channel",
)

# --- device events (release health) ---------------------------------------------------------
_INSIGHTS = "POST /private/stats/insights, a private route; needs app.read_logs"
EVENTS_WINDOW = _capgo(
    "events",
    "capgo_events_window_seconds",
    "Length of the window the capgo_*event* figures count: the last 1, 3, 7 or 30 whole UTC "
    "days, today included (--collector.events.days). " + _CACHED.format("events"),
)
APP_EVENTS = _capgo(
    "events",
    "capgo_app_events",
    "Device events of the action reported in the window: set = bundle installed, the failure "
    f"actions, crashes ({_INSIGHTS}). Every requested action has a series (0 when none) unless "
    "the route's top-20 actions cut it. " + _CACHED.format("events"),
    "app_id",
    "action",
)
APP_EVENT_DEVICES = _capgo(
    "events",
    "capgo_app_event_devices",
    f"Distinct devices that reported the action in the window ({_INSIGHTS}). "
    + _CACHED.format("events"),
    "app_id",
    "action",
)
BUNDLE_EVENTS = _capgo(
    "events",
    "capgo_bundle_events",
    "Device events of the action reported in the window by devices running the bundle; only the "
    f"route's top 30 (action, bundle) pairs per request ({_INSIGHTS}). " + _CACHED.format("events"),
    "app_id",
    "bundle",
    "action",
)
BUNDLE_EVENT_DEVICES = _capgo(
    "events",
    "capgo_bundle_event_devices",
    "Distinct devices running the bundle that reported the action in the window; the route's "
    f"top 30 (action, bundle) pairs per request ({_INSIGHTS}). " + _CACHED.format("events"),
    "app_id",
    "bundle",
    "action",
)

# --- API keys -------------------------------------------------------------------------------
APIKEY_EXPIRY = _capgo(
    "account",
    "capgo_apikey_expiry_timestamp_seconds",
    "Expiry of the API keys that have one (GET /apikey; needs a key allowed to manage keys). "
    + _CACHED.format("account"),
    "apikey_id",
    "apikey_name",
)

# --- the exporter itself --------------------------------------------------------------------
UP = _self(
    "capgo_up",
    "1 when the last run of every enabled collector succeeded, 0 otherwise.",
)
COLLECTOR_UP = _self(
    "capgo_exporter_collector_up",
    "1 when the collector's last run succeeded and left nothing out. A failed collector keeps "
    "serving its last good data until --collector.max-age. 0 with capgo_up 1: the run succeeded "
    "but left parts out (the events collector, for apps whose events Capgo would not give).",
    "collector",
)
COLLECTOR_LAST_SUCCESS = _self(
    "capgo_exporter_collector_last_success_timestamp_seconds",
    "When the collector last finished a run successfully (0 before the first success).",
    "collector",
)
COLLECTOR_MAX_AGE = _self(
    "capgo_exporter_collector_max_age_seconds",
    "Age past which the collector's figures are dropped rather than served: the value the "
    "exporter uses, --collector.max-age or, when that is unset, three times the collector's "
    "interval. Set once at start; the staleness alerts compare each collector's last success "
    "with it.",
    "collector",
)
COLLECTOR_DURATION = _self(
    "capgo_exporter_collector_duration_seconds",
    "Duration of the collector's last run.",
    "collector",
)
API_REQUESTS = _self(
    "capgo_exporter_api_requests_total",
    "Requests sent to the Capgo API, by route template and HTTP status "
    "(timeout and connection_error when no answer came).",
    "endpoint",
    "code",
    kind="counter",
)
API_REQUEST_DURATION = _self(
    "capgo_exporter_api_request_duration_seconds",
    "Duration of requests to the Capgo API, by route template.",
    "endpoint",
    kind="histogram",
)
API_RETRIES = _self(
    "capgo_exporter_api_retries_total",
    "Requests to the Capgo API sent again, by route template and reason "
    "(rate_limited, server_error, timeout, connection_error, malformed_response).",
    "endpoint",
    "reason",
    kind="counter",
)
API_BACKOFF = _self(
    "capgo_exporter_api_backoff_seconds",
    "Seconds each request to a route template waits before it is sent while Capgo keeps "
    "failing there (5xx, timeouts, connection errors, malformed bodies): exponential with "
    "jitter, capped at the shortest collector interval, 0 again after the first success.",
    "endpoint",
)
DEVICES_TRACKED = MetricSpec(
    "capgo_exporter_devices_tracked",
    "Devices in the exporter's device index, per app.",
    ("app_id",),
    "gauge",
    "devices",
)
DEVICE_WALK_IN_PROGRESS = _self(
    "capgo_exporter_device_walk_in_progress",
    "1 while a walk of the app's devices (full or incremental) is running, 0 once it ended. "
    "The app's device metrics come only from complete walks.",
    "app_id",
)
DEVICE_WALK_PAGES = _self(
    "capgo_exporter_device_walk_pages",
    "Pages of devices received by the app's current walk, or by its last one when none runs.",
    "app_id",
)
DEVICE_WALK_DEVICES = _self(
    "capgo_exporter_device_walk_devices",
    "Devices received by the app's current walk, or by its last one when none runs; against "
    "capgo_exporter_devices_tracked it shows how far a first or full walk has come.",
    "app_id",
)
DEVICE_PAGE_SIZE = _self(
    "capgo_exporter_device_page_size",
    "Devices asked for per GET /device request: 50000 by default, 999 once Capgo proved to "
    "cut pages at 1000, or the configured size.",
)
DEMO_MODE = _self(
    "capgo_exporter_demo_mode",
    "1 when every figure comes from the built-in simulated Capgo (--demo), 0 against a real one.",
)
BUILD_INFO = _self(
    "capgo_exporter_build_info",
    "Version of capgo-exporter and of Python running it; always 1.",
    "version",
    "python_version",
)

CATALOGUE: Final[tuple[MetricSpec, ...]] = tuple(
    value for value in list(globals().values()) if isinstance(value, MetricSpec)
)


def specs_of(collector: Collector) -> tuple[MetricSpec, ...]:
    return tuple(spec for spec in CATALOGUE if spec.collector == collector)
