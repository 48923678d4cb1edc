"""The Grafana dashboards: grafana/dashboard-linter's rules, queries that parse and name real
metrics, tables that line up, rendered files that are not stale, and the provisioning files."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from capgo_exporter.catalogue import CATALOGUE
from capgo_exporter.mixin import dashboards as mixin
from capgo_exporter.mixin.config import Config as RulesConfig
from capgo_exporter.mixin.dashboards import (
    DATASOURCE,
    WILDCARDS,
    Config,
    Json,
    panel_queries,
    panels_of,
    render,
    substitute,
)
from capgo_exporter.mixin.rules import Rules
from tests.tools import require_binary

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = mixin.dashboards()
GRAFANA = ROOT / "grafana"

# prometheus-client's process collector (docs/metrics.md), used by the exporter dashboard.
PROCESS_METRICS = {
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_start_time_seconds",
}
PANEL_TYPES = {"row", "timeseries", "stat", "gauge", "bargauge", "table", "piechart"}
# Words of PromQL that are not metric names once label lists, strings and ranges are removed.
PROMQL_WORDS = {"and", "or", "unless", "bool", "offset"}


each_dashboard = pytest.mark.parametrize(
    "dashboard", list(DASHBOARDS.values()), ids=list(DASHBOARDS)
)


def panels(dashboard: Json) -> Iterator[Json]:
    """The panels that query (rows excluded)."""
    return (panel for panel in panels_of(dashboard) if panel["type"] != "row")


def query_variables(dashboard: Json) -> dict[str, Json]:
    return {v["name"]: v for v in dashboard["templating"]["list"] if v["type"] == "query"}


def variable_promql(query: str) -> str:
    """The PromQL inside label_values(…, label) or query_result(…)."""
    match = re.fullmatch(r"label_values\((.*), *\w+\)|query_result\((.*)\)", query)
    assert match, query
    return match.group(1) or match.group(2)


def all_promql(dashboard: Json) -> list[str]:
    return [expr for _, expr in panel_queries(dashboard)] + [
        variable_promql(v["query"]) for v in query_variables(dashboard).values()
    ]


def metric_names(expr: str) -> list[str]:
    """The metric names an expression selects (a small PromQL scanner, enough for ours)."""
    stripped = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    stripped = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", stripped)
    stripped = re.sub(
        r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", stripped
    )
    return [
        name
        for name in re.findall(r"\b([a-zA-Z_:][\w:]*)\b(?!\s*\()", stripped)
        if name not in PROMQL_WORDS
    ]


def selectors(expr: str) -> list[tuple[str, str]]:
    """(metric name, matchers) of every series selector in the expression."""
    found = re.findall(r"\b([a-zA-Z_:][\w:]*)(\{[^}]*\})?", expr)
    names = set(metric_names(expr))
    return [(name, matchers) for name, matchers in found if name in names]


def recording_rules() -> set[str]:
    """Series recorded by the mixin's rules: a dashboard may read them too."""
    return {record.name for record in Rules(RulesConfig()).records()}


def known_metrics() -> set[str]:
    names = {spec.name for spec in CATALOGUE} | PROCESS_METRICS | recording_rules()
    for spec in CATALOGUE:
        if spec.type == "histogram":
            names |= {f"{spec.name}_bucket", f"{spec.name}_sum", f"{spec.name}_count"}
    return names


# --- the scanner the checks below rely on ---------------------------------------------------


def test_metric_names_finds_every_selector_and_nothing_else() -> None:
    expr = (
        'sum by (job, le) (rate(a_total{job=~"$job",code!~"2.."}[$__rate_interval])) * on '
        '(job) group_left (org_name) b_info{x="y"} / ignoring (le) c or vector(0) > bool d'
    )
    assert metric_names(expr) == ["a_total", "b_info", "c", "d"]
    assert selectors(expr) == [
        ("a_total", '{job=~"$job",code!~"2.."}'),
        ("b_info", '{x="y"}'),
        ("c", ""),
        ("d", ""),
    ]


# --- grafana/dashboard-linter rules ---------------------------------------------------------


@each_dashboard
def test_template_datasource_rule(dashboard: Json) -> None:
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"


@each_dashboard
def test_panels_and_targets_use_the_datasource_variable(dashboard: Json) -> None:
    for panel in panels(dashboard):
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], f"{panel['title']} has no query"
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]
    for variable in query_variables(dashboard).values():
        assert variable["datasource"] == DATASOURCE, variable["name"]
    # Neither the export-for-sharing placeholder nor any fixed uid of a Prometheus.
    text = json.dumps(dashboard)
    assert "DS_PROMETHEUS" not in text
    assert "__inputs" not in dashboard
    assert set(re.findall(r'"uid": "([^"]*)"', text)) == {
        dashboard["uid"],
        "${datasource}",
        "-- Grafana --",  # the built-in annotations
    }


@each_dashboard
def test_template_job_and_instance_rules(dashboard: Json) -> None:
    variables = query_variables(dashboard)
    assert variables["job"]["query"] == "label_values(capgo_exporter_build_info, job)"
    assert variables["instance"]["query"] == (
        'label_values(capgo_exporter_build_info{job=~"$job"}, instance)'
    )
    for variable in variables.values():
        assert variable["multi"] == variable["includeAll"]
        if variable["includeAll"]:
            assert variable["allValue"] == ".*"


@each_dashboard
def test_every_selector_narrows_on_job_and_instance(dashboard: Json) -> None:
    exprs = [expr for _, expr in panel_queries(dashboard)] + [
        variable_promql(v["query"])
        for name, v in query_variables(dashboard).items()
        if name not in ("job", "instance")
    ]
    for expr in exprs:
        for name, matchers in selectors(expr):
            assert 'job=~"$job"' in matchers, f"{name} in {expr}"
            assert 'instance=~"$instance"' in matchers, f"{name} in {expr}"


@each_dashboard
def test_every_range_is_the_rate_interval(dashboard: Json) -> None:
    for title, expr in panel_queries(dashboard):
        ranges = re.findall(r"\[([^\]]*)\]", expr)
        assert all(r == "$__rate_interval" for r in ranges), title
        # rate() of a gauge or without a range would not parse; every rate has its range.
        assert len(re.findall(r"\b(?:rate|irate|increase)\(", expr)) == len(ranges), title


@each_dashboard
def test_every_query_panel_has_a_unit_and_a_description(dashboard: Json) -> None:
    for panel in panels(dashboard):
        assert panel["description"].strip(), panel["title"]
        assert panel["type"] in PANEL_TYPES, panel["title"]
        if panel["type"] != "table":
            assert panel["fieldConfig"]["defaults"]["unit"], panel["title"]


def test_uids_are_fixed_and_unique() -> None:
    uids = [d["uid"] for d in DASHBOARDS.values()]
    assert uids == ["capgo-overview", "capgo-app", "capgo-exporter"]
    assert all(d["id"] is None for d in DASHBOARDS.values())
    assert all(d["schemaVersion"] >= 39 for d in DASHBOARDS.values())


@each_dashboard
def test_panels_have_unique_ids_and_do_not_overlap(dashboard: Json) -> None:
    items = panels_of(dashboard)
    assert len({p["id"] for p in items}) == len(items)
    cells: set[tuple[int, int]] = set()
    for panel in items:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        area = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not area & cells, f"{panel['title']} overlaps another panel"
        cells |= area


# --- variables chain ------------------------------------------------------------------------


def test_variables_chain_job_instance_org_app() -> None:
    app = query_variables(DASHBOARDS["capgo-app.json"])
    assert list(app) == ["job", "instance", "org", "app"]
    assert '"$job"' in app["instance"]["query"]
    assert 'job=~"$job"' in app["org"]["query"]
    assert 'instance=~"$instance"' in app["org"]["query"]
    assert 'org_id=~"$org"' in app["app"]["query"]
    assert 'instance=~"$instance"' in app["app"]["query"]
    assert list(query_variables(DASHBOARDS["capgo-overview.json"])) == ["job", "instance", "org"]
    assert list(query_variables(DASHBOARDS["capgo-exporter.json"])) == ["job", "instance"]


def test_org_picker_shows_names_and_selects_ids() -> None:
    regex = query_variables(DASHBOARDS["capgo-overview.json"])["org"]["regex"]
    # Grafana's JavaScript regex, as Python: named groups are (?P<…>) there.
    pattern = re.compile(regex.strip("/").replace("(?<", "(?P<"))
    line = 'capgo_org_info{instance="e",job="capgo",org_id="0f-1",org_name="Acme Mobile"} 1 1'
    match = pattern.search(line)
    assert match
    assert (match["value"], match["text"]) == ("0f-1", "Acme Mobile")


def test_the_app_dashboard_shows_one_app_at_a_time() -> None:
    app = query_variables(DASHBOARDS["capgo-app.json"])["app"]
    assert (app["multi"], app["includeAll"]) == (False, False)


# --- queries --------------------------------------------------------------------------------


@each_dashboard
def test_every_metric_exists(dashboard: Json) -> None:
    known = known_metrics()
    for expr in all_promql(dashboard):
        names = metric_names(expr)
        assert names, expr
        unknown = set(names) - known
        assert not unknown, f"{unknown} in {expr}"


def test_the_dashboards_cover_every_metric_of_the_catalogue() -> None:
    used = {
        name for d in DASHBOARDS.values() for expr in all_promql(d) for name in metric_names(expr)
    }
    histograms = {f"{s.name}_bucket" for s in CATALOGUE if s.type == "histogram"}
    expected = {s.name for s in CATALOGUE if s.type != "histogram"} | histograms
    assert expected - used == set()


def test_every_query_parses_with_promtool(tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    exprs = [substitute(e, WILDCARDS) for d in DASHBOARDS.values() for e in all_promql(d)]
    rules = {
        "groups": [
            {
                "name": "dashboards",
                "rules": [
                    {"record": f"capgo_dashboard_query_{i}", "expr": expr}
                    for i, expr in enumerate(exprs)
                ],
            }
        ]
    }
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump(rules), encoding="utf-8")
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in result.stdout


def test_substitute_replaces_every_variable_form() -> None:
    expr = 'rate(m{job=~"$job",instance=~"${instance}",app_id=~"$app"}[$__rate_interval])'
    assert substitute(expr, WILDCARDS) == 'rate(m{job=~".*",instance=~".*",app_id=~".*"}[5m])'
    assert substitute('x{org_id=~"$org"}[$__range:$__interval]', WILDCARDS) == (
        'x{org_id=~".*"}[1h:1m]'
    )
    with pytest.raises(KeyError, match="application"):
        substitute('m{a="$application"}', WILDCARDS)


def test_panel_queries_include_panels_of_collapsed_rows() -> None:
    target = {"expr": 'up{job=~"$job"}'}
    inner = {"type": "stat", "title": "in", "targets": [target]}
    dashboard: Json = {
        "panels": [
            {"type": "row", "title": "r", "collapsed": True, "panels": [inner]},
            {"type": "stat", "title": "out", "targets": [target, target]},
        ]
    }
    assert panel_queries(dashboard) == [("in", target["expr"])] + [("out", target["expr"])] * 2


# --- panels ---------------------------------------------------------------------------------


def plan_panels(dashboard: Json) -> list[Json]:
    return [p for p in panels(dashboard) if p["title"].endswith(" of plan")]


def test_usage_against_limits_turns_orange_then_red() -> None:
    usage = plan_panels(DASHBOARDS["capgo-overview.json"])
    assert [p["title"] for p in usage] == [
        "Monthly active users of plan",
        "Storage of plan",
        "Bandwidth of plan",
    ]
    for panel in usage:
        defaults = panel["fieldConfig"]["defaults"]
        assert (defaults["unit"], defaults["min"], defaults["max"]) == ("percentunit", 0, 1)
        steps = defaults["thresholds"]["steps"]
        assert [(s["color"], s["value"]) for s in steps] == [
            ("green", None),
            ("orange", 0.8),
            ("red", 0.95),
        ]
        assert "_limit" in panel["targets"][0]["expr"]


def test_the_renderer_applies_the_configured_thresholds(tmp_path: Path) -> None:
    assert mixin.main(["--out", str(tmp_path), "--usage-warning", "0.7"]) == 0
    rendered = json.loads((tmp_path / "capgo-overview.json").read_text(encoding="utf-8"))
    for panel in plan_panels(rendered):
        steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        assert [s["value"] for s in steps] == [None, 0.7, 0.95]
        assert "Orange from 70%" in panel["description"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(DASHBOARDS)
    assert mixin.dashboards(Config(usage_warning=0.7))["capgo-overview.json"] == rendered


@each_dashboard
def test_table_columns_exist_and_carry_their_units(dashboard: Json) -> None:
    for panel in (p for p in panels(dashboard) if p["type"] == "table"):
        ref_ids = {t["refId"] for t in panel["targets"]}
        assert all(t["format"] == "table" and t["instant"] for t in panel["targets"])
        by_id = {t["id"]: t["options"] for t in panel["transformations"]}
        assert list(by_id) == ["merge", "filterFieldsByName", "organize"]
        shown = by_id["filterFieldsByName"]["include"]["names"]
        renamed = by_id["organize"]["renameByName"]
        assert set(renamed) == set(shown)
        for name in shown:
            if name.startswith("Value #"):
                assert name.removeprefix("Value #") in ref_ids, (panel["title"], name)
        # Overrides match the renamed columns, or they would apply to nothing.
        for override in panel["fieldConfig"]["overrides"]:
            assert override["matcher"]["options"] in renamed.values(), panel["title"]


def test_timestamps_are_shown_as_dates_in_milliseconds() -> None:
    for dashboard in DASHBOARDS.values():
        for panel in panels(dashboard):
            units = {panel["fieldConfig"]["defaults"]["unit"]} | {
                prop["value"]
                for override in panel["fieldConfig"]["overrides"]
                for prop in override["properties"]
                if prop["id"] == "unit"
            }
            exprs = [t["expr"] for t in panel["targets"]]
            if "dateTimeFromNow" in units:
                assert any("* 1000" in e for e in exprs), panel["title"]
            for expr in exprs:
                if "_timestamp_seconds" in expr and "time() -" not in expr:
                    assert "* 1000" in expr or "/ (" in expr, (panel["title"], expr)


def test_the_apps_table_links_to_the_app_dashboard() -> None:
    apps = next(p for p in panels(DASHBOARDS["capgo-overview.json"]) if p["title"] == "Apps")
    links = [
        prop["value"][0]["url"]
        for override in apps["fieldConfig"]["overrides"]
        for prop in override["properties"]
        if prop["id"] == "links"
    ]
    assert len(links) == 1
    assert links[0].startswith(f"/d/{DASHBOARDS['capgo-app.json']['uid']}/")
    assert "var-app=${__data.fields.app_id}" in links[0]


# --- files ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(DASHBOARDS))
def test_rendered_dashboards_are_not_stale(name: str) -> None:
    committed = GRAFANA / "dashboards" / name
    assert committed.read_text(encoding="utf-8") == render(DASHBOARDS[name]), (
        f"{committed} is stale: run python -m capgo_exporter.mixin.dashboards"
    )


def test_no_other_dashboard_files() -> None:
    assert sorted(p.name for p in (GRAFANA / "dashboards").iterdir()) == sorted(DASHBOARDS)


def test_datasource_provisioning() -> None:
    config = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    assert config["apiVersion"] == 1
    [datasource] = config["datasources"]
    assert datasource["type"] == "prometheus"
    assert datasource["uid"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    assert datasource["access"] == "proxy"
    assert datasource["isDefault"] is True


def test_dashboard_provisioning() -> None:
    config = yaml.safe_load((GRAFANA / "provisioning/dashboards/capgo.yml").read_text())
    assert config["apiVersion"] == 1
    [provider] = config["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    assert provider["folder"]
