"""End to end: the daemon as a subprocess against the simulator over TCP, scraped by a real
Prometheus; key metrics read back through Prometheus' query API equal the ground truth."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics

from capgo_exporter.collectors import COLLECTORS
from capgo_exporter.exposition import render_text
from capgo_exporter.sim import GroundTruth, SimConfig, Simulator
from tests.clock import pinned_clock
from tests.tools import require_binary

from .conftest import PrometheusQuery, daemon_env, exporter_and_prometheus, scrape_every_second

MAX_BUNDLES = 4


@dataclass
class Stack:
    sim: Simulator
    exporter_url: str
    prometheus: PrometheusQuery


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("e2e")
    clock = pinned_clock()
    sim = Simulator(
        SimConfig(
            seed=11, orgs=2, apps_per_org=2, devices_per_app=2500, keys={"e2e": "org_super_admin"}
        ),
        clock=clock.now,
    )
    (tmp / "state").mkdir()
    with sim.serve_tcp() as sim_url:
        env = daemon_env(
            clock,
            CAPGO_API_KEY="e2e",
            CAPGO_API_URL=sim_url,
            CAPGO_EXPORTER_CAPGO_REQUESTS_PER_MINUTE="6000",
            CAPGO_EXPORTER_PLAN_MAU_LIMIT="10000",
            CAPGO_EXPORTER_COLLECTOR_DEVICES_MAX_BUNDLES_PER_APP=str(MAX_BUNDLES),
            CAPGO_EXPORTER_STATE_DIR=str(tmp / "state"),
        )
        with exporter_and_prometheus(tmp, env, scrape_every_second()) as (exporter, query):
            yield Stack(sim, f"http://{exporter}", query)


@pytest.fixture(scope="module")
def truth(stack: Stack) -> GroundTruth:
    return stack.sim.truth(max_bundles_per_app=MAX_BUNDLES)


def test_capgo_up(stack: Stack) -> None:
    assert stack.prometheus.scalar("capgo_up") == 1
    statuses = stack.prometheus.vector("capgo_exporter_collector_up")
    assert statuses == {(("collector", c),): 1.0 for c in COLLECTORS}


def test_mau_and_storage_per_org(stack: Stack, truth: GroundTruth) -> None:
    mau = stack.prometheus.vector("capgo_org_monthly_active_users")
    storage = stack.prometheus.vector("capgo_org_storage_bytes")
    assert mau == {(("org_id", o.id),): float(o.mau) for o in truth.orgs}
    assert storage == {(("org_id", o.id),): float(o.storage_bytes) for o in truth.orgs}
    limit = stack.prometheus.vector("capgo_org_monthly_active_users_limit")
    assert limit == {(("org_id", o.id),): 10000.0 for o in truth.orgs}


def test_devices_by_bundle(stack: Stack, truth: GroundTruth) -> None:
    got = stack.prometheus.vector("capgo_app_devices")
    expected = {
        tuple(
            sorted(
                {
                    "app_id": app.app_id,
                    "platform": platform,
                    "bundle": bundle,
                    "is_prod": str(is_prod).lower(),
                    "is_emulator": str(is_emulator).lower(),
                }.items()
            )
        ): float(count)
        for org in truth.orgs
        for app in org.apps
        for (platform, bundle, is_prod, is_emulator), count in app.devices_by.items()
    }
    assert got == expected
    totals = stack.prometheus.vector("sum by (app_id) (capgo_app_devices)")
    assert totals == {(("app_id", a.app_id),): float(a.devices) for o in truth.orgs for a in o.apps}


def test_channel_adoption(stack: Stack, truth: GroundTruth) -> None:
    got = stack.prometheus.vector("capgo_channel_bundle_adoption_ratio")
    expected = {
        (("app_id", app.app_id), ("channel", channel.name)): channel.adoption_ratio
        for org in truth.orgs
        for app in org.apps
        for channel in app.channels
        if channel.adoption_ratio is not None
    }
    assert expected, "the dataset has channels serving devices"
    assert got == pytest.approx(expected, abs=1e-9)


def _promtool_lint(promtool: str, text_format: bytes) -> None:
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=text_format, capture_output=True, timeout=30
    )
    # promtool prints lint problems (names, units, counters, HELP) and exits 1.
    assert checked.returncode == 0, (checked.stdout, checked.stderr)
    assert checked.stdout == b"", checked.stdout
    assert checked.stderr == b"", checked.stderr


def test_text_format_passes_promtool_without_a_warning(stack: Stack) -> None:
    promtool = require_binary("promtool")
    body = httpx.get(f"{stack.exporter_url}/metrics", headers={"accept": "text/plain"}).content
    _promtool_lint(promtool, body)


def test_openmetrics_is_strictly_valid_and_lints_clean(stack: Stack) -> None:
    # promtool 2.42 reads only the text format: parse the OpenMetrics exposition with
    # client_python's strict OpenMetrics parser (it rejects any syntax error, a missing
    # "# EOF", bad escapes), then lint the very same families with promtool.
    promtool = require_binary("promtool")
    accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
    response = httpx.get(f"{stack.exporter_url}/metrics", headers={"accept": accept})
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    families = list(parse_openmetrics(response.text))  # type: ignore[no-untyped-call]
    assert {f.name for f in families} >= {"capgo_up", "capgo_app_devices", "capgo_org_info"}

    class Families:
        def collect(self) -> list[Any]:
            return families

    _promtool_lint(promtool, render_text(Families()))
