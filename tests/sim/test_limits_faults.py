"""Rate limit, latency and seeded faults, all switchable at run time."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from capgo_exporter.sim import Simulator
from tests.sim.conftest import APP, FakeClock


def test_rate_limit_429_with_headers_and_refill(
    sim: Simulator, client: httpx.Client, clock: FakeClock
) -> None:
    sim.configure(rate_limit_per_min=3)
    codes = [client.get("/channel", params={"app_id": APP}).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = client.get("/channel", params={"app_id": APP})
    body = r.json()
    assert body["error"] == "too_many_requests"
    assert body["message"] == "Too many requests"
    assert body["moreInfo"]["retryAfterSeconds"] == int(r.headers["Retry-After"]) == 20
    assert body["moreInfo"]["apikey_id"] == 1
    assert int(r.headers["X-RateLimit-Reset"]) * 1000 >= body["moreInfo"]["rateLimitResetAt"]
    assert sim.status_counts()["GET /channel 429"] == 2
    assert sim.request_counts()["GET /channel"] == 5
    clock.advance(seconds=20)
    assert client.get("/channel", params={"app_id": APP}).status_code == 200
    sim.configure(rate_limit_per_min=0)
    assert all(client.get("/ok").status_code == 200 for _ in range(10))


def test_fail_rate_one_gives_server_errors(sim: Simulator, client: httpx.Client) -> None:
    sim.configure(fail_rate=1.0)
    statuses = {client.get("/channel", params={"app_id": APP}).status_code for _ in range(30)}
    assert statuses == {500, 502, 503}
    sim.configure(fail_rate=0.0)
    assert client.get("/channel", params={"app_id": APP}).status_code == 200


@pytest.mark.serial  # asserts how long something takes
async def test_timeout_hangs_past_the_client_timeout(
    sim: Simulator, aclient: httpx.AsyncClient
) -> None:
    sim.configure(timeout_rate=1.0, hang_seconds=5)
    started = time.perf_counter()
    with pytest.raises(httpx.ReadTimeout):
        await aclient.get("/ok", timeout=0.2)
    assert 0.15 < time.perf_counter() - started < 2


def test_malformed_bodies_are_200s_that_do_not_parse(sim: Simulator, client: httpx.Client) -> None:
    sim.configure(malformed_rate=1.0)
    for _ in range(10):
        r = client.get("/channel", params={"app_id": APP})
        assert r.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            r.json()


def test_missing_and_extra_fields(sim: Simulator, client: httpx.Client) -> None:
    clean = client.get("/device", params={"app_id": APP}).json()["data"]
    sim.configure(missing_fields_rate=1.0, extra_fields_rate=1.0)
    rows = client.get("/device", params={"app_id": APP}).json()["data"]
    assert all("x_sim_extra" in row for row in rows)
    assert all(row["device_id"] == c["device_id"] for row, c in zip(rows, clean, strict=True))
    assert any(
        len(row) <= len(c) or None in row.values() for row, c in zip(rows, clean, strict=True)
    )


def test_bad_knobs_are_refused(sim: Simulator) -> None:
    with pytest.raises(ValueError, match="fail_rate"):
        sim.configure(fail_rate=2.0)
    with pytest.raises(ValueError, match="unknown knob"):
        sim.configure(speed=1)


@pytest.mark.serial  # asserts how long something takes
async def test_latency_is_applied_in_process(sim: Simulator, aclient: httpx.AsyncClient) -> None:
    sim.configure(latency_ms=100)
    started = time.perf_counter()
    await aclient.get("/ok")
    assert time.perf_counter() - started >= 0.1
