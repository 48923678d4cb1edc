"""The dashboards' variables: data source, job and instance, then organization and app.

Each narrows the next one's choices; every panel query narrows on all of them (see queries.sel).
"""

from __future__ import annotations

from capgo_exporter.mixin.dashboards.queries import DATASOURCE, ORG, sel
from capgo_exporter.mixin.dashboards.schema import DatasourceVariable, QueryVariable, Variable


def datasource_variable() -> DatasourceVariable:
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
) -> QueryVariable:
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


def job_variables() -> list[Variable]:
    return [
        datasource_variable(),
        query_variable("job", "Job", "label_values(capgo_exporter_build_info, job)"),
        query_variable(
            "instance",
            "Instance",
            'label_values(capgo_exporter_build_info{job=~"$job"}, instance)',
        ),
    ]


def org_variable() -> QueryVariable:
    # query_result + named groups: the picker shows org names and the queries get org ids.
    # Labels come sorted, so org_id comes before org_name in each result line.
    return query_variable(
        "org",
        "Organization",
        f"query_result({sel('capgo_org_info')})",
        regex='/org_id="(?<value>[^"]+)".*org_name="(?<text>[^"]+)"/',
    )


def app_variable() -> QueryVariable:
    return query_variable(
        "app",
        "App",
        f"label_values({sel('capgo_app_info', ORG)}, app_id)",
        multi=False,
    )
