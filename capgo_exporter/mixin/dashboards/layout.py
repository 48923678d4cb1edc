"""Rows, the layout of panels on Grafana's grid, and the dashboard around them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from capgo_exporter.mixin.dashboards.queries import GRID_WIDTH, SCHEMA_VERSION, TAGS, Config
from capgo_exporter.mixin.dashboards.schema import Dashboard, Panel, RowPanel, Variable


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
