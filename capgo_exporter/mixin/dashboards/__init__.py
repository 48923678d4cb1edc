"""Grafana dashboards of the mixin, as Python, and their renderer.

    python -m capgo_exporter.mixin.dashboards [--out DIR] [--usage-warning R] [--usage-critical R]

Three dashboards: **Capgo overview** (plan usage per organization, cycle-to-date figures, apps),
**Capgo app** (devices, channels, rollouts and bundles of one app) and **Capgo exporter** (the
exporter's collectors and its calls to the Capgo API).

One module per dashboard (overview.py, app.py, exporter.py; release_health.py is a row of the app
dashboard), each a sequence of panel-group functions in the order the dashboard shows them.
They build on builder.py (the panel kinds), tables.py (tables), layout.py (rows, their layout,
the dashboard), variables.py and queries.py (PromQL), all typed by schema.py: TypedDicts of the
Grafana JSON written, so mypy checks every key.

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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from capgo_exporter.mixin.dashboards.app import app
from capgo_exporter.mixin.dashboards.exporter import exporter
from capgo_exporter.mixin.dashboards.overview import overview
from capgo_exporter.mixin.dashboards.queries import DATASOURCE, WILDCARDS, Config
from capgo_exporter.mixin.dashboards.schema import Dashboard

__all__ = [
    "DATASOURCE",
    "WILDCARDS",
    "Config",
    "Dashboard",
    "Json",
    "dashboards",
    "main",
    "panel_queries",
    "panels_of",
    "render",
    "substitute",
]


def dashboards(config: Config | None = None) -> dict[str, Dashboard]:
    """File name → dashboard; the default configuration when none is given."""
    config = config or Config()
    return {
        "capgo-overview.json": overview(config),
        "capgo-app.json": app(config),
        "capgo-exporter.json": exporter(config),
    }


def render(dashboard: Dashboard) -> str:
    """The file Grafana reads: the typed dictionaries are that JSON already."""
    return json.dumps(dashboard, indent=2, ensure_ascii=False) + "\n"


# --- what tests and scripts read ------------------------------------------------------------

# A dashboard as parsed from JSON, or as built: the readers below accept both. The one place in
# this package where values are untyped (a file on disk may hold anything).
Json = Mapping[str, Any]


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
    for name, dashboard in dashboards(config).items():
        (args.out / name).write_text(render(dashboard), encoding="utf-8")
        print(args.out / name)
    return 0
