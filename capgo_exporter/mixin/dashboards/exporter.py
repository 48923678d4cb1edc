"""The Capgo exporter dashboard: its collectors, their freshness, its Capgo API calls."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from capgo_exporter.mixin.dashboards.builder import (
    UP_MAPPINGS,
    dashed,
    stat,
    timeseries,
    value_mappings,
)
from capgo_exporter.mixin.dashboards.layout import UID_EXPORTER, PanelGroup, dashboard, row
from capgo_exporter.mixin.dashboards.queries import Config, Target, rate, sel
from capgo_exporter.mixin.dashboards.schema import Dashboard
from capgo_exporter.mixin.dashboards.variables import job_variables
from capgo_exporter.mixin.exporter_rules import ERROR_CODES
from capgo_exporter.settings import FLAG_NAMES, Settings


def status() -> PanelGroup:
    """Whether the exporter is up, its collectors, its data, version and uptime."""
    return [
        row("Status"),
        stat(
            "Capgo up",
            "Whether the last run of every enabled collector succeeded.",
            Target(sel("capgo_up"), "{{instance}}"),
            unit="none",
            size=(4, 5),
            defaults={"mappings": UP_MAPPINGS},
            sparkline=False,
        ),
        stat(
            "Collectors",
            "Whether each collector's last run succeeded. A failed collector keeps serving its "
            f"last good data until {FLAG_NAMES['max_age']}.",
            Target(sel("capgo_exporter_collector_up"), "{{collector}}"),
            unit="none",
            size=(10, 5),
            defaults={"mappings": UP_MAPPINGS},
            sparkline=False,
        ),
        stat(
            "Data",
            "Whether the figures come from a real Capgo or the built-in simulator (--demo).",
            Target(sel("capgo_exporter_demo_mode"), "{{instance}}"),
            unit="none",
            size=(4, 5),
            defaults={"mappings": value_mappings(("green", "Capgo"), ("orange", "simulated"))},
            sparkline=False,
        ),
        stat(
            "Version",
            "Version and source revision of capgo-exporter, and the Python running it.",
            Target(
                sel("capgo_exporter_build_info"),
                "{{version}} ({{revision}}, Python {{python_version}})",
            ),
            unit="none",
            size=(6, 5),
            sparkline=False,
            # The version is in the labels; the value is always 1.
            text_mode="name",
        ),
        stat(
            "Uptime",
            "Time since the exporter process started.",
            Target(f"time() - {sel('process_start_time_seconds')}", "{{instance}}"),
            unit="s",
            size=(4, 5),
            sparkline=False,
        ),
    ]


def collector_runs() -> PanelGroup:
    """How fresh each collector's data are, how long runs take, the device walks."""
    return [
        timeseries(
            "Data age per collector",
            "Time since each collector last succeeded: how stale the served figures are. It "
            "grows past the collector's interval when Capgo cannot be read. Dashed: the "
            "collector's max age, past which its figures are dropped and "
            "CapgoExporterDataStale fires; CapgoExporterDataAging warns at two thirds of it.",
            Target(
                f"time() - {sel('capgo_exporter_collector_last_success_timestamp_seconds')}",
                "{{collector}}",
            ),
            Target(sel("capgo_exporter_collector_max_age_seconds"), "{{collector}} max age"),
            unit="s",
            size=(12, 8),
            overrides=[dashed("/ max age$/")],
        ),
        timeseries(
            "Collector run duration",
            "Duration of each collector's last run.",
            Target(sel("capgo_exporter_collector_duration_seconds"), "{{collector}}"),
            unit="s",
            size=(12, 8),
        ),
        timeseries(
            "Device walk progress",
            "Devices received by each app's current device walk (its last one when none runs). "
            "During a first walk of a large fleet it climbs towards the fleet's size; the app's "
            "device metrics appear only once its walk is complete.",
            Target(sel("capgo_exporter_device_walk_devices"), "{{app_id}}"),
            unit="short",
            size=(12, 8),
        ),
        stat(
            "Device walks",
            "Whether each app's device walk is running, the pages it has received, and the "
            "devices asked for per request (50000, or 999 where Capgo cuts pages at 1000).",
            Target(sel("capgo_exporter_device_walk_in_progress"), "{{app_id}} running"),
            Target(sel("capgo_exporter_device_walk_pages"), "{{app_id}} pages"),
            Target(sel("capgo_exporter_device_page_size"), "page size"),
            unit="none",
            size=(12, 8),
            sparkline=False,
        ),
    ]


REQUESTS: Final = "capgo_exporter_api_requests_total"
BUCKETS: Final = "capgo_exporter_api_request_duration_seconds_bucket"


def api_requests() -> PanelGroup:
    """Requests to Capgo by status and endpoint, against the budget, and their error share."""
    # As the alerts count them: a 4xx is an answer (a permission the key lacks, an empty page).
    errors = rate(REQUESTS, ERROR_CODES)
    return [
        row("Capgo API"),
        timeseries(
            "Requests by status",
            "Requests sent to the Capgo API per second, by HTTP status (timeout and "
            "connection_error when no answer came).",
            Target(f"sum by (code) ({rate(REQUESTS)})", "{{code}}"),
            unit="reqps",
            stack=True,
        ),
        timeseries(
            "Requests by endpoint",
            "Requests sent to the Capgo API per second, by route template.",
            Target(f"sum by (endpoint) ({rate(REQUESTS)})", "{{endpoint}}"),
            unit="reqps",
            stack=True,
        ),
        timeseries(
            "Request rate against the budget",
            "Requests per minute sent to Capgo, and the budget the exporter spends at most "
            f"({FLAG_NAMES['requests_per_minute']}, default "
            f"{Settings.model_fields['requests_per_minute'].default}) so it never causes a "
            "429; a line flat at the budget means collectors wait for it.",
            Target(f"sum({rate(REQUESTS)}) * 60", "requests per minute"),
            Target(f"max({sel('capgo_exporter_api_budget_requests_per_minute')})", "budget"),
            unit="short",
        ),
        timeseries(
            "Error share",
            "Share of requests to Capgo that got no useful answer: a 5xx status, a timeout or "
            "a connection error.",
            # Error series appear with the first error: "or … * 0" gives 0 rather than no data.
            Target(
                f"(sum({errors}) or sum({rate(REQUESTS)}) * 0) / sum({rate(REQUESTS)})", "errors"
            ),
            unit="percentunit",
            defaults={"min": 0},
        ),
    ]


def api_latency() -> PanelGroup:
    """How long Capgo takes to answer, and what is retried."""
    quantiles = [
        Target(f"histogram_quantile({q}, sum by (le) ({rate(BUCKETS)}))", f"p{round(q * 100)}")
        for q in (0.5, 0.95, 0.99)
    ]
    return [
        timeseries(
            "Latency",
            "Quantiles of the duration of requests to the Capgo API, all endpoints.",
            *quantiles,
            unit="s",
        ),
        timeseries(
            "Latency p95 by endpoint",
            "95th percentile of request duration per route template.",
            Target(
                f"histogram_quantile(0.95, sum by (endpoint, le) ({rate(BUCKETS)}))",
                "{{endpoint}}",
            ),
            unit="s",
        ),
        timeseries(
            "Retries by reason",
            "Requests sent again per second, by reason (rate_limited, server_error, timeout, "
            "connection_error, malformed_response).",
            Target(f"sum by (reason) ({rate('capgo_exporter_api_retries_total')})", "{{reason}}"),
            unit="reqps",
            stack=True,
        ),
        timeseries(
            "Back-off by endpoint",
            "Seconds each request to a route waits before it is sent while Capgo keeps failing "
            "there; grows exponentially up to the shortest collector interval, 0 after a success.",
            Target(
                f"max by (endpoint) ({sel('capgo_exporter_api_backoff_seconds')})", "{{endpoint}}"
            ),
            unit="s",
        ),
        timeseries(
            "Circuit open",
            "1 while Capgo fails as a whole and the exporter sends nothing but a probe now and "
            "then (6 failed requests in a row opened it); 0 once a probe is answered.",
            Target(f"max by (instance) ({sel('capgo_exporter_api_circuit_open')})", "{{instance}}"),
            unit="short",
        ),
    ]


def process() -> PanelGroup:
    """The exporter process: devices it tracks, its memory and CPU."""
    return [
        timeseries(
            "Devices tracked",
            "Devices in the exporter's device index, per app.",
            Target(sel("capgo_exporter_devices_tracked"), "{{app_id}}"),
            unit="short",
        ),
        timeseries(
            "Resident memory",
            "Resident memory of the exporter process; it stays flat as fleets grow.",
            Target(sel("process_resident_memory_bytes"), "{{instance}}"),
            unit="bytes",
        ),
        timeseries(
            "CPU",
            "CPU used by the exporter process (1 = one core).",
            Target(rate("process_cpu_seconds_total"), "{{instance}}"),
            unit="percentunit",
        ),
    ]


# The dashboard, top to bottom.
PANEL_GROUPS: Final[tuple[Callable[[], PanelGroup], ...]] = (
    status,
    collector_runs,
    api_requests,
    api_latency,
    process,
)


def exporter(config: Config) -> Dashboard:
    return dashboard(
        UID_EXPORTER,
        "Capgo exporter",
        "capgo-exporter itself: its collectors, how fresh their data is, and its requests "
        "to the Capgo API.",
        job_variables(),
        [panel for group in PANEL_GROUPS for panel in group()],
        config,
        "now-6h",
    )
