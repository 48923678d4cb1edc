"""``admin events`` against the simulator over TCP (pinned clock): what it prints is what the
route answers, and every mistake is one line with the documented exit status."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from capgo_exporter.api.insights import ROUTE
from capgo_exporter.sim import SimConfig, Simulator
from tests.clock import day, pinned_now

from .conftest import APP, KEY, Admin, served

# A key of the same organization whose role reads nothing of its apps (no app.read_logs).
NO_LOGS_KEY = "0b7e5c2a-4d1f-4a3e-8c6b-9e2d1f0a7b3c"


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch, clean_env: None) -> Iterator[Simulator]:
    """One org, two apps; the first (com.acme.shop) ships a bad release."""
    simulator = Simulator(
        SimConfig(
            seed=3,
            orgs=1,
            apps_per_org=2,
            devices_per_app=2000,
            keys={KEY: "org_super_admin", NO_LOGS_KEY: "org_member"},
            bad_release_apps=frozenset({0}),
        ),
        clock=pinned_now,
    )
    with served(simulator, monkeypatch):
        yield simulator


def _route(sim: Simulator, body: dict[str, Any]) -> Any:
    with httpx.Client(transport=sim.sync_transport(), base_url="http://sim") as http:
        answer = http.post(ROUTE, json=body, headers={"capgkey": KEY})
    assert answer.status_code == 200, answer.text
    return answer.json()


def _read_fields(answer: Any) -> dict[str, Any]:
    """The route's answer restricted to what the command prints (the fields the client reads)."""
    keep = {
        "summary": ("total", "device_count", "action_count"),
        "actions": ("action", "total", "device_count", "version_count", "latest_version_name"),
        "daily": ("date", "action", "total"),
        "versions": ("action", "version_name", "total", "device_count"),
        "period": ("requested_days", "start", "end", "labels"),
    }

    def pick(row: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
        return {f: row[f] for f in fields}

    return {
        part: [pick(r, fields) for r in answer[part]]
        if isinstance(answer[part], list)
        else pick(answer[part], fields)
        for part, fields in keep.items()
    }


@pytest.mark.parametrize("days", [1, 3, 7, 30])
def test_json_is_one_line_with_what_the_route_answers(
    sim: Simulator, admin: Admin, days: int
) -> None:
    printed = admin.ok("events", APP, "--days", str(days), "--json")
    assert len(printed.out.splitlines()) == 1
    doc = printed.json()
    assert doc.pop("app_id") == APP
    assert doc == _read_fields(_route(sim, {"appId": APP, "days": days}))
    assert doc["period"]["labels"][-1] == day(0)  # today, whatever the window
    assert len(doc["period"]["labels"]) == days


def test_actions_are_given_as_a_list_or_repeated(sim: Simulator, admin: Admin) -> None:
    argv = ("events", APP, "--actions", "set,app_crash", "--actions", "set", "-o")
    doc = admin.ok(*argv, "json").json()
    asked = {"appId": APP, "days": 7, "actions": ["set", "app_crash"]}
    assert {row["action"] for row in doc["actions"]} == {"set", "app_crash"}
    assert doc["summary"] == _read_fields(_route(sim, asked))["summary"]


def test_the_table_shows_summary_actions_bundles_and_every_day(
    sim: Simulator, admin: Admin
) -> None:
    answer = _route(sim, {"appId": APP, "days": 7})
    printed = admin.ok("events", APP, "-o", "table").out
    summary, actions, bundles, daily = printed.rstrip("\n").split("\n\n")
    assert summary.splitlines() == [
        f"app      {APP}",
        f"window   7 days, {day(-6)} to {day(0)} (UTC)",
        f"events   {answer['summary']['total']}",
        f"devices  {answer['summary']['device_count']}",
        f"actions  {answer['summary']['action_count']}",
    ]
    assert actions.splitlines()[0].split() == [
        "ACTION", "EVENTS", "DEVICES", "BUNDLES", "LATEST_BUNDLE"
    ]  # fmt: skip
    top = answer["actions"][0]
    assert actions.splitlines()[1].split()[:3] == [
        top["action"], str(top["total"]), str(top["device_count"])
    ]  # fmt: skip
    # The bad release leads the bundles, as on the console's page.
    worst = answer["versions"][0]
    assert bundles.splitlines()[1].split() == [
        worst["version_name"], worst["action"], str(worst["total"]), str(worst["device_count"])
    ]  # fmt: skip
    assert len(bundles.splitlines()) == 1 + len(answer["versions"])
    rows = daily.splitlines()
    assert [row.split()[0] for row in rows[1:]] == [day(offset) for offset in range(-6, 1)]
    per_day = {row.split()[0]: int(row.split()[1]) for row in rows[1:]}
    for date, total in per_day.items():
        assert total == sum(d["total"] for d in answer["daily"] if d["date"] == date)


def test_an_app_without_events_prints_zeros_not_an_error(sim: Simulator, admin: Admin) -> None:
    # The simulated fleets never report an uninstall: an empty answer.
    printed = admin.ok("events", APP, "--actions", "uninstall", "-o", "table").out
    assert "events   0" in printed
    assert "no events of these actions in the window" in printed
    doc = admin.ok("events", APP, "--actions", "uninstall", "--json").json()
    assert (doc["summary"]["total"], doc["actions"], doc["versions"]) == (0, [], [])


@pytest.mark.parametrize("days", ["5", "0", "week"])
def test_a_bad_window_is_one_line_and_exit_2_before_any_request(
    sim: Simulator, admin: Admin, days: str
) -> None:
    result = admin("events", APP, "--days", days)
    assert result.code == 2
    errors = [line for line in result.err.splitlines() if "error:" in line]
    assert len(errors) == 1
    assert "--days" in errors[0]
    assert "1, 3, 7 or 30" in errors[0]
    assert result.out == ""
    assert sim.request_counts() == {}


def test_an_unknown_action_is_one_line_naming_it_and_exit_2(sim: Simulator, admin: Admin) -> None:
    result = admin("events", APP, "--actions", "set,sett")
    assert result.code == 2
    assert result.out == ""
    [line] = result.err.splitlines()
    assert line.startswith("capgo-exporter: --actions set,sett:")
    assert "'sett'" in line


def test_an_empty_action_name_is_refused_before_any_request(sim: Simulator, admin: Admin) -> None:
    result = admin("events", APP, "--actions", "set,,app_crash")
    assert result.code == 2
    assert "empty name" in result.err
    assert sim.request_counts() == {}


def test_a_key_without_read_logs_is_one_line_saying_what_it_needs(
    sim: Simulator, admin: Admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAPGO_API_KEY", NO_LOGS_KEY)
    result = admin("events", APP)
    assert result.code == 1
    assert result.out == ""
    [line] = result.err.splitlines()
    assert "app_access_denied" in line
    assert f"app.read_logs on {APP}" in line
    assert NO_LOGS_KEY not in result.err


def test_a_route_that_is_gone_is_one_line_and_exit_1(
    admin: Admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = "https://gone.capgo.test"
    monkeypatch.setenv("CAPGO_API_URL", base)
    monkeypatch.setenv("CAPGO_API_KEY", KEY)
    with respx.mock(base_url=base) as api:
        api.post(ROUTE).respond(404, json={"error": "not_found", "message": "Not Found"})
        result = admin("events", APP)
    assert result.code == 1
    [line] = result.err.splitlines()
    assert "HTTP 404" in line
    assert "no longer serves this private route" in line


def test_demo_shows_the_bad_release(admin: Admin) -> None:
    # --demo's first app ships a bad bundle: its crashes lead the failures.
    doc = admin.ok("--demo", "events", APP, "--json").json()
    worst = doc["versions"][0]
    assert worst["action"] in {"app_crash", "app_crash_native", "update_fail"}
    assert worst["total"] > 10 * doc["versions"][-1]["total"]


def test_app_id_is_an_operand_and_the_older_flag_still_works(sim: Simulator, admin: Admin) -> None:
    operand = admin.ok("events", APP, "--days", "7", "--json").json()
    flag = admin.ok("events", "--app-id", APP, "--days", "7", "--json").json()
    both = admin.ok("events", APP, "--app-id", APP, "--days", "7", "--json").json()
    assert operand == flag == both


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["events"], "give APP_ID"), (["events", APP, "--app-id", "com.other.app"], "differ")],
)
def test_one_app_or_a_usage_error(
    sim: Simulator, admin: Admin, argv: list[str], message: str
) -> None:
    result = admin(*argv)
    assert result.code == 2
    assert message in result.err
    assert sim.request_counts() == {}


def test_json_is_an_alias_of_output_json_on_every_command(sim: Simulator, admin: Admin) -> None:
    # `org list --json` once printed the whole usage: --json was known to `events` alone.
    assert admin.ok("org", "list", "--json").out == admin.ok("org", "list", "-o", "json").out
    assert admin.ok("channel", "get", APP, "beta", "--json").json()["name"] == "beta"
