"""When to try a request again, and how long to wait first.

- 429: wait what Capgo asks (``Retry-After`` in seconds or as an HTTP date, else
  ``moreInfo.retryAfterSeconds``, else the reset time), unless it is longer than
  ``max_retry_after``: a 15-minute lockout is reported, not slept through.
- 5xx, read timeouts, malformed bodies: only for GET, whose repetition is harmless; a POST, PUT
  or DELETE may already have taken effect (regenerating a key twice loses the first new key).
- Connection failures before anything was sent: for every method.
- Any other 4xx, and above all 401: never. Twenty failed authentications lock the client's IP
  out for 15 minutes, valid keys included.

Backoff between attempts is exponential, bounded, with jitter so that several exporters
restarted together do not retry in step.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    max_retry_after: float = 120.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based): half fixed, half jitter."""
        ceiling = min(self.backoff_max, self.backoff_base * 2**attempt)
        return float(ceiling / 2 + self.rng.uniform(0, ceiling / 2))


def retry_after_seconds(
    headers: Mapping[str, str], more_info: Mapping[str, Any], *, now: datetime | None = None
) -> float | None:
    """Seconds Capgo asked us to wait (headers or error body); None when it did not say."""
    now = now or datetime.now(UTC)
    header = headers.get("retry-after")
    if header:
        header = header.strip()
        try:
            return max(0.0, float(header))
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(header)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return max(0.0, (when - now).total_seconds())
    seconds = more_info.get("retryAfterSeconds")
    if isinstance(seconds, int | float) and not isinstance(seconds, bool):
        return max(0.0, float(seconds))
    reset_ms = more_info.get("rateLimitResetAt")
    if isinstance(reset_ms, int | float) and not isinstance(reset_ms, bool):
        return max(0.0, reset_ms / 1000 - now.timestamp())
    reset = headers.get("x-ratelimit-reset")
    if reset:
        try:
            return max(0.0, float(reset) - now.timestamp())
        except ValueError:
            return None
    return None
