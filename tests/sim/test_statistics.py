"""/statistics: day windows, cumulative vs per-day, storage semantics, access codes."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest

from capgo_exporter.sim import Simulator
from tests.clock import day
from tests.sim.conftest import APP, UNPAID_APP, client_for

# A week of history, two weeks before the pinned day.
WEEK = {"from": day(-14), "to": day(-7)}


def _stats(client: httpx.Client, path: str, **params: str) -> Any:
    r = client.get(path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_to_is_exclusive_and_dates_are_iso_timestamps(client: httpx.Client) -> None:
    rows = _stats(client, f"/statistics/app/{APP}", **WEEK)
    assert [r["date"] for r in rows] == [f"{day(d)}T00:00:00.000Z" for d in range(-14, -7)]
    assert set(rows[0]) == {
        "date",
        "mau",
        "storage",
        "storage_byte_hours",
        "bandwidth",
        "build_time_seconds",
    }  # no `get` for API keys


def test_cumulative_is_the_running_sum_of_per_day(client: httpx.Client) -> None:
    cumulative = _stats(client, f"/statistics/app/{APP}", **WEEK)
    daily = _stats(client, f"/statistics/app/{APP}", noAccumulate="true", **WEEK)
    for field in ("mau", "bandwidth", "build_time_seconds", "storage"):
        running = 0
        for per_day, total in zip(daily, cumulative, strict=True):
            running += per_day[field]
            assert total[field] == running, field
    assert daily[0]["mau"] > 0


def test_storage_is_total_bytes_and_follows_bundle_deletion(
    client: httpx.Client, sim: Simulator
) -> None:
    params = {"from": day(-1), "to": day(1)}
    before = _stats(client, f"/statistics/app/{APP}", **params)[-1]["storage"]
    live = [b for b in sim.world.bundles[APP] if not b.deleted]
    assert before == sum(b.size for b in live)
    victim = next(
        b for b in client.get("/bundle", params={"app_id": APP}).json() if b["name"] == "1.0.2"
    )
    client.delete("/bundle", params={"app_id": APP, "version": "1.0.2"})
    after = _stats(client, f"/statistics/app/{APP}", **params)[-1]["storage"]
    size = next(b.size for b in sim.world.bundles[APP] if b.id == victim["id"])
    assert before - after == size


def test_days_after_today_are_dropped(client: httpx.Client) -> None:
    up_to_today = _stats(client, f"/statistics/app/{APP}", **{"from": day(-5), "to": day()})
    with_today = _stats(client, f"/statistics/app/{APP}", **{"from": day(-5), "to": day(5)})
    assert len(up_to_today) == 5
    assert with_today[-1]["date"].startswith(day())


@pytest.mark.parametrize(
    "params",
    [{"to": day(-7)}, {"from": "soon", "to": day(-7)}, {**WEEK, "noAccumulate": "yes"}],
)
def test_bad_parameters_are_invalid_body(client: httpx.Client, params: dict[str, str]) -> None:
    r = client.get(f"/statistics/app/{APP}", params=params)
    assert (r.status_code, r.json()["error"]) == (400, "invalid_body")


def test_graph_parameter_is_ignored(client: httpx.Client) -> None:
    assert len(_stats(client, f"/statistics/app/{APP}", graph="mau", **WEEK)) == 7


def test_access_errors(client: httpx.Client, sim: Simulator) -> None:
    r = client.get("/statistics/app/com.nobody.app", params=WEEK)
    assert (r.status_code, r.json()["error"]) == (401, "no_access_to_app")
    r = client.get("/statistics/org/not-a-uuid", params=WEEK)
    assert (r.status_code, r.json()["error"]) == (401, "no_access_to_organization")
    r = client.get(f"/statistics/app/{UNPAID_APP}", params=WEEK)
    assert (r.status_code, r.json()["error"]) == (402, "subscription_required")
    with client_for(sim, "member-key") as member:  # org_member has no app permission
        assert member.get(f"/statistics/app/{APP}", params=WEEK).status_code == 401


def test_org_stats_sum_the_apps_and_breakdown(client: httpx.Client, sim: Simulator) -> None:
    org_id = sim.org_ids()[0]
    org_rows = _stats(client, f"/statistics/org/{org_id}", **WEEK)
    per_app = [_stats(client, f"/statistics/app/{a}", **WEEK) for a in sim.app_ids(org_id)]
    for i, row in enumerate(org_rows):
        for field in ("mau", "storage", "bandwidth"):
            assert row[field] == sum(rows[i][field] for rows in per_app)
    split = _stats(client, f"/statistics/org/{org_id}", breakdown="true", **WEEK)
    assert split["global"] == org_rows
    assert {r["app_id"] for r in split["byApp"]} == set(sim.app_ids(org_id))


def test_user_stats_need_every_org_paying(client: httpx.Client, sim: Simulator) -> None:
    assert client.get("/statistics/user", params=WEEK).status_code == 402
    with client_for(sim, "admin-key") as admin:  # bound to both orgs too
        assert admin.get("/statistics/user", params=WEEK).status_code == 402
    scoped = make_paying_sim(sim)
    with client_for(scoped) as c:
        assert len(_stats(c, "/statistics/user", **WEEK)) == 7


def make_paying_sim(sim: Simulator) -> Simulator:
    return Simulator(replace(sim.config, unpaid_orgs=frozenset()), clock=sim.now)


def test_bundle_usage_and_native_usage_shapes(client: httpx.Client) -> None:
    usage = _stats(client, f"/statistics/app/{APP}/bundle_usage", **WEEK)
    assert usage["labels"] == [day(d) for d in range(-14, -6)]  # `to` included
    assert abs(sum(d["data"][0] for d in usage["datasets"]) - 100) < 0.1
    assert all(len(d["metaCounts"]) == 8 for d in usage["datasets"])
    native = _stats(client, f"/statistics/app/{APP}/native_usage", **WEEK)
    assert {d["label"].split()[0] for d in native["datasets"]} == {"iOS", "Android", "Electron"}
    assert native["latestVersion"]["name"] == "1.2.0"
    assert isinstance(native["latestVersion"]["percentage"], str)
