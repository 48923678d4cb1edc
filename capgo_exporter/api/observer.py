"""The hook through which the daemon counts API traffic, without the client knowing Prometheus.

``endpoint`` is always a route template such as ``/statistics/app/{app_id}``: never an id, so
it is safe as a metric label. ``code`` is the HTTP status as text, or ``timeout`` /
``connection_error`` when no answer came.
"""

from __future__ import annotations

from typing import Protocol


class RequestObserver(Protocol):
    def request_finished(self, endpoint: str, code: str, seconds: float) -> None: ...

    def request_retried(self, endpoint: str, reason: str) -> None: ...

    def backoff_changed(self, endpoint: str, seconds: float) -> None: ...

    def circuit_changed(self, is_open: bool) -> None: ...


class NullObserver:
    """Observes nothing; the default."""

    def request_finished(self, endpoint: str, code: str, seconds: float) -> None:
        return None

    def request_retried(self, endpoint: str, reason: str) -> None:
        return None

    def backoff_changed(self, endpoint: str, seconds: float) -> None:
        return None

    def circuit_changed(self, is_open: bool) -> None:
        return None
