"""/device: cursor paging, filters, single lookups, overrides, legacy shape."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from capgo_exporter.sim import Simulator
from tests.sim.conftest import APP, FakeClock, client_for, make_sim


def _walk(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {"app_id": APP, **params, **({"cursor": cursor} if cursor else {})}
        page = client.get("/device", params=query).json()
        rows += page["data"]
        if not page["hasMore"]:
            assert "nextCursor" not in page
            return rows
        cursor = page["nextCursor"]


def test_default_page_is_50_sorted_by_device_id(client: httpx.Client) -> None:
    page = client.get("/device", params={"app_id": APP}).json()
    ids = [d["device_id"] for d in page["data"]]
    assert len(ids) == 50
    assert ids == sorted(ids)
    assert page["hasMore"] is True
    assert page["nextCursor"] == f"{page['data'][-1]['updated_at']}|{ids[-1]}"
    assert set(page["data"][0]) >= {
        "updated_at",
        "device_id",
        "custom_id",
        "is_prod",
        "is_emulator",
        "install_source",
        "version_name",
        "version",
        "app_id",
        "platform",
        "plugin_version",
        "os_version",
        "version_build",
        "key_id",
        "country_code",
    }


def test_walk_returns_every_device_once(client: httpx.Client) -> None:
    rows = _walk(client, limit=7)
    assert len({d["device_id"] for d in rows}) == len(rows) == 300


@pytest.mark.serial  # asserts how long something takes
def test_walking_100k_devices_with_limit_999_takes_101_requests(clock: FakeClock) -> None:
    sim = make_sim(clock, orgs=1, apps_per_org=1, devices_per_app=100_000)
    started = time.perf_counter()
    with client_for(sim) as c:
        rows = _walk(c, limit=999)
    elapsed = time.perf_counter() - started
    assert len(rows) == 100_000
    assert sim.request_counts() == {"GET /device": 101}
    assert elapsed < 15, elapsed


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"limit": "0"}, "invalid_limit"),
        ({"limit": "1.5"}, "invalid_limit"),
        ({"updated_at": "2026-02-31T00:00:00Z"}, "invalid_updated_at"),
        ({"updated_at": "yesterday"}, "invalid_updated_at"),
        ({"order": "up"}, "invalid_order"),
        ({"cursor": "garbage"}, "invalid_cursor"),
        ({}, "missing_app_id"),
    ],
)
def test_parameter_errors(client: httpx.Client, params: dict[str, str], code: str) -> None:
    query = {"app_id": APP, **params} if params else {}
    r = client.get("/device", params=query)
    assert (r.status_code, r.json()["error"]) == (400, code)


def test_updated_at_filter_is_strictly_after_in_both_formats(client: httpx.Client) -> None:
    everything = _walk(client, limit=100)
    pivot = sorted(d["updated_at"] for d in everything)[200]
    newer = _walk(client, updated_at=pivot, limit=30)
    assert len(newer) == 99
    assert all(d["updated_at"] > pivot for d in newer)
    sql_format = pivot[:10] + " " + pivot[11:19]
    assert len(_walk(client, updated_at=sql_format)) >= 99


def test_order_by_updated_at(client: httpx.Client) -> None:
    ascending = [d["updated_at"] for d in _walk(client, order="asc", limit=40)]
    descending = [d["updated_at"] for d in _walk(client, order="desc", limit=40)]
    assert ascending == sorted(ascending)
    assert len(ascending) == 300
    assert descending == sorted(ascending, reverse=True)


def test_touched_and_added_devices_show_up_after_the_high_water_mark(
    sim: Simulator, client: httpx.Client, clock: FakeClock
) -> None:
    mark = max(d["updated_at"] for d in _walk(client, limit=999))
    clock.advance(minutes=5)
    touched = sim.touch_devices(APP, 3)
    added = sim.add_devices(APP, 2)
    fresh = _walk(client, updated_at=mark)
    assert {d["device_id"] for d in fresh} == set(touched) | set(added)
    assert len(_walk(client, limit=999)) == 302


def test_single_device_has_a_country_and_unknown_is_404(client: httpx.Client) -> None:
    first = client.get("/device", params={"app_id": APP, "limit": 1}).json()["data"][0]
    assert first["country_code"] is None
    one = client.get(
        "/device", params={"app_id": APP, "device_id": first["device_id"].upper(), "limit": "1.5"}
    ).json()
    assert one["device_id"] == first["device_id"]
    assert one["country_code"]
    r = client.get("/device", params={"app_id": APP, "device_id": "ffffffff-0000"})
    assert (r.status_code, r.json()["error"]) == (404, "device_not_found")


def test_custom_id_mode_false_still_filters(client: httpx.Client) -> None:
    rows = _walk(client, customIdMode="false", limit=100)
    assert rows
    assert all(d["custom_id"] for d in rows)
    assert len(rows) < 300


def test_channel_override_lifecycle(client: httpx.Client) -> None:
    device = client.get("/device", params={"app_id": APP, "limit": 1}).json()["data"][0]
    body = {"app_id": APP, "device_id": device["device_id"], "channel": "beta"}
    assert client.post("/device", json=body).json() == {"status": "ok"}
    one = client.get("/device", params={"app_id": APP, "device_id": device["device_id"]}).json()
    assert one["channel"] == "beta"
    client.delete("/device", params={"app_id": APP, "device_id": device["device_id"]})
    one = client.get("/device", params={"app_id": APP, "device_id": device["device_id"]}).json()
    assert "channel" not in one


@pytest.mark.parametrize(
    ("extra", "status", "code"),
    [
        ({"channel": "production"}, 400, "public_channel_override"),
        ({"channel": "nope"}, 404, "channel_not_found"),
        ({"version_id": 3}, 400, "invalid_version_id"),
    ],
)
def test_override_errors(
    client: httpx.Client, extra: dict[str, Any], status: int, code: str
) -> None:
    r = client.post("/device", json={"app_id": APP, "device_id": "abc", **extra})
    assert (r.status_code, r.json()["error"]) == (status, code)


def test_post_without_channel_and_delete_of_unknown_are_ok(client: httpx.Client) -> None:
    assert client.post("/device", json={"app_id": APP, "device_id": "x"}).status_code == 200
    assert client.delete("/device", params={"app_id": APP, "device_id": "nope"}).json() == {
        "status": "ok"
    }
    assert (
        client.post("/device", json={"app_id": APP}).json()["error"]
        == "missing_device_id_or_app_id"
    )


def test_some_devices_have_a_generated_override(client: httpx.Client) -> None:
    rows = _walk(client, limit=999)
    assert {d["channel"] for d in rows if "channel" in d} <= {"beta", "staging"}
    assert any("channel" in d for d in rows)


def test_legacy_mode_answers_a_bare_array_by_page(clock: FakeClock) -> None:
    sim = make_sim(clock, legacy_device_paging=True)
    with client_for(sim) as c:
        first = c.get("/device", params={"app_id": APP}).json()
        last = c.get("/device", params={"app_id": APP, "page": "5"}).json()
        beyond = c.get("/device", params={"app_id": APP, "page": "6"}).json()
    assert isinstance(first, list)
    assert len(first) == 50
    assert len(last) == 50
    assert beyond == []
