"""Tables: instant queries merged into one row per series, with chosen columns in order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from capgo_exporter.mixin.dashboards.builder import Size, panel
from capgo_exporter.mixin.dashboards.queries import Target
from capgo_exporter.mixin.dashboards.schema import (
    DataLink,
    FieldOverride,
    Panel,
    TableOptions,
    Transformation,
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
