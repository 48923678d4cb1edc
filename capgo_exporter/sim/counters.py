"""Request counters by route template (and by template + status), thread-safe."""

from __future__ import annotations

import threading
from collections import Counter


class RequestCounters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_route: Counter[str] = Counter()
        self._by_status: Counter[str] = Counter()

    def add(self, route: str, status: int) -> None:
        with self._lock:
            self._by_route[route] += 1
            self._by_status[f"{route} {status}"] += 1

    def by_route(self) -> dict[str, int]:
        """{"GET /device": 101, ...}: every request, rejected ones (401, 429, faults) included."""
        with self._lock:
            return dict(self._by_route)

    def by_status(self) -> dict[str, int]:
        """{"GET /device 200": 100, "GET /device 429": 1, ...}."""
        with self._lock:
            return dict(self._by_status)

    def reset(self) -> None:
        with self._lock:
            self._by_route.clear()
            self._by_status.clear()
