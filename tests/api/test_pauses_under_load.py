"""One rule for pauses: no request leaves inside a Retry-After pause or the key back-off,
however long it had already been waiting for a token.

Time is virtual (:class:`VirtualTime`): every sleeper is woken in order of its deadline and the
clock jumps to it, so ten simulated minutes with dozens of concurrent callers run in well under
a second and give the same result every time. The Capgo on the other side is a small model
(``LimitedCapgo``): a fixed 60-second window of 20 requests per key, answering 429 with the
window's remaining seconds in ``Retry-After``, as Capgo does.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from capgo_exporter.api import (
    AuthenticationError,
    CapgoHTTP,
    ClientOptions,
    RateLimitedError,
    RequestBudget,
    RetryPolicy,
)

from .conftest import KEY


class VirtualTime:
    """A clock and ``sleep`` that only move when every task is blocked on a sleep."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), next(self._order), future))
        await future

    async def run(self, *coroutines: Awaitable[Any]) -> None:
        tasks = [asyncio.ensure_future(c) for c in coroutines]
        while not all(t.done() for t in tasks):
            for _ in range(20):  # let every runnable task reach its next sleep
                await asyncio.sleep(0)
            if self._sleepers:
                when, _, future = heapq.heappop(self._sleepers)
                self.now = max(self.now, when)
                future.set_result(None)
        for task in tasks:
            task.result()


class LimitedCapgo:
    """Capgo's per-key limit: ``limit`` requests per fixed window, 429 + Retry-After beyond."""

    def __init__(self, time: VirtualTime, limit: int = 20, window: float = 60.0) -> None:
        self.time = time
        self.limit = limit
        self.window = window
        self.window_start: float | None = None
        self.count = 0
        self.sent: list[float] = []
        # (announced at, pause end) for every 429 answered.
        self.pauses: list[tuple[float, float]] = []
        self.revoked = False

    def handle(self, request: httpx.Request) -> httpx.Response:
        now = self.time.now
        self.sent.append(now)
        if self.revoked:
            return httpx.Response(401, json={"error": "invalid_apikey", "message": "Invalid"})
        if self.window_start is None or now >= self.window_start + self.window:
            self.window_start, self.count = now, 0
        self.count += 1
        if self.count > self.limit:
            retry_after = math.ceil(self.window_start + self.window - now)
            self.pauses.append((now, now + retry_after))
            return httpx.Response(
                429,
                headers={"retry-after": str(retry_after)},
                json={"error": "too_many_requests", "message": "Rate limit exceeded"},
            )
        return httpx.Response(200, json={"data": []})

    def sent_inside_a_pause(self) -> list[float]:
        return [t for t in self.sent if any(start < t < end for start, end in self.pauses)]


def http_for(
    time: VirtualTime, capgo: LimitedCapgo, requests_per_minute: float, **kwargs: Any
) -> CapgoHTTP:
    async def handler(request: httpx.Request) -> httpx.Response:
        response = capgo.handle(request)
        await time.sleep(0.2)  # the answer takes a while: other callers move meanwhile
        return response

    return CapgoHTTP(
        ClientOptions(api_key=SecretStr(KEY), base_url="https://api.capgo.test"),
        budget=RequestBudget(
            requests_per_minute, concurrency=4, clock=time.clock, sleep=time.sleep
        ),
        retry=RetryPolicy(max_retries=3, max_retry_after=120),
        transport=httpx.MockTransport(handler),
        sleep=time.sleep,
        clock=time.clock,
        **kwargs,
    )


def worker(
    http: CapgoHTTP, time: VirtualTime, until: float, outcomes: dict[str, int]
) -> Callable[[], Awaitable[None]]:
    async def loop() -> None:
        while time.now < until:
            try:
                await http.call("GET", "/app")
                outcomes["ok"] = outcomes.get("ok", 0) + 1
            except RateLimitedError:
                outcomes["gave_up"] = outcomes.get("gave_up", 0) + 1

    return loop


async def test_queued_callers_wait_out_a_pause_announced_while_they_waited() -> None:
    time = VirtualTime()
    budget = RequestBudget(600, burst=1, clock=time.clock, sleep=time.sleep)
    sent: list[float] = []

    async def request() -> None:
        async with budget.slot():
            sent.append(time.now)

    async def announce_pause() -> None:
        await time.sleep(0.5)  # forty callers are queued for tokens by now
        budget.pause(30)

    await time.run(announce_pause(), *(request() for _ in range(40)))
    assert len(sent) == 40
    pause_start, pause_end = 1000.5, 1030.5
    assert [t for t in sent if pause_start < t < pause_end] == []
    # After the pause they leave at the budget's rate, not all at once.
    after = [t for t in sent if t >= pause_end]
    assert len(after) >= 30
    gaps = [b - a for a, b in itertools.pairwise(after)]
    assert min(gaps) > 0.09


async def test_a_rejected_key_stops_requests_already_queued() -> None:
    time = VirtualTime()
    capgo = LimitedCapgo(time, limit=1000)
    capgo.revoked = True
    http = http_for(time, capgo, 60)
    failures: list[str] = []

    async def request() -> None:
        try:
            await http.call("GET", "/app")
        except AuthenticationError as error:
            failures.append(error.code)

    await time.run(*(request() for _ in range(30)))
    # The first four were in flight together (the concurrency cap) before any answer came;
    # the 26 queued behind them were refused after the 401 (at 1000.2), none sent.
    assert capgo.sent == [1000.0] * 4
    assert failures == ["invalid_apikey"] * 30
    await http.aclose()


@pytest.mark.parametrize("workers", [1, 8, 32])
async def test_ten_minutes_against_a_20_per_minute_limit(workers: int) -> None:
    """The budget is set too high (100/min) on purpose: Capgo's 429s are what holds it back."""
    time = VirtualTime()
    capgo = LimitedCapgo(time, limit=20)
    http = http_for(time, capgo, 100)
    outcomes: dict[str, int] = {}
    until = time.now + 600
    await time.run(*(worker(http, time, until, outcomes)() for _ in range(workers)))
    assert capgo.pauses, "the model must have rate limited the client"
    assert capgo.sent_inside_a_pause() == []
    # Each 60-second window serves its 20 and at most one 429 (the one that opens the pause).
    windows = math.ceil((time.now - 1000) / 60)
    assert outcomes["ok"] >= 20 * (windows - 2)
    assert len(capgo.pauses) <= windows + 1
    print(
        f"\n{workers} callers, 10 virtual minutes, limit 20/min: {len(capgo.sent)} requests, "
        f"{outcomes['ok']} answered, {len(capgo.pauses)} 429s, "
        f"{len(capgo.sent_inside_a_pause())} sent inside a Retry-After pause"
    )
    await http.aclose()
