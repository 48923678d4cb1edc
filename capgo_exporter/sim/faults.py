"""Seeded fault injection: server errors, hangs, garbage bodies, missing and extra fields, and
a key revoked while a client uses it."""

from __future__ import annotations

import random
import threading
from typing import Any

from capgo_exporter.sim.config import Knobs
from capgo_exporter.sim.model import ApiKey
from capgo_exporter.sim.protocol import (
    ApiError,
    SimResponse,
    error_response,
    json_response,
    unknown_error,
)
from capgo_exporter.sim.state import World

_PROXY_502 = (
    b"<html><head><title>502 Bad Gateway</title></head><body><center>"
    b"<h1>502 Bad Gateway</h1></center><hr><center>cloudflare</center></body></html>"
)
_MAINTENANCE = b"<!DOCTYPE html><html><body><h1>We'll be right back</h1></body></html>"
# Never dropped: without them a row is not a row (clients key on these).
_KEEP = frozenset({"id", "device_id", "app_id", "name", "date", "uid", "label"})


class Faults:
    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def _roll(self, rate: float) -> bool:
        if rate <= 0.0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def before(self, knobs: Knobs) -> SimResponse | None:
        """A response that replaces the real one (error or hang), or None to proceed."""
        if self._roll(knobs.timeout_rate):
            # A hang the client gives up on; if it does wait, the edge answers 504.
            hang = error_response(ApiError(504, "gateway_timeout", "Gateway timeout"))
            hang.delay = knobs.hang_seconds
            return hang
        if self._roll(knobs.fail_rate):
            with self._lock:
                kind = self._rng.choice((500, 502, 503))
            if kind == 502:
                return SimResponse(502, _PROXY_502, {"Content-Type": "text/html"})
            return json_response(kind, unknown_error().body())
        return None

    def malformed(self, knobs: Knobs, body: bytes) -> SimResponse | None:
        """A 200 whose body is not the JSON it should be."""
        if not self._roll(knobs.malformed_rate):
            return None
        if knobs.malformed_kind == "mixed":
            with self._lock:
                truncate = self._rng.random() < 0.5
        else:
            truncate = knobs.malformed_kind == "truncated"
        if truncate and len(body) > 1:
            return SimResponse(200, body[: len(body) // 2], {"Content-Type": "application/json"})
        return SimResponse(200, _MAINTENANCE, {"Content-Type": "text/html"})

    def mangle(self, knobs: Knobs, payload: Any) -> Any:
        """Drop/null optional fields and add unknown ones in rows, at the configured rates."""
        if knobs.missing_fields_rate <= 0 and knobs.extra_fields_rate <= 0:
            return payload
        for row in _rows(payload):
            if self._roll(knobs.missing_fields_rate):
                optional = sorted(k for k in row if k not in _KEEP)
                if optional:
                    with self._lock:
                        field, drop = self._rng.choice(optional), self._rng.random() < 0.5
                    if drop:
                        del row[field]
                    else:
                        row[field] = None
            if self._roll(knobs.extra_fields_rate):
                row["x_sim_extra"] = {"note": "field unknown to clients"}
        return payload


def revoke_key(world: World, value: str) -> ApiKey:
    """Delete the key with this value, as a user does in the console; returns it for
    `restore_key`. Requests with it are then answered 401 ``invalid_apikey``."""
    with world.lock:
        key = world.key_by_value(value)
        if key is None:
            raise KeyError("no such key")  # never the value: it is a secret
        world.keys.remove(key)
        return key


def restore_key(world: World, key: ApiKey) -> None:
    """Put back a key `revoke_key` took (the fault ends)."""
    with world.lock:
        if key not in world.keys:
            world.keys.append(key)


def _rows(payload: Any) -> list[dict[str, Any]]:
    """The record dicts of a response: list items, `data` items, or the object itself."""
    if isinstance(payload, list):
        return [r for r in payload if isinstance(r, dict)]
    if isinstance(payload, dict):
        if isinstance(payload.get("data"), list):
            return [r for r in payload["data"] if isinstance(r, dict)]
        if "status" not in payload:
            return [payload]
    return []
