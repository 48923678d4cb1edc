"""POST /private/stats/insights: UTC day windows ending tomorrow, defaults, limits, errors,
and an event log consistent with the app's devices and bundles."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from capgo_exporter.api.insights import DEFAULT_FAILURE_ACTIONS
from capgo_exporter.sim import Simulator
from tests.clock import day
from tests.sim.conftest import APP, FakeClock, client_for, make_sim

ROUTE = "/private/stats/insights"


def _insights(client: httpx.Client, **body: Any) -> Any:
    r = client.post(ROUTE, json={"appId": APP, **body})
    assert r.status_code == 200, r.text
    return r.json()


def _error(client: httpx.Client, body: Any) -> str:
    r = client.post(ROUTE, json=body)
    assert r.status_code == 400, r.text
    return str(r.json()["error"])


@pytest.mark.parametrize("days", [1, 7, 30])
def test_window_is_whole_utc_days_ending_tomorrow(client: httpx.Client, days: int) -> None:
    period = _insights(client, days=days)["period"]  # today is the pinned day, tomorrow day(1)
    assert period["requested_days"] == days
    assert period["start"] == f"{day(1 - days)}T00:00:00.000Z"
    assert period["end"] == f"{day(1)}T00:00:00.000Z"
    assert len(period["labels"]) == days
    assert period["labels"][0] == day(1 - days)
    assert period["labels"][-1] == day(0)


def test_default_is_seven_days_of_the_failure_actions(client: httpx.Client) -> None:
    answer = _insights(client)
    assert answer["period"]["requested_days"] == 7
    assert {row["action"] for row in answer["actions"]} <= set(DEFAULT_FAILURE_ACTIONS)
    assert _insights(client, actions=[]) == answer
    month = _insights(client, days=30)
    assert month["actions"], "a healthy release still reports a few failures in a month"
    assert {row["action"] for row in month["actions"]} <= set(DEFAULT_FAILURE_ACTIONS)


def test_bad_days_unknown_action_and_missing_app_are_400(client: httpx.Client) -> None:
    assert _error(client, {"appId": APP, "days": 2}) == "invalid_days"
    assert _error(client, {"appId": APP, "days": "7"}) == "invalid_days"
    assert _error(client, {"appId": APP, "actions": ["set", "explode"]}) == "invalid_body"
    assert _error(client, {"days": 7}) == "invalid_body"


def test_a_key_without_read_logs_on_the_app_is_app_access_denied(sim: Simulator) -> None:
    with client_for(sim, "globex-key") as other_org:
        assert _error(other_org, {"appId": APP}) == "app_access_denied"
    with client_for(sim) as client:
        assert _error(client, {"appId": "com.nobody.here"}) == "app_access_denied"


def test_totals_agree_across_actions_versions_daily_and_summary(client: httpx.Client) -> None:
    answer = _insights(client, actions=["set", "get", "download_complete"])
    by_action = {row["action"]: row for row in answer["actions"]}
    for action, row in by_action.items():
        pairs = [v for v in answer["versions"] if v["action"] == action]
        assert sum(v["total"] for v in pairs) == row["total"]  # < 30 pairs: nothing cut
        assert sum(d["total"] for d in answer["daily"] if d["action"] == action) == row["total"]
    assert answer["summary"]["total"] == sum(r["total"] for r in answer["actions"])
    assert answer["summary"]["action_count"] == 3


def test_events_name_the_bundles_devices_run_and_never_exceed_them(sim: Simulator) -> None:
    with client_for(sim) as client:
        answer = _insights(client, days=30, actions=["set"])
    live = {b.name for b in sim.world.live_bundles(APP)}
    log = sim.world.events[APP]
    for row in answer["versions"]:
        assert row["version_name"] in live
        assert 0 < row["device_count"] <= log.population(row["version_name"])


def test_top_limits_hold_per_call(clock: FakeClock) -> None:
    sim = make_sim(clock, bundles_per_app=40, devices_per_app=200_000)
    every = ["set", "get", "download_complete", *DEFAULT_FAILURE_ACTIONS]
    with client_for(sim) as client:
        answer = _insights(client, days=30, actions=every)
    assert len(answer["versions"]) == 30
    assert len(answer["devices"]) == 30
    totals = [v["total"] for v in answer["versions"]]
    assert totals == sorted(totals, reverse=True)
    assert len(answer["actions"]) <= 20


def test_the_window_moves_with_the_clock_at_utc_midnight(clock: FakeClock, sim: Simulator) -> None:
    with client_for(sim) as client:
        before = _insights(client, days=1)
        midnight = datetime.combine(clock.now.date() + timedelta(days=1), datetime.min.time())
        to_midnight = midnight.replace(tzinfo=clock.now.tzinfo) - clock.now
        clock.advance(seconds=to_midnight.total_seconds() - 60)  # 23:59 the same day
        assert _insights(client, days=1)["period"] == before["period"]
        clock.advance(minutes=1)
        assert _insights(client, days=1)["period"]["start"] == f"{day(1)}T00:00:00.000Z"


def test_only_the_bad_release_fails_far_above_the_rest(clock: FakeClock) -> None:
    sim = make_sim(clock, bad_release_apps=frozenset({0}))
    with client_for(sim) as client:
        sets = _insights(client, actions=["set"])["versions"]
        failures = _insights(client)["versions"]
    installs = {v["version_name"]: v["total"] for v in sets}
    failed: dict[str, int] = {}
    for row in failures:
        failed[row["version_name"]] = failed.get(row["version_name"], 0) + row["total"]
    ratio = {b: failed.get(b, 0) / (failed.get(b, 0) + n) for b, n in installs.items() if n >= 20}
    bad = sim.world.events[APP].bad_bundle
    assert bad is not None
    assert ratio[bad] > 0.15
    assert all(r < 0.05 for b, r in ratio.items() if b != bad)
    others = [log.bad_bundle for app, log in sim.world.events.items() if app != APP]
    assert others
    assert all(bundle is None for bundle in others)
