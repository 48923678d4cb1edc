"""The shared request budget: a token bucket plus a cap on requests in flight."""

from __future__ import annotations

import asyncio

import pytest

from capgo_exporter.api import RequestBudget
from capgo_exporter.api.budget import JITTER_ALLOWANCE, RATE_MARGIN, default_burst

from .conftest import FakeTime


async def test_burst_then_steady_rate(fake_time: FakeTime) -> None:
    budget = RequestBudget(60, burst=5, clock=fake_time.clock, sleep=fake_time.sleep)
    rate = 60 / 60 * RATE_MARGIN
    # The burst keeps room for JITTER_ALLOWANCE seconds of arrival jitter.
    assert budget.capacity == pytest.approx(5 - rate * JITTER_ALLOWANCE)
    start = fake_time.now
    for _ in range(4):
        await budget.acquire()
    assert fake_time.now == start  # the burst is free
    for _ in range(11):
        await budget.acquire()
    # Then one a second (less the 2 % margin): 15 requests cost (15 - capacity) / rate.
    assert fake_time.now - start == pytest.approx((15 - budget.capacity) / rate)


async def test_long_run_rate_never_exceeds_the_budget(fake_time: FakeTime) -> None:
    budget = RequestBudget(100, clock=fake_time.clock, sleep=fake_time.sleep)
    start = fake_time.now
    for _ in range(300):
        await budget.acquire()
    elapsed_minutes = (fake_time.now - start) / 60
    assert 100 * elapsed_minutes + budget.capacity >= 300
    # …and not much slower than it either: within the 1.1 x requests / rate target.
    assert elapsed_minutes <= 1.1 * 300 / 100


async def test_tokens_refill_while_idle(fake_time: FakeTime) -> None:
    budget = RequestBudget(60, burst=3, clock=fake_time.clock, sleep=fake_time.sleep)
    for _ in range(2):
        await budget.acquire()
    before = budget.tokens
    fake_time.now += 0.5
    assert budget.tokens == pytest.approx(before + 0.5 * RATE_MARGIN)
    fake_time.now += 100
    assert budget.tokens == pytest.approx(budget.capacity)  # capped at the burst


async def test_pause_delays_the_next_acquire(fake_time: FakeTime) -> None:
    budget = RequestBudget(6000, burst=10, clock=fake_time.clock, sleep=fake_time.sleep)
    budget.pause(30)
    before = fake_time.now
    await budget.acquire()
    assert fake_time.now - before == pytest.approx(30)


async def test_concurrency_cap() -> None:
    budget = RequestBudget(1_000_000, burst=1000, concurrency=3)
    in_flight = 0
    peak = 0

    async def request() -> None:
        nonlocal in_flight, peak
        async with budget.slot():
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.01)
            in_flight -= 1

    await asyncio.gather(*(request() for _ in range(20)))
    assert peak == 3


@pytest.mark.parametrize(("rpm", "burst"), [(1, 1), (100, 10), (600, 20), (100000, 20)])
def test_default_burst(rpm: int, burst: int) -> None:
    assert default_burst(rpm) == burst


@pytest.mark.parametrize(("rpm", "concurrency"), [(0, 1), (-5, 1), (10, 0)])
def test_invalid_budget(rpm: int, concurrency: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        RequestBudget(rpm, concurrency=concurrency)
