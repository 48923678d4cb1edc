"""End to end for release health: the daemon on the --demo account (its simulator served over
TCP, so the test can ask it which release is bad), a real Prometheus loading the shipped rules
file.

``CapgoBundleFailureRateHigh`` must become active (pending: it holds for 15 minutes before
firing) for the demo's bad bundle of ``com.acme.shop``, and for nothing else; no release-health
alert may be active on the healthy apps."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from capgo_exporter.daemon import start_demo
from capgo_exporter.mixin.config import Config
from capgo_exporter.mixin.release_rules import APP_CRASHES_PER_DAY, BUNDLE_FAILURE_RATIO
from capgo_exporter.settings import load_settings
from capgo_exporter.sim import Simulator
from tests.clock import pinned_clock

from .conftest import (
    PrometheusQuery,
    daemon_env,
    exporter_and_prometheus,
    scrape_every_second,
    wait_until,
)

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "deploy" / "prometheus" / "capgo.rules.yml"
RELEASE_ALERTS = ("CapgoBundleFailureRateHigh", "CapgoAppCrashesRising")


@dataclass
class Stack:
    sim: Simulator
    prometheus: PrometheusQuery
    apps: list[str]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("release")
    # The simulator --demo builds, and its key, served over TCP instead of in process.
    # On the pinned day: which healthy bundle a day's events would push over a raw threshold
    # depends on the day (tests/mixin/test_demo_release_days.py walks every day of a year).
    clock = pinned_clock()
    demo = start_demo(load_settings({}, environ={}, home=None), clock)
    sim, key = demo.simulator, demo.settings.api_key
    assert key is not None
    apps = [app for org in sim.org_ids() for app in sim.app_ids(org)]
    with sim.serve_tcp() as sim_url:
        env = daemon_env(
            clock,
            CAPGO_API_KEY=key.get_secret_value(),
            CAPGO_API_URL=sim_url,
            CAPGO_EXPORTER_CAPGO_REQUESTS_PER_MINUTE="6000",
            CAPGO_EXPORTER_COLLECTORS_ENABLED="inventory,events",
        )
        with exporter_and_prometheus(tmp, env, scrape_every_second(RULES)) as (_, query):
            # Every app's failure ratio recorded, then a few more evaluations of the alerts.
            wait_until(
                lambda: (
                    len(query.vector(f"count by (app_id) ({BUNDLE_FAILURE_RATIO})")) == len(apps)
                ),
                30,
                f"failure ratios of every app (logs in {tmp})",
            )
            time.sleep(3)
            yield Stack(sim, query, apps)


def _active(stack: Stack) -> dict[str, set[tuple[str, str]]]:
    """Release-health alerts pending or firing: alertname → {(app_id, bundle)}."""
    response = httpx.get(f"{stack.prometheus.url}/api/v1/alerts", timeout=10)
    active: dict[str, set[tuple[str, str]]] = {name: set() for name in RELEASE_ALERTS}
    for alert in response.json()["data"]["alerts"]:
        labels = alert["labels"]
        if labels["alertname"] in active and alert["state"] in ("pending", "firing"):
            active[labels["alertname"]].add((labels["app_id"], labels.get("bundle", "")))
    return active


def test_the_failure_alert_is_active_for_the_bad_bundle_only(stack: Stack) -> None:
    bad = {
        (app, bundle)
        for app in stack.apps
        if (bundle := stack.sim.world.events[app].bad_bundle) is not None
    }
    assert {app for app, _ in bad} == {"com.acme.shop"}
    assert _active(stack)["CapgoBundleFailureRateHigh"] == bad


def test_no_release_alert_is_active_on_a_healthy_app(stack: Stack) -> None:
    active = _active(stack)
    assert active["CapgoAppCrashesRising"] == set()
    assert {app for app, _ in active["CapgoBundleFailureRateHigh"]} == {"com.acme.shop"}


def test_healthy_apps_stay_under_the_crash_floor(stack: Stack) -> None:
    # CapgoAppCrashesRising compares with the previous window, which a fresh Prometheus has
    # not seen; its floor is what keeps healthy apps quiet whatever that history, so check it.
    per_day = {
        dict(labels)["app_id"]: value
        for labels, value in stack.prometheus.vector(APP_CRASHES_PER_DAY).items()
    }
    assert set(per_day) == set(stack.apps)
    floor = Config().crash_min_per_day
    assert {app for app, crashes in per_day.items() if crashes > floor} == {"com.acme.shop"}
