"""A small builder layer for Grafana panels, variables and dashboards (schema version 39)."""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from capgo_exporter.mixin.dashboards.queries import (
    DATASOURCE,
    GRID_WIDTH,
    ORG,
    SCHEMA_VERSION,
    TAGS,
    Config,
    Json,
    Target,
    _target,
    sel,
)

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
