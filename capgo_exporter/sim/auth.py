"""The two Capgo auth middlewares and the per-IP failed-authentication lockout.

Capgo's ``middlewareKey`` and ``middlewareAuth`` (``supabase/functions/_backend/utils/
hono_middleware.ts``) read different headers; ``utils/rate_limit.ts`` blocks an IP for 15
minutes after 20 failed authentications, even when it then sends a valid key.

Simplification: besides real UUID keys, the configured keys are opaque strings (e.g. "demo");
they are accepted as API keys in every header the middleware reads. On middlewareAuth routes an
`authorization` value that is neither a UUID nor a known key is a (bad) JWT.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from capgo_exporter.sim.protocol import ApiError, SimRequest
from capgo_exporter.sim.rbac import Principal
from capgo_exporter.sim.state import World
from capgo_exporter.sim.timeutil import Clock, to_ms

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
MAX_FAILED_AUTH = 20
LOCKOUT = timedelta(minutes=15)


class Middleware(Enum):
    NONE = "none"
    KEY = "middlewareKey"  # capgkey or authorization; never x-api-key
    AUTH = "middlewareAuth"  # authorization (UUID key or JWT), else capgkey / x-api-key


@dataclass
class _Failures:
    count: int
    window_start: datetime
    locked_until: datetime | None = None


class FailedAuthGuard:
    """20 failed authentications from one IP lock it out for 15 minutes, valid keys included."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._by_ip: dict[str, _Failures] = {}

    def check(self, ip: str) -> None:
        now = self._clock()
        with self._lock:
            entry = self._by_ip.get(ip)
            if entry is None or entry.locked_until is None:
                return
            if now >= entry.locked_until:
                del self._by_ip[ip]
                return
            reset = entry.locked_until
        retry = max(1, int((reset - now).total_seconds()))
        raise ApiError(
            429,
            "too_many_requests",
            "Too many requests",
            {
                "reason": "too_many_failed_auth_attempts",
                "rateLimitResetAt": to_ms(reset),
                "retryAfterSeconds": retry,
            },
            {"Retry-After": str(retry), "X-RateLimit-Reset": str(to_ms(reset) // 1000)},
        )

    def record_failure(self, ip: str) -> None:
        now = self._clock()
        with self._lock:
            entry = self._by_ip.get(ip)
            if entry is None or now - entry.window_start >= LOCKOUT:
                entry = self._by_ip[ip] = _Failures(0, now)
            entry.count += 1
            if entry.count >= MAX_FAILED_AUTH:
                entry.locked_until = now + LOCKOUT


def authenticate(world: World, request: SimRequest, kind: Middleware) -> Principal:
    """The caller's key, or ApiError 401 with the code the real middleware uses."""
    if kind is Middleware.KEY:
        value = request.header("capgkey") or request.header("authorization")
        if not value:
            raise ApiError(401, "no_key_provided", "No key provided")
        return _lookup(world, value)
    authorization = request.header("authorization")
    if authorization:
        if _UUID.match(authorization) or world.key_by_value(authorization) is not None:
            return _lookup(world, authorization)
        raise ApiError(401, "invalid_jwt", "Invalid JWT")
    value = request.header("capgkey") or request.header("x-api-key")
    if not value:
        raise ApiError(401, "no_jwt_apikey_or_subkey", "No JWT, apikey or subkey provided")
    return _lookup(world, value)


def _lookup(world: World, value: str) -> Principal:
    key = world.key_by_value(value)
    # An expired key is simply not found: there is no separate "expired" code.
    if key is None or (key.expires_at is not None and key.expires_at <= world.now()):
        raise ApiError(401, "invalid_apikey", "Invalid apikey")
    return Principal(key)
