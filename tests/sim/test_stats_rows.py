"""POST /private/stats: raw rows over [rangeStart, rangeEnd), filters, grouping, limits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from capgo_exporter.sim import Simulator
from capgo_exporter.sim.raw_events import RawEvent
from capgo_exporter.sim.timeutil import iso_z, to_ms
from tests.sim.conftest import APP, NOW, client_for

ROUTE = "/private/stats"
T0 = to_ms(NOW - timedelta(minutes=30))


def _events(sim: Simulator) -> list[RawEvent]:
    store = sim.world.devices[APP]
    a, b = store.device_id(0), store.device_id(1)
    events = [
        RawEvent(T0, a, "set", "1.2.3"),
        RawEvent(T0, a, "set", "1.2.3"),  # the same event twice: one row
        RawEvent(T0 + 1, a, "download_fail", "1.2.3", '{"duration_ms": 1200}'),
        RawEvent(T0 + 2, b, "set", "1.2.2"),
        RawEvent(T0 + 60_000, b, "app_crash", "1.2.2"),
        RawEvent(T0 - 1, b, "set", "1.2.2"),  # before the range
    ]
    with sim.world.lock:
        sim.world.raw_events[APP].add(events)
    return events


def _rows(client: httpx.Client, **body: Any) -> list[dict[str, Any]]:
    r = client.post(ROUTE, json={"appId": APP, **body})
    assert r.status_code == 200, r.text
    rows = r.json()
    assert isinstance(rows, list)
    return rows


def _error(client: httpx.Client, **body: Any) -> str:
    r = client.post(ROUTE, json={"appId": APP, **body})
    assert r.status_code == 400, r.text
    return str(r.json()["error"])


def test_rows_of_the_range_grouped_with_their_fields(sim: Simulator, client: httpx.Client) -> None:
    events = _events(sim)
    rows = _rows(client, rangeStart=T0, rangeEnd=T0 + 60_000)
    assert len(rows) == 3  # the duplicate is one row; the crash is at the range's end
    first = min(rows, key=lambda r: (r["created_at"], r["action"]))
    assert first == {
        "app_id": APP,
        "device_id": events[0].device_id,
        "action": "set",
        "version_name": "1.2.3",
        "metadata": None,
        "created_at": iso_z(NOW - timedelta(minutes=30)),
    }
    failed = [r for r in rows if r["action"] == "download_fail"]
    assert failed[0]["metadata"] == {"duration_ms": 1200}


def test_ranges_as_iso_or_epoch_ms_strings(sim: Simulator, client: httpx.Client) -> None:
    _events(sim)
    as_number = _rows(client, rangeStart=T0, rangeEnd=T0 + 60_001)
    as_text = _rows(client, rangeStart=str(T0), rangeEnd=str(T0 + 60_001))
    start, end = NOW - timedelta(minutes=30), NOW - timedelta(minutes=28, seconds=59)
    as_iso = _rows(client, rangeStart=iso_z(start), rangeEnd=iso_z(end))
    assert len(as_number) == 4
    assert as_number == as_text == as_iso


def test_actions_search_devices_order_and_limit(sim: Simulator, client: httpx.Client) -> None:
    events = _events(sim)
    span = {"rangeStart": T0 - 10, "rangeEnd": T0 + 120_000}
    assert {r["action"] for r in _rows(client, **span, actions=["set"])} == {"set"}
    assert len(_rows(client, **span, search="DURATION")) == 1  # metadata, any case
    assert len(_rows(client, **span, search="1.2.2")) == 3
    assert len(_rows(client, **span, devicesId=[events[3].device_id.upper()])) == 3
    newest = _rows(client, **span, order=[{"key": "created_at", "sortable": "desc"}], limit=2)
    assert [r["action"] for r in newest] == ["app_crash", "set"]
    assert len(_rows(client, **span, limit=1)) == 1
    assert len(_rows(client, **span, limit="many")) == 5  # invalid: the default (1,000)
    assert len(_rows(client, **span, limit=10**9)) == 5  # capped at 50,000


@pytest.mark.parametrize(
    "body",
    [{"limit": -1}, {"limit": 2.5}, {"actions": ["set", "explode"]}, {"rangeStart": "soon"}],
)
def test_bad_bodies_are_invalid_body(client: httpx.Client, body: dict[str, Any]) -> None:
    assert _error(client, **body) == "invalid_body"


def test_a_key_without_read_logs_on_the_app_is_refused(sim: Simulator) -> None:
    with client_for(sim, "globex-key") as other_org:
        r = other_org.post(ROUTE, json={"appId": APP})
    assert (r.status_code, r.json()["error"]) == (400, "app_access_denied")


def test_without_a_range_the_last_day(sim: Simulator, client: httpx.Client) -> None:
    _events(sim)
    assert len(_rows(client)) == 5
