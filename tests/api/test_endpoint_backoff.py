"""While Capgo keeps failing on a route, every request to it waits longer: exponential with
jitter, capped, per route, back to nothing at the first success and visible to the observer."""

from __future__ import annotations

import httpx
import pytest
import respx
from pydantic import SecretStr

from capgo_exporter.api import (
    CapgoClient,
    CapgoHTTP,
    ClientOptions,
    RequestBudget,
    RetryPolicy,
    ServerError,
)

from .conftest import BASE, KEY, FakeTime, RecordingObserver, fixture

FAILURE = httpx.Response(500, json=fixture("error_unknown_500.json"))


def client(fake_time: FakeTime, observer: RecordingObserver, backoff_max: float) -> CapgoClient:
    budget = RequestBudget(6000, burst=100, clock=fake_time.clock, sleep=fake_time.sleep)
    http = CapgoHTTP(
        # The per-route back-off alone: the circuit (tests/api/test_circuit.py) would open
        # after a few failures in a row.
        ClientOptions(api_key=SecretStr(KEY), base_url=BASE, circuit_failures_to_open=1000),
        budget=budget,
        retry=RetryPolicy(max_retries=3, backoff_max=backoff_max),
        observer=observer,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
    )
    return CapgoClient(http)


async def test_an_outage_is_not_hammered(
    api: respx.MockRouter, fake_time: FakeTime, observer: RecordingObserver
) -> None:
    capgo = client(fake_time, observer, backoff_max=300)
    route = api.get("/device").mock(return_value=FAILURE)
    for _ in range(5):  # five collector runs, each giving up after 1 + 3 attempts
        with pytest.raises(ServerError):
            await capgo.devices.get("com.acme.app", "d1")
    assert route.call_count == 20
    # Before attempt n+1 the route waits within [2^n / 4, 2^n / 2] s, across calls, up to the cap:
    # the back-off does not start again at 0.5 s with every new call.
    for n, slept in enumerate(fake_time.sleeps):
        ceiling = min(300, 0.5 * 2**n)
        assert ceiling / 2 <= slept <= ceiling, (n, slept)
    assert len(fake_time.sleeps) == 19
    assert max(fake_time.sleeps) == pytest.approx(300, rel=0.5)
    # The gauge shows each hold as it is set (the last one, after the final failure, too).
    holds = [seconds for _, seconds in observer.backoffs]
    assert holds[:-1] == pytest.approx(fake_time.sleeps)
    await capgo.aclose()


async def test_first_success_resets_and_other_routes_are_not_held(
    api: respx.MockRouter, fake_time: FakeTime, observer: RecordingObserver
) -> None:
    http = client(fake_time, observer, backoff_max=30).http
    devices = api.get("/device")
    devices.side_effect = [FAILURE] * 9 + [httpx.Response(200, json=[])] * 2
    api.get("/app").respond(200, json=[])
    for _ in range(2):
        with pytest.raises(ServerError):
            await http.call("GET", "/device")
    held = len(fake_time.sleeps)
    await http.call("GET", "/app")  # another route: sent at once
    assert len(fake_time.sleeps) == held
    await http.call("GET", "/device")  # one more failure, then a success
    assert observer.backoffs[-1] == ("/device", 0.0)
    assert len(fake_time.sleeps) == held + 2
    assert max(fake_time.sleeps) <= 30  # the cap
    await http.call("GET", "/device")
    assert len(fake_time.sleeps) == held + 2  # reset: no wait after the success
    await http.aclose()


async def test_the_back_off_counts_from_the_last_failure(
    api: respx.MockRouter, fake_time: FakeTime, observer: RecordingObserver
) -> None:
    """A collector that polls again an interval after its run failed is not held once more:
    recovery comes with its next poll, not an interval plus a back-off later."""
    http = client(fake_time, observer, backoff_max=30).http
    devices = api.get("/device")
    devices.side_effect = [FAILURE] * 4 + [httpx.Response(200, json=[])]
    with pytest.raises(ServerError):
        await http.call("GET", "/device")
    held = len(fake_time.sleeps)
    fake_time.now += 60  # the next poll, after the last hold (at most 2 s) has passed
    await http.call("GET", "/device")
    assert len(fake_time.sleeps) == held
    await http.aclose()
