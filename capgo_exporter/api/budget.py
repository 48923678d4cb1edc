"""One request budget shared by every caller of a client, so the exporter never causes a 429.

A token bucket refilled at ``requests_per_minute / 60`` tokens a second, holding at most
``burst`` tokens, plus a cap on requests in flight. Every attempt, retries included, spends a
token. When Capgo does answer 429, :meth:`RequestBudget.pause` holds *all* callers until the
``Retry-After`` time instead of letting each concurrent request discover the limit on its own.

One rule for pauses: a request is sent only if no pause is running at the moment it leaves,
whenever it started waiting. A pause voids every token reserved before it (the bucket is
emptied to one token and refills from the pause's end), so callers already sleeping for a
token wake, see the pause, wait it out and queue again, spread at the budget's rate instead of
rushing out together when it ends. The check is repeated after the concurrency slot is taken,
the last wait before the request is sent.

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
        # Bumped by every pause that extends the hold: tokens reserved before it are void.
        self._epoch = 0
        self._in_flight = asyncio.Semaphore(concurrency)

    @property
    def tokens(self) -> float:
        """Tokens available now (negative while callers are queued)."""
        self._refill()
        return self._tokens

    def _refill(self) -> None:
        now = self._clock()
        if now <= self._updated:  # during a pause the bucket refills from the pause's end
            return
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self._rate)
        self._updated = now

    @property
    def paused_for(self) -> float:
        """Seconds left in the current pause (0 when none)."""
        return max(0.0, self._paused_until - self._clock())

    async def _wait_out_pause(self) -> None:
        while (wait := self.paused_for) > 0:
            await self._sleep(wait)

    async def acquire(self) -> int:
        """Wait for the pause (if any) and one token; returns the epoch the token is valid in."""
        while True:
            await self._wait_out_pause()
            epoch = self._epoch
            self._refill()
            self._tokens -= 1.0
            if self._tokens < 0:
                await self._sleep(-self._tokens / self._rate)
            if self.valid(epoch):
                return epoch
            # A pause started while we slept: that token is void, queue again after it.

    def valid(self, epoch: int) -> bool:
        """True when a token from ``epoch`` may be spent now: no pause since, none running."""
        return epoch == self._epoch and self.paused_for == 0

    def pause(self, seconds: float) -> None:
        """Hold every caller, queued ones included, for ``seconds`` (429 / Retry-After)."""
        until = self._clock() + seconds
        if until <= self._paused_until:
            return
        self._paused_until = until
        self._epoch += 1
        # One request may leave when the pause ends (Capgo allows it); the rest at the rate.
        self._tokens = 1.0
        self._updated = until

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """One request in flight: a token, then a concurrency slot, then a last pause check."""
        while True:
            epoch = await self.acquire()
            await self._in_flight.acquire()
            if self.valid(epoch):
                break
            # Paused while waiting for the slot: give it back and queue again.
            self._in_flight.release()
        try:
            yield
        finally:
            self._in_flight.release()
