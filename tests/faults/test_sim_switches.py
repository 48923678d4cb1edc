"""The simulator's fault switches and its arrival log, which the fault suite relies on."""

from __future__ import annotations

import json

import httpx
import pytest

from capgo_exporter.sim import SimConfig, Simulator
from capgo_exporter.sim.arrivals import Arrival, ArrivalLog
from tests.clock import pinned_now

APP = "com.acme.shop"


@pytest.fixture
def sim() -> Simulator:
    return Simulator(SimConfig(seed=1, orgs=1, apps_per_org=1, devices_per_app=10), pinned_now)


@pytest.fixture
def client(sim: Simulator) -> httpx.Client:
    return httpx.Client(
        transport=sim.sync_transport(), base_url="http://sim", headers={"capgkey": "demo"}
    )


def test_truncated_bodies_are_the_start_of_the_real_one(
    sim: Simulator, client: httpx.Client
) -> None:
    clean = client.get("/channel", params={"app_id": APP}).content
    sim.configure(malformed_rate=1.0, malformed_kind="truncated")
    for _ in range(5):
        answer = client.get("/channel", params={"app_id": APP})
        assert answer.status_code == 200
        assert answer.content == clean[: len(clean) // 2]


def test_non_json_bodies_are_an_html_page(sim: Simulator, client: httpx.Client) -> None:
    sim.configure(malformed_rate=1.0, malformed_kind="not_json")
    for _ in range(5):
        answer = client.get("/channel", params={"app_id": APP})
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "text/html"
        with pytest.raises(json.JSONDecodeError):
            answer.json()


def test_an_unknown_malformed_kind_is_refused(sim: Simulator) -> None:
    with pytest.raises(ValueError, match="malformed_kind"):
        sim.configure(malformed_kind="garbage")


def test_a_revoked_key_is_rejected_until_restored(sim: Simulator, client: httpx.Client) -> None:
    assert client.get("/app").status_code == 200
    key = sim.revoke_key("demo")
    answer = client.get("/app")
    assert (answer.status_code, answer.json()["error"]) == (401, "invalid_apikey")
    with pytest.raises(KeyError) as missing:
        sim.revoke_key("demo")
    assert "demo" not in str(missing.value)  # a key value is a secret, even in errors
    sim.restore_key(key)
    assert client.get("/app").status_code == 200


def test_arrivals_are_recorded_once_started_with_the_pauses_announced(
    sim: Simulator, client: httpx.Client
) -> None:
    client.get("/app")
    assert sim.arrivals.arrivals() == []  # off by default: a demo simulator runs for days
    sim.arrivals.start()
    sim.configure(rate_limit_per_min=60, rate_limit_burst=1)
    statuses = [client.get("/app").status_code for _ in range(3)]
    assert statuses == [200, 429, 429]
    arrivals = sim.arrivals.arrivals()
    assert [(a.route, a.status) for a in arrivals] == [("GET /app", s) for s in statuses]
    assert [a.retry_after for a in arrivals] == [None, 1.0, 1.0]
    # The second 429 came 0 s after the first announced a 1 s pause: inside it.
    assert sim.arrivals.inside_pauses() == [arrivals[2]]


def test_a_pause_starts_when_the_answer_leaves() -> None:
    """A request sent while a slow 429 was still on its way is not inside its pause."""
    log = ArrivalLog()
    log.start()
    log.add(Arrival(10.0, "GET /app", 429, answered_at=12.0, retry_after=5.0))
    early = Arrival(11.0, "GET /app", 200, answered_at=11.0)
    inside = Arrival(13.0, "GET /app", 200, answered_at=13.0)
    after = Arrival(17.5, "GET /app", 200, answered_at=17.5)
    for arrival in (early, inside, after):
        log.add(arrival)
    assert log.pauses() == [(12.0, 17.0)]
    assert log.inside_pauses() == [inside]
