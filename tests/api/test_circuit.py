"""The circuit: after failures in a row on any routes, nothing is sent but a probe once per probe
interval; the first answer closes it and every route goes again at once."""

from __future__ import annotations

import httpx
import pytest
import respx
from pydantic import SecretStr

from capgo_exporter.api import (
    CapgoError,
    CapgoHTTP,
    CapgoUnavailableError,
    ClientOptions,
    RequestBudget,
    RetryPolicy,
    ServerError,
)
from capgo_exporter.api.circuit import FAILURES_TO_OPEN, MIN_PROBE_INTERVAL

from .conftest import BASE, KEY, FakeTime, RecordingObserver, fixture

FAILURE = httpx.Response(500, json=fixture("error_unknown_500.json"))
ROUTES = ("/app", "/channel", "/bundle", "/device", "/apikey")
INTERVAL = 10.0  # every collector's, in the outage below


def http(fake_time: FakeTime, observer: RecordingObserver, probe_interval: float) -> CapgoHTTP:
    budget = RequestBudget(100, burst=10, clock=fake_time.clock, sleep=fake_time.sleep)
    options = ClientOptions(api_key=SecretStr(KEY), base_url=BASE, probe_interval=probe_interval)
    return CapgoHTTP(
        options,
        budget=budget,
        retry=RetryPolicy(max_retries=3, backoff_max=INTERVAL),
        observer=observer,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
    )


class Capgo:
    """Answers every route with 500 while ``down``, with [] otherwise; records arrivals."""

    def __init__(self, api: respx.MockRouter, fake_time: FakeTime) -> None:
        self.down = True
        self.arrivals: list[tuple[float, str]] = []
        self._time = fake_time
        for route in ROUTES:
            api.get(route).mock(side_effect=self._answer)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.arrivals.append((self._time.now, request.url.path))
        return FAILURE if self.down else httpx.Response(200, json=[])


async def poll_every_route(client: CapgoHTTP) -> int:
    """One poll of every collector: how many calls succeeded."""
    answered = 0
    for route in ROUTES:
        try:
            await client.call("GET", route)
            answered += 1
        except CapgoError:
            pass
    return answered


async def test_failures_in_a_row_open_it_and_nothing_is_sent(
    api: respx.MockRouter, fake_time: FakeTime, observer: RecordingObserver
) -> None:
    capgo = Capgo(api, fake_time)
    client = http(fake_time, observer, probe_interval=INTERVAL)
    with pytest.raises(ServerError):
        await client.call("GET", "/app")  # 4 attempts
    with pytest.raises(CapgoUnavailableError):  # 2 more: 6 in a row, on two routes
        await client.call("GET", "/channel")
    assert len(capgo.arrivals) == FAILURES_TO_OPEN
    assert observer.circuit == [True]
    with pytest.raises(CapgoUnavailableError, match="failed 6 requests in a row"):
        await client.call("GET", "/device")
    assert len(capgo.arrivals) == FAILURES_TO_OPEN  # refused before anything was sent
    await client.aclose()


async def test_one_probe_per_probe_interval_and_an_answer_closes_it(
    api: respx.MockRouter, fake_time: FakeTime, observer: RecordingObserver
) -> None:
    capgo = Capgo(api, fake_time)
    client = http(fake_time, observer, probe_interval=1.0)  # floored at MIN_PROBE_INTERVAL
    while not client.circuit.is_open:
        await poll_every_route(client)
    opened, sent = fake_time.now, len(capgo.arrivals)
    for _ in range(12):  # the next probe is due MIN_PROBE_INTERVAL later: try each second
        before = len(capgo.arrivals)
        while len(capgo.arrivals) == before:
            fake_time.now += 1
            await poll_every_route(client)
    probes = [at for at, _ in capgo.arrivals[sent:]]
    assert len(probes) == 12  # one request each time: the probe, not a retry or a second one
    gaps = [b - a for a, b in zip([opened, *probes], probes, strict=False)]
    assert gaps == [pytest.approx(MIN_PROBE_INTERVAL, abs=1)] * 12  # it does not grow
    capgo.down = False
    fake_time.now += MIN_PROBE_INTERVAL
    assert await poll_every_route(client) == len(ROUTES)  # the probe, then every route at once
    assert observer.circuit == [True, False]
    assert set(dict(observer.backoffs).values()) == {0}  # no route waits its own back-off
    await client.aclose()


async def test_one_failing_route_among_answering_ones_never_opens_it(
    api: respx.MockRouter, fake_time: FakeTime, observer: RecordingObserver
) -> None:
    api.get("/app").respond(200, json=[])
    api.get("/device").mock(return_value=FAILURE)
    client = http(fake_time, observer, probe_interval=INTERVAL)
    for _ in range(10):
        await client.call("GET", "/app")
        with pytest.raises(ServerError):
            await client.call("GET", "/device")
    assert observer.circuit == []
    await client.aclose()


async def test_a_ten_minute_outage_costs_at_most_ten_requests_a_minute_after_two(
    api: respx.MockRouter, fake_time: FakeTime, observer: RecordingObserver
) -> None:
    """Five collectors polling every 10 s, Capgo answering none of them for 10 minutes (fake
    time); then Capgo is back and every route answers within one interval."""
    capgo = Capgo(api, fake_time)
    client = http(fake_time, observer, probe_interval=INTERVAL)
    start = fake_time.now
    while fake_time.now < start + 600:
        tick = fake_time.now
        await poll_every_route(client)
        fake_time.now = max(fake_time.now, tick + INTERVAL)
    per_minute = [0] * 10
    for at, _ in capgo.arrivals:
        per_minute[min(9, int((at - start) // 60))] += 1
    print(f"\nrequests per minute of a 10-minute outage: {per_minute}")
    assert max(per_minute[2:]) <= 10
    capgo.down = False
    back = fake_time.now
    while await poll_every_route(client) < len(ROUTES):
        fake_time.now += INTERVAL
    assert fake_time.now - back <= INTERVAL
    await client.aclose()
