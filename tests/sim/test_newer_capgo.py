"""``SimConfig(newer_capgo=True)``: what Capgo added after 4bc7d83f, and the older behaviour
by default, so clients are tested against both."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from capgo_exporter.sim import Simulator
from capgo_exporter.sim.timeutil import to_ms
from tests.sim.conftest import APP, NOW, FakeClock, client_for, make_sim


@pytest.fixture
def newer(clock: FakeClock) -> Iterator[httpx.Client]:
    with client_for(make_sim(clock, newer_capgo=True)) as client:
        yield client


def test_an_empty_bundle_page_is_200_empty_on_newer_capgo(
    newer: httpx.Client, client: httpx.Client
) -> None:
    r = newer.get("/bundle", params={"app_id": APP, "page": "1"})
    assert (r.status_code, r.json()) == (200, [])
    assert client.get("/bundle", params={"app_id": APP, "page": "1"}).status_code == 400


def _native_usage(client: httpx.Client, start: str, end: str) -> dict[str, object]:
    r = client.get(f"/statistics/app/{APP}/native_usage", params={"from": start, "to": end})
    assert r.status_code == 200
    body: dict[str, object] = r.json()
    return body


def test_active_devices_count_the_devices_seen_in_the_range(clock: FakeClock) -> None:
    sim = make_sim(clock, newer_capgo=True)
    start, end = NOW.date() - timedelta(days=29), NOW.date() + timedelta(days=1)
    with client_for(sim) as client:
        body = _native_usage(client, start.isoformat(), end.isoformat())
    store = sim._world.devices[APP]
    low, high = (to_ms(NOW.replace(year=d.year, month=d.month, day=d.day, hour=0)) for d in
                 (start, end))  # fmt: skip
    expected = Counter(
        f.platform
        for f in (store.facts(i) for i in range(store.count))
        if low <= f.updated_ms < high
    )
    active = body["activeDevices"]
    assert isinstance(active, dict)
    assert {p: active[p] for p in ("android", "ios", "electron")} == {
        p: expected[p] for p in ("android", "ios", "electron")
    }
    assert active["total"] == sum(expected.values()) > 0
    assert "previousPeriodActiveDevices" in body


def test_active_devices_are_absent_on_older_capgo(client: httpx.Client) -> None:
    body = _native_usage(client, "2026-02-14", "2026-03-16")
    assert "activeDevices" not in body


def test_devices_by_custom_id(clock: FakeClock) -> None:
    sim = make_sim(clock, newer_capgo=True)
    with client_for(sim) as client:
        everyone = client.get("/device", params={"app_id": APP, "limit": 1000}).json()["data"]
        wanted = next(d["custom_id"] for d in everyone if d["custom_id"])
        r = client.get("/device", params={"app_id": APP, "custom_id": f" {wanted} "})
        assert r.status_code == 200
        assert {d["device_id"] for d in r.json()["data"]} == {
            d["device_id"] for d in everyone if d["custom_id"] == wanted
        }
        r = client.get("/device", params={"app_id": APP, "custom_id": "x" * 37})
        assert (r.status_code, r.json()["error"]) == (400, "invalid_custom_id")


def test_custom_id_is_ignored_by_older_capgo(client: httpx.Client) -> None:
    r = client.get("/device", params={"app_id": APP, "custom_id": "nobody", "limit": 1000})
    assert len(r.json()["data"]) == 300


def test_current_bundle(newer: httpx.Client, client: httpx.Client) -> None:
    channel = newer.get("/channel", params={"app_id": APP, "channel": "production"}).json()
    assert "updatePackage" in channel
    r = newer.get("/channel/current-bundle", params={"app_id": APP, "channel": "production"})
    assert r.status_code == 200
    assert r.json()["bundle_name"] == channel["version"]["name"]
    assert r.json()["bundle_id"] == channel["version"]["id"]
    older = client.get("/channel/current-bundle", params={"app_id": APP, "channel": "production"})
    assert older.status_code == 404
    assert (
        "updatePackage"
        not in client.get("/channel", params={"app_id": APP, "channel": "production"}).json()
    )


def test_current_bundle_needs_channel_read(clock: FakeClock) -> None:
    sim: Simulator = make_sim(clock, newer_capgo=True)
    with client_for(sim, "member-key") as member:
        r = member.get("/channel/current-bundle", params={"app_id": APP, "channel": "production"})
    assert r.status_code == 400
