"""Per-key rate limit: a token bucket refilled at R tokens per minute, holding R (or `burst`)."""

from __future__ import annotations

import math
import threading
from datetime import timedelta

from capgo_exporter.sim.protocol import ApiError
from capgo_exporter.sim.timeutil import Clock, to_ms


class RateLimiter:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[int, tuple[float, float]] = {}  # key id -> (tokens, at epoch s)

    def take(self, key_id: int, per_minute: int, burst: int = 0) -> None:
        """Spend one token of `key_id`, or raise the 429 Capgo answers when over the limit.

        `burst` caps the bucket (0: a minute's worth); a small one makes any client that sends
        faster than the rate meet the limit within seconds, which is what tests need.
        """
        if per_minute <= 0:
            return
        capacity = float(burst or per_minute)
        now = self._clock()
        now_s = to_ms(now) / 1000
        rate = per_minute / 60.0
        with self._lock:
            tokens, at = self._buckets.get(key_id, (capacity, now_s))
            tokens = min(capacity, tokens + max(0.0, now_s - at) * rate)
            if tokens >= 1.0:
                self._buckets[key_id] = (tokens - 1.0, now_s)
                return
            self._buckets[key_id] = (tokens, now_s)
        wait = (1.0 - tokens) / rate
        retry = max(1, math.ceil(wait))
        reset = now + timedelta(seconds=wait)
        raise ApiError(
            429,
            "too_many_requests",
            "Too many requests",
            {
                "reason": "apikey_rate_limit_exceeded",
                "apikey_id": key_id,
                "rateLimitResetAt": to_ms(reset),
                "retryAfterSeconds": retry,
            },
            {"Retry-After": str(retry), "X-RateLimit-Reset": str(math.ceil(to_ms(reset) / 1000))},
        )
