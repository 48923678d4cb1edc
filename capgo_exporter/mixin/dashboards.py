"""Grafana dashboards of the mixin, as Python, and their renderer.

    python -m capgo_exporter.mixin.dashboards [--out DIR] [--usage-warning R] [--usage-critical R]

Three dashboards: **Capgo overview** (plan usage per organization, cycle-to-date figures, apps),
**Capgo app** (devices, channels, rollouts and bundles of one app) and **Capgo exporter** (the
exporter's collectors and its calls to the Capgo API).

Conventions (the grafana/dashboard-linter rules, checked by ``tests/mixin/test_dashboards.py``):
every panel and query uses the ``$datasource`` variable, never a fixed datasource uid, so the
files work under file provisioning and on grafana.com alike; every series selector narrows on
``job=~"$job",instance=~"$instance"``; every ``rate()`` uses ``$__rate_interval``; values stay in
base units (bytes, seconds, ratios 0-1, timestamps in milliseconds) and Grafana formats them.
Every query returns data on the simulator (``capgo-exporter --demo``), which the end-to-end
tests check through :func:`panel_queries` and :func:`substitute`.
"""

from __future__ import annotations

import argparse
import json
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from capgo_exporter.metrics import APP_DEVICES, CHANNEL_INFO
from capgo_exporter.mixin import rules
from capgo_exporter.settings import FLAG_NAMES, Settings

Json = dict[str, Any]

DATASOURCE: Final[Json] = {"type": "prometheus", "uid": "${datasource}"}
SCHEMA_VERSION: Final = 39
TAGS: Final = ["capgo"]
GRID_WIDTH: Final = 24

# Every selector carries these two matchers; the others add org or app.
BASE_MATCHERS: Final = ('job=~"$job"', 'instance=~"$instance"')
ORG: Final = 'org_id=~"$org"'
APP: Final = 'app_id=~"$app"'
RATE: Final = "$__rate_interval"

# Values that make every query of these dashboards valid PromQL matching every series: what a
# test or a script puts in place of the dashboard variables (see substitute()).
WILDCARDS: Final[Mapping[str, str]] = {
    "job": ".*",
    "instance": ".*",
    "org": ".*",
    "app": ".*",
    "__rate_interval": "5m",
    "__interval": "1m",
    "__range": "1h",
}


@dataclass(frozen=True)
class Config:
    """What a user may change when rendering their own dashboards."""

    # Usage against a plan limit turns orange, then red, at these ratios (the alerts' thresholds).
    usage_warning: float = rules.Config.usage_warning
    usage_critical: float = rules.Config.usage_critical
    refresh: str = "1m"


# --- queries --------------------------------------------------------------------------------


def sel(metric: str, *matchers: str) -> str:
    """``metric{job=~"$job",instance=~"$instance",…}``."""
    return f"{metric}{{{','.join((*BASE_MATCHERS, *matchers))}}}"


def with_info(expr: str, info: str, on: str, labels: str, *matchers: str) -> str:
    """``expr`` with ``labels`` copied from the info metric (value 1), joined on ``on``.

    Also filters: series whose info is not selected by ``matchers`` drop out.
    """
    return f"{expr} * on (job, instance, {on}) group_left ({labels}) {sel(info, *matchers)}"


def with_org_name(expr: str) -> str:
    return with_info(expr, "capgo_org_info", "org_id", "org_name", ORG)


def with_app_name(expr: str) -> str:
    return with_info(expr, "capgo_app_info", "app_id", "app_name, org_id", ORG)


def app_total(metric: str) -> str:
    """``metric`` summed over the selected app's series."""
    return f"sum({sel(metric, APP)})"


def rate(metric: str, *matchers: str) -> str:
    return f"rate({sel(metric, *matchers)}[{RATE}])"


def without(labels: str, expr: str) -> str:
    """``expr`` without ``labels`` nor its metric name, other labels kept.

    Table rows merge on identical label sets: ``without`` keeps the labels service discovery
    adds (namespace, pod…) where ``by`` would drop them from some queries and not others.
    """
    return f"max without ({labels}) ({expr})"


def ms(expr: str) -> str:
    """A timestamp in seconds as milliseconds, what Grafana's date units expect."""
    return f"{expr} * 1000"


@dataclass(frozen=True)
class Target:
    expr: str
    legend: str = "__auto"
    # Tables, bar gauges and pie charts show the current value: an instant query is cheaper.
    instant: bool = False


def _target(target: Target, ref_id: str, table: bool) -> Json:
    return {
        "datasource": DATASOURCE,
        "editorMode": "code",
        "expr": target.expr,
        "format": "table" if table else "time_series",
        "instant": target.instant,
        "legendFormat": target.legend,
        "range": not target.instant,
        "refId": ref_id,
    }


# --- panels ---------------------------------------------------------------------------------


def thresholds(*steps: tuple[str, float], base: str = "green") -> Json:
    return {
        "mode": "absolute",
        "steps": [{"color": base, "value": None}]
        + [{"color": color, "value": value} for color, value in steps],
    }


def usage_thresholds(config: Config) -> Json:
    return thresholds(("orange", config.usage_warning), ("red", config.usage_critical))


def value_mappings(*shown: tuple[str, str]) -> list[Json]:
    """Values 0, 1, … shown as the (color, text) pairs given, in that order."""
    options = {
        str(value): {"color": color, "index": value, "text": text}
        for value, (color, text) in enumerate(shown)
    }
    return [{"type": "value", "options": options}]


UP_MAPPINGS: Final = value_mappings(("red", "down"), ("green", "up"))
REDUCE_LAST: Final = {"calcs": ["lastNotNull"], "fields": "", "values": False}


def panel(
    kind: str,
    title: str,
    description: str,
    targets: Sequence[Target],
    *,
    unit: str,
    size: tuple[int, int],
    options: Json | None = None,
    defaults: Json | None = None,
    overrides: Sequence[Json] = (),
    transformations: Sequence[Json] = (),
) -> Json:
    """One panel; ``size`` is (width, height) in grid units, the position comes from layout()."""
    table = kind == "table"
    width, height = size
    result: Json = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": {"h": height, "w": width, "x": 0, "y": 0},
        "fieldConfig": {
            "defaults": {"unit": unit, "color": {"mode": "palette-classic"}} | (defaults or {}),
            "overrides": list(overrides),
        },
        "options": options or {},
        "targets": [
            _target(target, string.ascii_uppercase[index], table)
            for index, target in enumerate(targets)
        ],
    }
    if transformations:
        result["transformations"] = list(transformations)
    return result


def timeseries(
    title: str,
    description: str,
    *targets: Target,
    unit: str,
    size: tuple[int, int] = (8, 8),
    stack: bool = False,
    overrides: Sequence[Json] = (),
    defaults: Json | None = None,
) -> Json:
    custom = {
        "drawStyle": "line",
        "lineWidth": 1,
        "fillOpacity": 25 if stack else 10,
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"group": "A", "mode": "normal" if stack else "none"},
    }
    return panel(
        "timeseries",
        title,
        description,
        targets,
        unit=unit,
        size=size,
        defaults={"custom": custom} | (defaults or {}),
        overrides=overrides,
        options={
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    )


def stat(
    title: str,
    description: str,
    *targets: Target,
    unit: str,
    size: tuple[int, int] = (6, 4),
    defaults: Json | None = None,
    sparkline: bool = True,
    text_mode: str = "auto",
) -> Json:
    return panel(
        "stat",
        title,
        description,
        targets,
        unit=unit,
        size=size,
        defaults={"thresholds": thresholds(), "color": {"mode": "thresholds"}} | (defaults or {}),
        options={
            "colorMode": "value",
            "graphMode": "area" if sparkline else "none",
            "justifyMode": "auto",
            "orientation": "auto",
            "reduceOptions": REDUCE_LAST,
            "textMode": text_mode,
        },
    )


def date_stat(title: str, description: str, target: Target, *, size: tuple[int, int]) -> Json:
    """A timestamp, as a date relative to now; ``target`` gives it in milliseconds (ms())."""
    return stat(
        title,
        description,
        target,
        unit="dateTimeFromNow",
        size=size,
        defaults={"decimals": 0},
        sparkline=False,
    )


def ratio_bargauge(
    title: str, description: str, target: Target, steps: Json, size: tuple[int, int] = (8, 7)
) -> Json:
    """A bar per series on a 0-100 % scale."""
    return panel(
        "bargauge",
        title,
        description,
        [target],
        unit="percentunit",
        size=size,
        defaults={"thresholds": steps, "color": {"mode": "thresholds"}, "min": 0, "max": 1},
        options={
            "displayMode": "gradient",
            "orientation": "horizontal",
            "reduceOptions": REDUCE_LAST,
            "showUnfilled": True,
        },
    )


def piechart(
    title: str, description: str, target: Target, *, size: tuple[int, int] = (8, 8)
) -> Json:
    return panel(
        "piechart",
        title,
        description,
        [target],
        unit="short",
        size=size,
        options={
            "legend": {
                "displayMode": "table",
                "placement": "right",
                "showLegend": True,
                "values": ["value", "percent"],
            },
            "pieType": "donut",
            "reduceOptions": REDUCE_LAST,
            "tooltip": {"mode": "single", "sort": "none"},
        },
    )


@dataclass(frozen=True)
class Column:
    """A table column: a label, or the value of one of the table's queries (``"#B"``)."""

    field: str
    title: str
    unit: str | None = None

    @property
    def source(self) -> str:
        # With several queries, Grafana names each query's value column "Value #<refId>".
        return f"Value {self.field}" if self.field.startswith("#") else self.field


def table(
    title: str,
    description: str,
    targets: Sequence[Target],
    columns: Sequence[Column],
    *,
    size: tuple[int, int] = (24, 8),
    links: Mapping[str, Json] | None = None,
) -> Json:
    """Instant queries whose series share one label set, merged into one row per series.

    Only ``columns`` are shown, in order; target labels added by service discovery stay hidden.
    ``links`` adds a data link to the column of that title.
    """
    if len(targets) < 2:
        raise ValueError("a table merges at least two queries")  # value columns are "Value #X"
    overrides = [
        {
            "matcher": {"id": "byName", "options": column.title},
            "properties": [{"id": "unit", "value": column.unit}],
        }
        for column in columns
        if column.unit
    ] + [
        {
            "matcher": {"id": "byName", "options": name},
            "properties": [{"id": "links", "value": [link]}],
        }
        for name, link in (links or {}).items()
    ]
    return panel(
        "table",
        title,
        description,
        [Target(target.expr, target.legend, instant=True) for target in targets],
        unit="short",
        size=size,
        defaults={"custom": {"align": "auto", "filterable": True}},
        overrides=overrides,
        options={"cellHeight": "sm", "showHeader": True, "footer": {"show": False}},
        transformations=[
            {"id": "merge", "options": {}},
            {
                "id": "filterFieldsByName",
                "options": {"include": {"names": [column.source for column in columns]}},
            },
            {
                "id": "organize",
                "options": {
                    "indexByName": {column.source: i for i, column in enumerate(columns)},
                    "renameByName": {column.source: column.title for column in columns},
                },
            },
        ],
    )


def row(title: str) -> Json:
    return {
        "type": "row",
        "title": title,
        "collapsed": False,
        "panels": [],
        "gridPos": {"h": 1, "w": GRID_WIDTH, "x": 0, "y": 0},
    }


def layout(panels: Iterable[Json]) -> list[Json]:
    """Number the panels and place them left to right, wrapping at the grid's width."""
    placed: list[Json] = []
    x = y = line_height = 0
    for panel_id, original in enumerate(panels, start=1):
        item = dict(original)
        width, height = item["gridPos"]["w"], item["gridPos"]["h"]
        if item["type"] == "row" or x + width > GRID_WIDTH:
            x, y, line_height = 0, y + line_height, 0
        item["id"] = panel_id
        item["gridPos"] = {"h": height, "w": width, "x": x, "y": y}
        x, line_height = x + width, max(line_height, height)
        placed.append(item)
    return placed


# --- variables ------------------------------------------------------------------------------


def datasource_variable() -> Json:
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "includeAll": False,
        "multi": False,
        "options": [],
        "refresh": 1,
        "regex": "",
    }


def query_variable(
    name: str, label: str, query: str, *, regex: str = "", multi: bool = True
) -> Json:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "definition": query,
        "query": query,
        "current": {},
        "hide": 0,
        "includeAll": multi,
        "multi": multi,
        # ".*" rather than Grafana's list of every value: shorter queries, and a series that
        # appears after the dashboard loaded is still shown.
        "allValue": ".*" if multi else None,
        "options": [],
        # 2: on time range change, so a new org or app appears without reloading.
        "refresh": 2,
        "regex": regex,
        "sort": 1,
    }


def job_variables() -> list[Json]:
    return [
        datasource_variable(),
        query_variable("job", "Job", "label_values(capgo_exporter_build_info, job)"),
        query_variable(
            "instance",
            "Instance",
            'label_values(capgo_exporter_build_info{job=~"$job"}, instance)',
        ),
    ]


def org_variable() -> Json:
    # query_result + named groups: the picker shows org names and the queries get org ids.
    # Labels come sorted, so org_id comes before org_name in each result line.
    return query_variable(
        "org",
        "Organization",
        f"query_result({sel('capgo_org_info')})",
        regex='/org_id="(?<value>[^"]+)".*org_name="(?<text>[^"]+)"/',
    )


def app_variable() -> Json:
    return query_variable(
        "app",
        "App",
        f"label_values({sel('capgo_app_info', ORG)}, app_id)",
        multi=False,
    )


# --- dashboards -----------------------------------------------------------------------------

UID_OVERVIEW: Final = "capgo-overview"
UID_APP: Final = "capgo-app"
UID_EXPORTER: Final = "capgo-exporter"


def dashboard(
    uid: str,
    title: str,
    description: str,
    variables: list[Json],
    panels: Iterable[Json],
    config: Config,
    time_from: str,
) -> Json:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": TAGS,
        "id": None,
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "refresh": config.refresh,
        "time": {"from": time_from, "to": "now"},
        "timepicker": {},
        "timezone": "",
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "weekStart": "",
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        # The other Capgo dashboards, keeping the time range and the selected variables.
        "links": [
            {
                "asDropdown": False,
                "includeVars": True,
                "keepTime": True,
                "tags": TAGS,
                "targetBlank": False,
                "title": "Capgo",
                "type": "dashboards",
            }
        ],
        "templating": {"list": variables},
        "panels": layout(panels),
    }


def _usage_panels(config: Config) -> list[Json]:
    """Plan usage against the configured limits, per organization."""
    usage = [
        (
            "Monthly active users",
            "capgo_org_monthly_active_users",
            "capgo_org_monthly_active_users_limit",
            "short",
            FLAG_NAMES["plan_mau_limit"],
        ),
        (
            "Storage",
            "capgo_org_storage_bytes",
            "capgo_org_storage_limit_bytes",
            "bytes",
            FLAG_NAMES["plan_storage_limit_bytes"],
        ),
        (
            "Bandwidth",
            "capgo_org_bandwidth_bytes",
            "capgo_org_bandwidth_limit_bytes",
            "bytes",
            FLAG_NAMES["plan_bandwidth_limit_bytes"],
        ),
    ]
    ratios = [
        ratio_bargauge(
            f"{name} of plan",
            f"{name} used in the current billing cycle as a share of the plan limit ({env}). "
            f"Orange from {config.usage_warning:.0%}, red from {config.usage_critical:.0%}. "
            "Empty when no limit is configured.",
            Target(
                with_org_name(f"{sel(used, ORG)} / {sel(limit, ORG)}"), "{{org_name}}", instant=True
            ),
            usage_thresholds(config),
        )
        for name, used, limit, _, env in usage
    ]
    # The limit as a dashed line next to the usage it caps.
    limit_style = {
        "matcher": {"id": "byRegexp", "options": "/ limit$/"},
        "properties": [
            {"id": "custom.lineStyle", "value": {"dash": [10, 10], "fill": "dash"}},
            {"id": "custom.fillOpacity", "value": 0},
        ],
    }
    trends = [
        timeseries(
            f"{name} over time",
            f"{name} per organization over time, cycle to date, with the plan limit when one "
            "is configured (dashed). The figures restart at each billing cycle.",
            Target(with_org_name(sel(used, ORG)), "{{org_name}}"),
            Target(with_org_name(sel(limit, ORG)), "{{org_name}} limit"),
            unit=unit,
            overrides=[limit_style],
        )
        for name, used, limit, unit, _ in usage
    ]
    return [row("Plan usage"), *ratios, *trends]


def _cycle_panels() -> list[Json]:
    """The billing cycle's figures so far, per organization."""

    def cycle_stat(title: str, metric: str, unit: str, what: str) -> Json:
        return stat(
            title,
            f"{what} per organization in the current billing cycle so far.",
            Target(with_org_name(sel(metric, ORG)), "{{org_name}}"),
            unit=unit,
        )

    start = sel("capgo_org_billing_cycle_start_timestamp_seconds", ORG)
    end = sel("capgo_org_billing_cycle_end_timestamp_seconds", ORG)
    return [
        row("Billing cycle to date"),
        cycle_stat(
            "Monthly active users", "capgo_org_monthly_active_users", "short", "Distinct devices"
        ),
        cycle_stat("Storage", "capgo_org_storage_bytes", "bytes", "Bytes of bundles stored now"),
        cycle_stat("Bandwidth", "capgo_org_bandwidth_bytes", "bytes", "Bytes downloaded"),
        cycle_stat("Build time", "capgo_org_build_time_seconds", "s", "Native build time used"),
        date_stat(
            "Cycle started",
            "Start of the billing cycle the figures count from "
            f"({FLAG_NAMES['billing_cycle_start_day']}, UTC midnight).",
            Target(with_org_name(ms(start)), "{{org_name}}"),
            size=(8, 4),
        ),
        date_stat(
            "Cycle ends",
            "End of the current billing cycle, when usage figures restart from zero.",
            Target(with_org_name(ms(end)), "{{org_name}}"),
            size=(8, 4),
        ),
        stat(
            "Cycle elapsed",
            "Share of the billing cycle already past. Usage of plan well above this share "
            "means the limit will be reached before the cycle ends.",
            Target(with_org_name(f"(time() - {start}) / ({end} - {start})"), "{{org_name}}"),
            unit="percentunit",
            size=(8, 4),
            defaults={"min": 0, "max": 1, "decimals": 0},
        ),
    ]


def _apps_panels() -> list[Json]:
    def app_value(metric: str) -> str:
        return with_app_name(sel(metric))

    app_link = {
        "title": "Open the app's dashboard",
        "url": f"/d/{UID_APP}/capgo-app?${{__url_time_range}}&${{datasource:queryparam}}"
        "&${job:queryparam}&${instance:queryparam}"
        "&var-org=${__data.fields.org_id}&var-app=${__data.fields.app_id}",
    }
    # Per organization: its info joined onto each count so all rows share one label set.
    org_rows = [
        Target(without("", sel("capgo_org_info", ORG))),
        Target(with_org_name(f"sum without (role) ({sel('capgo_org_members', ORG)})")),
        Target(with_org_name(sel("capgo_org_pending_invitations", ORG))),
        Target(with_org_name(f"count without (app_id, app_name) ({sel('capgo_app_info', ORG)})")),
    ]
    return [
        row("Apps"),
        timeseries(
            "Monthly active users by app",
            "Monthly active users per app, cycle to date, stacked: which apps use the plan.",
            Target(app_value("capgo_app_monthly_active_users"), "{{app_name}}"),
            unit="short",
            size=(12, 8),
            stack=True,
        ),
        timeseries(
            "Bandwidth by app",
            "Bytes downloaded per app, cycle to date, stacked.",
            Target(app_value("capgo_app_bandwidth_bytes"), "{{app_name}}"),
            unit="bytes",
            size=(12, 8),
            stack=True,
        ),
        table(
            "Apps",
            "Every app of the selected organizations with its cycle-to-date usage, its bundles "
            "and the devices the exporter tracks. The app id opens the app's dashboard.",
            [
                Target(without("", sel("capgo_app_info", ORG))),
                Target(app_value("capgo_app_monthly_active_users")),
                Target(app_value("capgo_app_storage_bytes")),
                Target(app_value("capgo_app_bandwidth_bytes")),
                Target(app_value("capgo_app_bundles")),
                Target(ms(app_value("capgo_app_latest_bundle_created_timestamp_seconds"))),
                Target(app_value("capgo_exporter_devices_tracked")),
            ],
            [
                Column("app_name", "App"),
                Column("app_id", "App id"),
                Column("org_id", "Organization id"),
                Column("#B", "MAU", "short"),
                Column("#C", "Storage", "bytes"),
                Column("#D", "Bandwidth", "bytes"),
                Column("#E", "Live bundles", "short"),
                Column("#F", "Latest bundle", "dateTimeFromNow"),
                Column("#G", "Devices tracked", "short"),
            ],
            links={"App id": app_link},
        ),
        table(
            "Organizations",
            "Members per organization (pending invitations apart) and apps.",
            org_rows,
            [
                Column("org_name", "Organization"),
                Column("org_id", "Organization id"),
                Column("#B", "Members", "short"),
                Column("#C", "Pending invitations", "short"),
                Column("#D", "Apps", "short"),
            ],
            size=(14, 7),
        ),
        date_stat(
            "API keys expire",
            "Expiry of the API keys that have one (needs a key allowed to list keys). "
            "Rotate a key before it expires, or the exporter stops.",
            Target(ms(sel("capgo_apikey_expiry_timestamp_seconds")), "{{apikey_name}}"),
            size=(10, 7),
        ),
    ]


def overview(config: Config) -> Json:
    return dashboard(
        UID_OVERVIEW,
        "Capgo overview",
        "Capgo organizations: plan usage (MAU, storage, bandwidth) against the limits, the "
        "billing cycle so far, and their apps.",
        [*job_variables(), org_variable()],
        [*_usage_panels(config), *_cycle_panels(), *_apps_panels()],
        config,
        "now-7d",
    )


def _app_devices_panels() -> list[Json]:
    def devices(by: str, metric: str = "capgo_app_devices") -> str:
        return f"sum by ({by}) ({sel(metric, APP)})"

    def app_stat(title: str, description: str, metric: str, legend: str, unit: str) -> Json:
        return stat(title, description, Target(app_total(metric), legend), unit=unit, size=(4, 4))

    windows = {"1d": "day", "7d": "7 days", "30d": "30 days"}
    seen = [
        Target(app_total(f"capgo_app_devices_seen_{window}"), f"last {label}")
        for window, label in windows.items()
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
        app_stat(
            "Devices tracked",
            "Devices Capgo knows for the app, in the exporter's device index.",
            "capgo_exporter_devices_tracked",
            "devices",
            "short",
        ),
        app_stat(
            "Monthly active users",
            "Monthly active users of the app in the current billing cycle so far.",
            "capgo_app_monthly_active_users",
            "MAU",
            "short",
        ),
        app_stat(
            "Storage",
            "Bytes of bundles the app stores now.",
            "capgo_app_storage_bytes",
            "storage",
            "bytes",
        ),
        app_stat(
            "Bandwidth",
            "Bytes downloaded from the app in the current billing cycle so far.",
            "capgo_app_bandwidth_bytes",
            "bandwidth",
            "bytes",
        ),
        timeseries(
            "Devices by bundle",
            "Devices by the bundle they run, stacked. A new bundle's share grows as devices "
            'update; bundles past the per-app limit fold into "other".',
            Target(devices("bundle"), "{{bundle}}"),
            unit="short",
            size=(16, 8),
            stack=True,
        ),
        piechart(
            "Devices by platform",
            "Devices by platform.",
            Target(devices("platform"), "{{platform}}", instant=True),
        ),
        piechart(
            "Devices by native version",
            "Devices by native build (version_build): the binary from the app stores.",
            Target(
                devices("native_version", "capgo_app_devices_by_native_version"),
                "{{native_version}}",
                instant=True,
            ),
        ),
        piechart(
            "Devices by updater plugin version",
            "Devices by version of the Capacitor updater plugin they run.",
            Target(
                devices("plugin_version", "capgo_app_devices_by_plugin_version"),
                "{{plugin_version}}",
                instant=True,
            ),
        ),
        piechart(
            "Production and development devices",
            "Devices by build type (is_prod) and whether they are emulators.",
            Target(
                devices("is_prod, is_emulator"),
                "production={{is_prod}}, emulator={{is_emulator}}",
                instant=True,
            ),
        ),
        timeseries(
            "Devices on the built-in bundle",
            "Devices still running the bundle shipped inside the binary, never updated by "
            "Capgo, by platform.",
            Target(devices("platform", "capgo_app_devices_on_builtin"), "{{platform}}"),
            unit="short",
        ),
        timeseries(
            "Devices seen by platform",
            "Devices that checked in within the last day, 7 days and 30 days, by platform.",
            *(
                Target(
                    devices("platform", f"capgo_app_devices_seen_{window}"),
                    f"{{{{platform}}}} {window}",
                )
                for window in windows
            ),
            unit="short",
            size=(16, 8),
        ),
    ]


def _app_channel_panels() -> list[Json]:
    # Every query joined onto the channel's settings, so the table's rows share one label set;
    # the info's other labels are dropped from its own row.
    keys = ("app_id", "channel")
    shown = ("bundle", "public", "allow_device_self_set", "disable_auto_update")
    hidden = [label for label in CHANNEL_INFO.labels if label not in (*keys, *shown)]

    def channel_value(expr: str) -> str:
        return with_info(expr, "capgo_channel_info", ", ".join(keys), ", ".join(shown), APP)

    adoption = sel("capgo_channel_bundle_adoption_ratio", APP)
    return [
        row("Channels and rollouts"),
        ratio_bargauge(
            "Adoption per channel",
            "Share of the devices each channel serves that run its current bundle. Low after "
            "a release is expected; low for long means devices do not update.",
            Target(adoption, "{{channel}}", instant=True),
            thresholds(("yellow", 0.5), ("green", 0.8), base="red"),
            size=(8, 8),
        ),
        timeseries(
            "Adoption per channel over time",
            "Share of each channel's devices on its current bundle; it drops when a channel "
            "gets a new bundle and climbs as devices update.",
            Target(adoption, "{{channel}}"),
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
        table(
            "Channels",
            "Each channel with its current bundle, settings, rollout and last change.",
            [
                Target(without(", ".join(hidden), sel("capgo_channel_info", APP))),
                Target(channel_value(adoption)),
                Target(channel_value(sel("capgo_channel_rollout_ratio", APP))),
                Target(channel_value(sel("capgo_channel_rollout_paused", APP))),
                Target(channel_value(sel("capgo_app_devices_channel_override", APP))),
                Target(channel_value(ms(sel("capgo_channel_updated_timestamp_seconds", APP)))),
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


def _app_bundle_panels() -> list[Json]:
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


def app(config: Config) -> Json:
    return dashboard(
        UID_APP,
        "Capgo app",
        "One Capgo app: its devices by bundle, platform, native and plugin version; adoption "
        "and rollouts per channel; its bundles.",
        [*job_variables(), org_variable(), app_variable()],
        [*_app_devices_panels(), *_app_channel_panels(), *_app_bundle_panels()],
        config,
        "now-24h",
    )


def _exporter_status_panels() -> list[Json]:
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
            "Version of capgo-exporter and of Python running it.",
            Target(sel("capgo_exporter_build_info"), "{{version}} (Python {{python_version}})"),
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
        timeseries(
            "Data age per collector",
            "Time since each collector last succeeded: how stale the served figures are. It "
            "grows past the collector's interval when Capgo cannot be read.",
            Target(
                f"time() - {sel('capgo_exporter_collector_last_success_timestamp_seconds')}",
                "{{collector}}",
            ),
            unit="s",
            size=(12, 8),
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


def _exporter_api_panels() -> list[Json]:
    requests = "capgo_exporter_api_requests_total"
    # As the alerts count them: a 4xx is an answer (a permission the key lacks, an empty page).
    errors = rate(requests, rules.ERROR_CODES)
    buckets = "capgo_exporter_api_request_duration_seconds_bucket"
    quantiles = [
        Target(f"histogram_quantile({q}, sum by (le) ({rate(buckets)}))", f"p{round(q * 100)}")
        for q in (0.5, 0.95, 0.99)
    ]
    return [
        row("Capgo API"),
        timeseries(
            "Requests by status",
            "Requests sent to the Capgo API per second, by HTTP status (timeout and "
            "connection_error when no answer came).",
            Target(f"sum by (code) ({rate(requests)})", "{{code}}"),
            unit="reqps",
            stack=True,
        ),
        timeseries(
            "Requests by endpoint",
            "Requests sent to the Capgo API per second, by route template.",
            Target(f"sum by (endpoint) ({rate(requests)})", "{{endpoint}}"),
            unit="reqps",
            stack=True,
        ),
        timeseries(
            "Request rate against the budget",
            "Requests per minute sent to Capgo. The exporter spends at most "
            f"{FLAG_NAMES['requests_per_minute']} "
            f"(default {Settings.model_fields['requests_per_minute'].default}) so it never "
            "causes a 429; a line flat at the budget means collectors wait for it.",
            Target(f"sum({rate(requests)}) * 60", "requests per minute"),
            unit="short",
        ),
        timeseries(
            "Error share",
            "Share of requests to Capgo that got no useful answer: a 5xx status, a timeout or "
            "a connection error.",
            # Error series appear with the first error: "or … * 0" gives 0 rather than no data.
            Target(
                f"(sum({errors}) or sum({rate(requests)}) * 0) / sum({rate(requests)})", "errors"
            ),
            unit="percentunit",
            defaults={"min": 0},
        ),
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
                f"histogram_quantile(0.95, sum by (endpoint, le) ({rate(buckets)}))",
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


def exporter(config: Config) -> Json:
    return dashboard(
        UID_EXPORTER,
        "Capgo exporter",
        "capgo-exporter itself: its collectors, how fresh their data is, and its requests "
        "to the Capgo API.",
        job_variables(),
        [*_exporter_status_panels(), *_exporter_api_panels()],
        config,
        "now-6h",
    )


def dashboards(config: Config = Config()) -> dict[str, Json]:
    """File name → dashboard."""
    return {
        "capgo-overview.json": overview(config),
        "capgo-app.json": app(config),
        "capgo-exporter.json": exporter(config),
    }


def render(dashboard_json: Json) -> str:
    return json.dumps(dashboard_json, indent=2, ensure_ascii=False) + "\n"


# --- what tests and scripts read ------------------------------------------------------------


def panels_of(dashboard_json: Json) -> list[Json]:
    """Every panel, those inside collapsed rows included."""
    found: list[Json] = []
    for item in dashboard_json["panels"]:
        found.append(item)
        found.extend(item.get("panels", []))
    return found


def panel_queries(dashboard_json: Json) -> list[tuple[str, str]]:
    """(panel title, PromQL expression) of every query, dashboard variables left in."""
    return [
        (item["title"], target["expr"])
        for item in panels_of(dashboard_json)
        for target in item.get("targets", [])
    ]


_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


def substitute(expr: str, variables: Mapping[str, str]) -> str:
    """``expr`` with each ``$name`` or ``${name}`` replaced by ``variables[name]``.

    Names are given without the dollar (``{"job": ".*", "__rate_interval": "5m"}``; see
    WILDCARDS). A variable missing from ``variables`` raises KeyError rather than sending a
    literal ``$name`` to Prometheus.
    """
    return _VARIABLE.sub(lambda match: variables[match.group(1) or match.group(2)], expr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m capgo_exporter.mixin.dashboards",
        description="Render the Capgo Grafana dashboards as JSON files.",
    )
    parser.add_argument("--out", type=Path, default=Path("grafana/dashboards"), help="directory")
    parser.add_argument("--usage-warning", type=float, default=Config.usage_warning)
    parser.add_argument("--usage-critical", type=float, default=Config.usage_critical)
    parser.add_argument("--refresh", default=Config.refresh, help="auto-refresh, e.g. 1m")
    args = parser.parse_args(argv)
    config = Config(args.usage_warning, args.usage_critical, args.refresh)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, dashboard_json in dashboards(config).items():
        (args.out / name).write_text(render(dashboard_json), encoding="utf-8")
        print(args.out / name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
