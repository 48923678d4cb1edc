"""End to end for the shipped monitoring: the daemon on the simulator, a real Prometheus loading
the compose stack's ``prometheus.yml`` and the rules file; every dashboard panel query (its
variables substituted) returns data, and every rule evaluates without error."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from capgo_exporter.collectors import COLLECTORS
from capgo_exporter.mixin import dashboards
from capgo_exporter.mixin.usage_rules import MAU_PROJECTED
from capgo_exporter.selfmetrics import COLLECTOR_LAST_SUCCESS, COLLECTOR_MAX_AGE
from capgo_exporter.settings import ENV_NAMES
from capgo_exporter.sim import SimConfig, Simulator
from tests.clock import pinned_clock

from .conftest import PrometheusQuery, daemon_env, exporter_and_prometheus

CYCLE_START = "capgo_org_billing_cycle_start_timestamp_seconds"
MAX_AGE_SECONDS = 300

REPO = Path(__file__).resolve().parents[2]
COMPOSE_PROMETHEUS = REPO / "deploy" / "compose" / "prometheus.yml"
RULES = REPO / "deploy" / "prometheus" / "capgo.rules.yml"
DASHBOARDS = sorted((REPO / "grafana" / "dashboards").glob("*.json"))
# Prometheus' rate() needs two samples in its window: with the 1 s scrapes used here, a short
# window already holds many; Grafana's $__rate_interval would be 4 x the scrape interval.
RATE_INTERVAL = "30s"


@dataclass
class Stack:
    sim: Simulator
    exporter: str
    prometheus: PrometheusQuery
    # Whole days the exporter's billing cycle had begun when the stack started (1 = first day).


def _prometheus_config(tmp: Path, exporter: str) -> Path:
    """The compose prometheus.yml, laid out as in the container, with loopback targets."""
    config: dict[str, Any] = yaml.safe_load(COMPOSE_PROMETHEUS.read_text())
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    config.pop("alerting", None)  # no Alertmanager here; alerts still evaluate
    config["scrape_configs"] = [
        {**job, "static_configs": [{"targets": [exporter]}]}
        for job in config["scrape_configs"]
        if job["job_name"] == "capgo"
    ]
    (tmp / "rules").mkdir()
    for pattern in config["rule_files"]:
        # The compose file mounts the rules file at rules/ beside prometheus.yml.
        shutil.copy(RULES, tmp / pattern.replace("*", "capgo"))
    path = tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("mixin")
    # The exporter and the simulator run on the pinned day; Prometheus on the real clock.
    clock = pinned_clock()
    # Newer Capgo, as --demo (its own active-device counts have a panel too), and rollouts with
    # install traffic, so the rollout panels and recording rules have figures.
    config = SimConfig(
        seed=21,
        orgs=2,
        apps_per_org=2,
        devices_per_app=800,
        newer_capgo=True,
        rollout_scenarios={0: "near", 1: "unguarded"},
    )
    sim = Simulator(config, clock.now)
    with sim.serve_tcp() as sim_url:
        env = daemon_env(
            clock,
            CAPGO_API_KEY="demo",
            CAPGO_API_URL=sim_url,
            CAPGO_EXPORTER_CAPGO_REQUESTS_PER_MINUTE="6000",
            # Every panel has data only with every limit configured (as --demo does).
            CAPGO_EXPORTER_PLAN_MAU_LIMIT="20000",
            CAPGO_EXPORTER_PLAN_STORAGE_LIMIT="5GiB",
            CAPGO_EXPORTER_PLAN_BANDWIDTH_LIMIT="50GiB",
            # Polls keep going during the test, so API request rates have samples to rate.
            CAPGO_EXPORTER_COLLECTOR_INVENTORY_INTERVAL="5s",
            CAPGO_EXPORTER_COLLECTOR_DEVICES_INTERVAL="5s",
            # Three such intervals would be 15 s, and the staleness alerts read the max age the
            # exporter publishes: a busy machine would make the data age. Also the path from
            # the setting to the published max age the rules read.
            **{ENV_NAMES["max_age"]: f"{MAX_AGE_SECONDS}s"},
        )
        with exporter_and_prometheus(tmp, env, _prometheus_config) as (exporter, query):
            stack = Stack(sim, exporter, query)
            _until_every_panel_has_data(stack, timeout=45)
            time.sleep(1)  # one more rule evaluation (every second) for the alert tests
            yield stack


def _until_every_panel_has_data(stack: Stack, timeout: float) -> None:
    """Until every rate window has its two samples and every panel's query its data (about 5 s
    after the first scrape), or ``timeout``: the tests then say which panel has none."""
    deadline = time.monotonic() + timeout
    variables = _variables(stack)
    pending = [dashboards.substitute(expr, variables) for _, _, expr in PANELS]
    while pending and time.monotonic() < deadline:
        pending = [query for query in pending if not stack.prometheus.vector(query)]
        if pending:
            time.sleep(0.5)


def _variables(stack: Stack) -> dict[str, str]:
    org = stack.sim.org_ids()[0]
    app = stack.sim.app_ids(org)[0]
    values = dict(dashboards.WILDCARDS)
    values.update(job="capgo", instance=stack.exporter, org=org, app=app)
    values.update(__rate_interval=RATE_INTERVAL, __interval="1s")
    return values


def _panels() -> list[tuple[str, str, str]]:
    found = []
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        for title, expr in dashboards.panel_queries(dashboard):
            found.append((path.stem, title, expr))
    return found


PANELS = _panels()


def test_there_are_three_dashboards_with_queries() -> None:
    assert {p.stem for p in DASHBOARDS} == {"capgo-overview", "capgo-app", "capgo-exporter"}
    assert len(PANELS) > 50


@pytest.mark.parametrize(
    ("dashboard", "title", "expr"), PANELS, ids=[f"{d}:{t}" for d, t, _ in PANELS]
)
def test_every_panel_query_returns_data(
    stack: Stack, dashboard: str, title: str, expr: str
) -> None:
    query = dashboards.substitute(expr, _variables(stack))
    result = stack.prometheus.vector(query)
    assert result, f"{dashboard} / {title}: no data for {query}"


def test_every_rule_evaluates_without_error(stack: Stack) -> None:
    response = httpx.get(f"{stack.prometheus.url}/api/v1/rules", timeout=10)
    groups = response.json()["data"]["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    expected = yaml.safe_load(RULES.read_text())
    assert len(rules) == sum(len(g["rules"]) for g in expected["groups"])
    assert len(rules) > 10
    for rule in rules:
        assert rule["health"] == "ok", (rule["name"], rule.get("lastError"))
        assert rule.get("lastError", "") == "", rule["name"]
        assert rule["evaluationTime"] >= 0


def test_recording_rules_produce_series(stack: Stack) -> None:
    records = [
        rule["record"]
        for group in yaml.safe_load(RULES.read_text())["groups"]
        for rule in group["rules"]
        if "record" in rule
    ]
    assert MAU_PROJECTED in records
    empty = [name for name in records if not stack.prometheus.vector(name)]
    # The MAU projection needs a whole day of the cycle's growth, which the rule measures on
    # Prometheus's clock (time() against the exporter's cycle start, on the pinned day):
    # ask Prometheus how old it sees the cycle rather than assume the real date.
    ages = stack.prometheus.vector(f"time() - {CYCLE_START}")
    assert ages, "the exporter serves the cycle start"
    expected_empty = [] if min(ages.values()) > 86400 else [MAU_PROJECTED]
    assert empty == expected_empty, (
        f"recording rules without series on the simulator; cycle ages seen {ages}"
    )


def test_no_alert_fires_on_a_healthy_simulated_account(stack: Stack) -> None:
    # The demo account is within its limits and the exporter is up: only informational alerts
    # about the simulated data (a paused rollout) may fire.
    response = httpx.get(f"{stack.prometheus.url}/api/v1/alerts", timeout=10)
    firing = {
        alert["labels"]["alertname"]
        for alert in response.json()["data"]["alerts"]
        if alert["state"] == "firing"
    }
    exporter_alerts = {name for name in firing if "Exporter" in name or "Collector" in name}
    assert not exporter_alerts, firing


def test_every_collector_is_matched_with_the_max_age_its_exporter_publishes(stack: Stack) -> None:
    """The staleness rules' join, on the exporter's real series: every collector has its max
    age (the configured one), and its data are far younger."""
    published = stack.prometheus.vector(COLLECTOR_MAX_AGE.name)
    assert published == {(("collector", name),): MAX_AGE_SECONDS for name in COLLECTORS}
    share = stack.prometheus.vector(
        f"(time() - {COLLECTOR_LAST_SUCCESS.name})\n"
        f"/ on (job, instance, collector) group_left\n{COLLECTOR_MAX_AGE.name}"
    )
    assert {dict(labels)["collector"] for labels in share} == set(COLLECTORS)
    assert all(0 <= value < 2 / 3 for value in share.values()), share
