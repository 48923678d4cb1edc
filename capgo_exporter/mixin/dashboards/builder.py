"""A small typed builder layer for Grafana panels (schema 39): the panel kinds the dashboards use.

Each function returns the JSON Grafana reads, typed by schema.py, with this project's
conventions filled in: the ``$datasource`` variable, base units, instant queries where only the
current value is shown. The panel-group functions of overview.py, app.py, exporter.py and
release_health.py call these with what differs from panel to panel: title, description,
queries, unit, size. Tables are in tables.py; rows, their layout and the dashboard around them
in layout.py.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Final, Literal

from capgo_exporter.mixin.dashboards.queries import DATASOURCE, Config, Target
from capgo_exporter.mixin.dashboards.schema import (
    BarGaugeOptions,
    FieldDefaults,
    FieldOverride,
    Panel,
    PanelOptions,
    PanelType,
    PieChartOptions,
    PrometheusTarget,
    ReduceOptions,
    StatOptions,
    Threshold,
    Thresholds,
    TimeseriesCustom,
    TimeseriesOptions,
    Transformation,
    ValueMap,
    ValueMappingResult,
)

# (width, height) in grid units: 24 wide, a unit of height is about 30 pixels.
Size = tuple[int, int]


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
