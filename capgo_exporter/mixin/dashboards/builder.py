"""A small typed builder layer for Grafana panels, their layout and dashboards (schema 39).

Each function returns the JSON Grafana reads, typed by schema.py, with this project's
conventions filled in: the ``$datasource`` variable, base units, instant queries where only the
current value is shown. The panel-group functions of overview.py, app.py and exporter.py call
these with what differs from panel to panel: title, description, queries, unit, size.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from capgo_exporter.mixin.dashboards.queries import (
    DATASOURCE,
    GRID_WIDTH,
    SCHEMA_VERSION,
    TAGS,
    Config,
    Target,
)
from capgo_exporter.mixin.dashboards.schema import (
    BarGaugeOptions,
    Dashboard,
    DataLink,
    FieldDefaults,
    FieldOverride,
    Panel,
    PanelOptions,
    PanelType,
    PieChartOptions,
    PrometheusTarget,
    ReduceOptions,
    RowPanel,
    StatOptions,
    TableOptions,
    Threshold,
    Thresholds,
    TimeseriesCustom,
    TimeseriesOptions,
    Transformation,
    ValueMap,
    ValueMappingResult,
    Variable,
)

# (width, height) in grid units: 24 wide, a unit of height is about 30 pixels.
Size = tuple[int, int]

# --- panels ---------------------------------------------------------------------------------


def thresholds(*steps: tuple[str, float], base: str = "green") -> Thresholds:
    """``base`` below the first step, then each step's color from its value up."""
    return {
        "mode": "absolute",
        "steps": [Threshold(color=base, value=None)]
        + [Threshold(color=color, value=value) for color, value in steps],
    }


def usage_thresholds(config: Config) -> Thresholds:
    return thresholds(("orange", config.usage_warning), ("red", config.usage_critical))


def value_mappings(*shown: tuple[str, str]) -> list[ValueMap]:
    """Values 0, 1, … shown as the (color, text) pairs given, in that order."""
    options = {
        str(value): ValueMappingResult(color=color, index=value, text=text)
        for value, (color, text) in enumerate(shown)
    }
    return [{"type": "value", "options": options}]


UP_MAPPINGS: Final = value_mappings(("red", "down"), ("green", "up"))
REDUCE_LAST: Final[ReduceOptions] = {"calcs": ["lastNotNull"], "fields": "", "values": False}


def dashed(pattern: str) -> FieldOverride:
    """Series whose legend matches ``pattern`` (a regex, ``"/ limit$/"``) as dashed lines
    without fill: a limit beside the figure it caps."""
    return {
        "matcher": {"id": "byRegexp", "options": pattern},
        "properties": [
            {"id": "custom.lineStyle", "value": {"dash": [10, 10], "fill": "dash"}},
            {"id": "custom.fillOpacity", "value": 0},
        ],
    }


def prometheus_target(target: Target, ref_id: str, table: bool) -> PrometheusTarget:
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


def merged(base: FieldDefaults, extra: FieldDefaults | None) -> FieldDefaults:
    """``base`` updated with ``extra``: a key of both keeps its place and takes extra's value."""
    result = base.copy()
    result.update(extra or {})
    return result


def panel(
    kind: PanelType,
    title: str,
    description: str,
    targets: Sequence[Target],
    *,
    unit: str,
    size: Size,
    options: PanelOptions,
    defaults: FieldDefaults | None = None,
    overrides: Sequence[FieldOverride] = (),
    transformations: Sequence[Transformation] = (),
) -> Panel:
    """One panel; ``size`` is (width, height) in grid units, the position comes from layout()."""
    table = kind == "table"
    width, height = size
    result: Panel = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": {"h": height, "w": width, "x": 0, "y": 0},
        "fieldConfig": {
            "defaults": merged({"unit": unit, "color": {"mode": "palette-classic"}}, defaults),
            "overrides": list(overrides),
        },
        "options": options,
        "targets": [
            prometheus_target(target, string.ascii_uppercase[index], table)
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
    size: Size = (8, 8),
    stack: bool = False,
    overrides: Sequence[FieldOverride] = (),
    defaults: FieldDefaults | None = None,
) -> Panel:
    custom: TimeseriesCustom = {
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
        defaults=merged({"custom": custom}, defaults),
        overrides=overrides,
        options=TimeseriesOptions(
            legend={"displayMode": "list", "placement": "bottom", "showLegend": True},
            tooltip={"mode": "multi", "sort": "desc"},
        ),
    )


def stat(
    title: str,
    description: str,
    *targets: Target,
    unit: str,
    size: Size = (6, 4),
    defaults: FieldDefaults | None = None,
    sparkline: bool = True,
    text_mode: Literal["auto", "name"] = "auto",
) -> Panel:
    return panel(
        "stat",
        title,
        description,
        targets,
        unit=unit,
        size=size,
        defaults=merged({"thresholds": thresholds(), "color": {"mode": "thresholds"}}, defaults),
        options=StatOptions(
            colorMode="value",
            graphMode="area" if sparkline else "none",
            justifyMode="auto",
            orientation="auto",
            reduceOptions=REDUCE_LAST,
            textMode=text_mode,
        ),
    )


def date_stat(title: str, description: str, target: Target, *, size: Size) -> Panel:
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
    title: str, description: str, target: Target, steps: Thresholds, size: Size = (8, 7)
) -> Panel:
    """A bar per series on a 0-100 % scale."""
    return panel(
        "bargauge",
        title,
        description,
        [target],
        unit="percentunit",
        size=size,
        defaults={"thresholds": steps, "color": {"mode": "thresholds"}, "min": 0, "max": 1},
        options=BarGaugeOptions(
            displayMode="gradient",
            orientation="horizontal",
            reduceOptions=REDUCE_LAST,
            showUnfilled=True,
        ),
    )


def piechart(title: str, description: str, target: Target, *, size: Size = (8, 8)) -> Panel:
    return panel(
        "piechart",
        title,
        description,
        [target],
        unit="short",
        size=size,
        options=PieChartOptions(
            legend={
                "displayMode": "table",
                "placement": "right",
                "showLegend": True,
                "values": ["value", "percent"],
            },
            pieType="donut",
            reduceOptions=REDUCE_LAST,
            tooltip={"mode": "single", "sort": "none"},
        ),
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
    size: Size = (24, 8),
    links: Mapping[str, DataLink] | None = None,
) -> Panel:
    """Instant queries whose series share one label set, merged into one row per series.

    Only ``columns`` are shown, in order; target labels added by service discovery stay hidden.
    ``links`` adds a data link to the column of that title.
    """
    if len(targets) < 2:
        raise ValueError("a table merges at least two queries")  # value columns are "Value #X"
    return panel(
        "table",
        title,
        description,
        [Target(target.expr, target.legend, instant=True) for target in targets],
        unit="short",
        size=size,
        defaults={"custom": {"align": "auto", "filterable": True}},
        overrides=column_overrides(columns, links or {}),
        options=TableOptions(cellHeight="sm", showHeader=True, footer={"show": False}),
        transformations=table_transformations(columns),
    )


def column_overrides(
    columns: Sequence[Column], links: Mapping[str, DataLink]
) -> list[FieldOverride]:
    """Each column's unit, and the data link of the columns that have one."""
    units: list[FieldOverride] = [
        {
            "matcher": {"id": "byName", "options": column.title},
            "properties": [{"id": "unit", "value": column.unit}],
        }
        for column in columns
        if column.unit
    ]
    return units + [
        {
            "matcher": {"id": "byName", "options": name},
            "properties": [{"id": "links", "value": [link]}],
        }
        for name, link in links.items()
    ]


def table_transformations(columns: Sequence[Column]) -> list[Transformation]:
    """Merge the queries into rows, keep ``columns`` only, in order, under their titles."""
    return [
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
    ]


def row(title: str) -> RowPanel:
    return {
        "type": "row",
        "title": title,
        "collapsed": False,
        "panels": [],
        "gridPos": {"h": 1, "w": GRID_WIDTH, "x": 0, "y": 0},
    }


PanelGroup = list[Panel | RowPanel]


def layout(panels: Iterable[Panel | RowPanel]) -> PanelGroup:
    """Number the panels and place them left to right, wrapping at the grid's width."""
    placed: PanelGroup = []
    x = y = line_height = 0
    for panel_id, original in enumerate(panels, start=1):
        item = original.copy()
        width, height = item["gridPos"]["w"], item["gridPos"]["h"]
        if item["type"] == "row" or x + width > GRID_WIDTH:
            x, y, line_height = 0, y + line_height, 0
        item["id"] = panel_id
        item["gridPos"] = {"h": height, "w": width, "x": x, "y": y}
        x, line_height = x + width, max(line_height, height)
        placed.append(item)
    return placed


# --- dashboards -----------------------------------------------------------------------------

UID_OVERVIEW: Final = "capgo-overview"
UID_APP: Final = "capgo-app"
UID_EXPORTER: Final = "capgo-exporter"


def dashboard(
    uid: str,
    title: str,
    description: str,
    variables: list[Variable],
    panels: Iterable[Panel | RowPanel],
    config: Config,
    time_from: str,
) -> Dashboard:
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
