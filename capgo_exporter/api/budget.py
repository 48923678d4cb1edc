"""One request budget shared by every caller of a client, so the exporter never causes a 429.

A token bucket refilled at ``requests_per_minute / 60`` tokens a second, holding at most
``burst`` tokens, plus a cap on requests in flight. Every attempt, retries included, spends a
token. When Capgo does answer 429, :meth:`RequestBudget.pause` holds *all* callers until the
``Retry-After`` time instead of letting each concurrent request discover the limit on its own.

Tokens are reserved, not polled: a caller takes its token at once (the balance may go
negative) and sleeps for its share of the deficit, so waiters are served in arrival order and
the long-run rate never exceeds the budget.

The budget keeps headroom below the limit it is given. Requests that leave evenly spaced can
arrive closer together (one waited on the network, the next did not): sent within a bucket of
``burst`` tokens, they arrive within ``burst + rate * jitter``. So the bucket holds
``JITTER_ALLOWANCE`` seconds' worth of tokens less than ``burst``, and refills 2 % slower than
the limit, which absorbs clock differences. A walk still takes at most 1.1 * requests / rate.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

Clock = Callable[[], float]

# Seconds of arrival-time jitter the burst leaves room for.
JITTER_ALLOWANCE = 0.05
RATE_MARGIN = 0.98
Sleep = Callable[[float], Awaitable[None]]


def default_burst(requests_per_minute: float) -> int:
    """A tenth of a minute's budget, at least 1 and at most 20: quick starts, no bursts to fear."""
    return int(max(1, min(20, requests_per_minute // 10)))


class RequestBudget:
    def __init__(
        self,
        requests_per_minute: float,
        *,
        burst: int | None = None,
        concurrency: int = 4,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if requests_per_minute <= 0:
            raise ValueError("requests_per_minute must be positive")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.requests_per_minute = requests_per_minute
        self.concurrency = concurrency
        self._rate = requests_per_minute / 60.0 * RATE_MARGIN
        limit_burst = burst if burst is not None else default_burst(requests_per_minute)
        self.capacity = max(1.0, limit_burst - self._rate * JITTER_ALLOWANCE)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.capacity
        self._updated = clock()
        self._paused_until = 0.0
        self._in_flight = asyncio.Semaphore(concurrency)

    @property
    def tokens(self) -> float:
        """Tokens available now (negative while callers are queued)."""
        self._refill()
        return self._tokens

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self._rate)
        self._updated = now

    async def acquire(self) -> None:
        """Wait for the pause (if any) and for one token."""
        while (wait := self._paused_until - self._clock()) > 0:
            await self._sleep(wait)
        self._refill()
        self._tokens -= 1.0
        if self._tokens < 0:
            await self._sleep(-self._tokens / self._rate)

    def pause(self, seconds: float) -> None:
        """Hold every caller for ``seconds`` (Capgo said 429 / Retry-After)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """One request in flight: a token, then a concurrency slot for the exchange itself."""
        await self.acquire()
        async with self._in_flight:
            yield
