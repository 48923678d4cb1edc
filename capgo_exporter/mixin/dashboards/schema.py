"""The part of Grafana's dashboard JSON (schema version 39) these dashboards write, as types.

Field names are Grafana's own (camelCase, as in its dashboard schema and grafana-foundation-sdk's
models), so a literal written against these types is the JSON Grafana reads, key for key: the
renderer dumps the dictionaries as they are. Literal types list the values we use, not all that
Grafana accepts; widen one when a panel needs another.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict


class DataSourceRef(TypedDict):
    type: str
    uid: str


class GridPos(TypedDict):
    h: int
    w: int
    x: int
    y: int


# --- field config ---------------------------------------------------------------------------


class Threshold(TypedDict):
    color: str
    value: float | None  # None: the base step, from minus infinity


class Thresholds(TypedDict):
    mode: Literal["absolute"]
    steps: list[Threshold]


class ValueMappingResult(TypedDict):
    color: str
    index: int
    text: str


class ValueMap(TypedDict):
    type: Literal["value"]
    options: dict[str, ValueMappingResult]  # the value, as a string → how it is shown


class FieldColor(TypedDict):
    mode: Literal["palette-classic", "thresholds"]


class Stacking(TypedDict):
    group: str
    mode: Literal["none", "normal"]


class TimeseriesCustom(TypedDict):
    drawStyle: Literal["line"]
    lineWidth: int
    fillOpacity: int
    showPoints: Literal["never"]
    spanNulls: bool
    stacking: Stacking


class TableCustom(TypedDict):
    align: Literal["auto"]
    filterable: bool


class FieldDefaults(TypedDict, total=False):
    unit: str
    color: FieldColor
    custom: TimeseriesCustom | TableCustom
    thresholds: Thresholds
    mappings: list[ValueMap]
    min: float
    max: float
    decimals: int
    noValue: str  # shown instead of "No data"


class Matcher(TypedDict):
    id: Literal["byName", "byRegexp"]
    options: str


class LineStyle(TypedDict):
    dash: list[int]
    fill: Literal["dash"]


class DataLink(TypedDict):
    title: str
    url: str


class Property(TypedDict):
    id: Literal["unit", "links", "custom.lineStyle", "custom.fillOpacity"]
    value: str | int | LineStyle | list[DataLink]


class FieldOverride(TypedDict):
    matcher: Matcher
    properties: list[Property]


class FieldConfig(TypedDict):
    defaults: FieldDefaults
    overrides: list[FieldOverride]


# --- panel options, per panel type ----------------------------------------------------------


class Legend(TypedDict):
    displayMode: Literal["list", "table"]
    placement: Literal["bottom", "right"]
    showLegend: bool
    values: NotRequired[list[Literal["value", "percent"]]]


class Tooltip(TypedDict):
    mode: Literal["single", "multi"]
    sort: Literal["none", "desc"]


class ReduceOptions(TypedDict):
    calcs: list[str]
    fields: str
    values: bool


class TimeseriesOptions(TypedDict):
    legend: Legend
    tooltip: Tooltip


class StatOptions(TypedDict):
    colorMode: Literal["value"]
    graphMode: Literal["area", "none"]
    justifyMode: Literal["auto"]
    orientation: Literal["auto"]
    reduceOptions: ReduceOptions
    textMode: Literal["auto", "name"]


class BarGaugeOptions(TypedDict):
    displayMode: Literal["gradient"]
    orientation: Literal["horizontal"]
    reduceOptions: ReduceOptions
    showUnfilled: bool


class PieChartOptions(TypedDict):
    legend: Legend
    pieType: Literal["donut"]
    reduceOptions: ReduceOptions
    tooltip: Tooltip


class TableFooter(TypedDict):
    show: bool


class TableOptions(TypedDict):
    cellHeight: Literal["sm"]
    showHeader: bool
    footer: TableFooter


PanelOptions = TimeseriesOptions | StatOptions | BarGaugeOptions | PieChartOptions | TableOptions


# --- queries and transformations ------------------------------------------------------------


class PrometheusTarget(TypedDict):
    datasource: DataSourceRef
    editorMode: Literal["code"]
    expr: str
    format: Literal["time_series", "table"]
    instant: bool
    legendFormat: str
    range: bool
    refId: str


class NoOptions(TypedDict):
    pass


class MergeTransformation(TypedDict):
    id: Literal["merge"]
    options: NoOptions


class FieldNames(TypedDict):
    names: list[str]


class FilterOptions(TypedDict):
    include: FieldNames


class FilterTransformation(TypedDict):
    id: Literal["filterFieldsByName"]
    options: FilterOptions


class OrganizeOptions(TypedDict):
    indexByName: dict[str, int]
    renameByName: dict[str, str]


class OrganizeTransformation(TypedDict):
    id: Literal["organize"]
    options: OrganizeOptions


Transformation = MergeTransformation | FilterTransformation | OrganizeTransformation


# --- panels ---------------------------------------------------------------------------------

PanelType = Literal["timeseries", "stat", "bargauge", "piechart", "table"]


class Panel(TypedDict):
    type: PanelType
    title: str
    description: str
    datasource: DataSourceRef
    gridPos: GridPos
    fieldConfig: FieldConfig
    options: PanelOptions
    targets: list[PrometheusTarget]
    transformations: NotRequired[list[Transformation]]
    id: NotRequired[int]  # numbered by layout()


class RowPanel(TypedDict):
    type: Literal["row"]
    title: str
    collapsed: bool
    panels: list[Panel]  # a collapsed row's panels; an open row's follow it
    gridPos: GridPos
    id: NotRequired[int]


# --- variables ------------------------------------------------------------------------------


class VariableOption(TypedDict, total=False):
    text: str
    value: str


class DatasourceVariable(TypedDict):
    name: str
    label: str
    type: Literal["datasource"]
    query: str  # the plugin id of the data sources offered
    current: VariableOption
    hide: int
    includeAll: bool
    multi: bool
    options: list[VariableOption]
    refresh: int
    regex: str


class QueryVariable(TypedDict):
    name: str
    label: str
    type: Literal["query"]
    datasource: DataSourceRef
    definition: str
    query: str
    current: VariableOption
    hide: int
    includeAll: bool
    multi: bool
    allValue: str | None
    options: list[VariableOption]
    refresh: int
    regex: str
    sort: int


Variable = DatasourceVariable | QueryVariable

# --- the dashboard --------------------------------------------------------------------------

# Functional syntax: "from" is a Python keyword.
TimeRange = TypedDict("TimeRange", {"from": str, "to": str})


class Templating(TypedDict):
    list: list[Variable]


class TimePicker(TypedDict, total=False):
    refresh_intervals: list[str]


class Annotation(TypedDict):
    builtIn: int
    datasource: DataSourceRef
    enable: bool
    hide: bool
    iconColor: str
    name: str
    type: Literal["dashboard"]


class PrometheusAnnotation(TypedDict):
    """Events from a PromQL query; with useValueForTime, at the time its value says (ms)."""

    datasource: DataSourceRef
    enable: bool
    hide: bool
    iconColor: str
    name: str
    expr: str
    step: str
    titleFormat: str
    textFormat: str
    tagKeys: str
    useValueForTime: bool


class Annotations(TypedDict):
    list: list[Annotation | PrometheusAnnotation]


class DashboardLink(TypedDict):
    asDropdown: bool
    includeVars: bool
    keepTime: bool
    tags: list[str]
    targetBlank: bool
    title: str
    type: Literal["dashboards"]


class Dashboard(TypedDict):
    uid: str
    title: str
    description: str
    tags: list[str]
    id: None  # Grafana assigns it on import
    editable: bool
    graphTooltip: int
    schemaVersion: int
    version: int
    refresh: str
    time: TimeRange
    timepicker: TimePicker
    timezone: str
    fiscalYearStartMonth: int
    liveNow: bool
    weekStart: str
    annotations: Annotations
    links: list[DashboardLink]
    templating: Templating
    panels: list[Panel | RowPanel]
