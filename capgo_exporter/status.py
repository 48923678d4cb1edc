"""What the HTTP server may know about the poll loop: health, readiness, per-collector status.

Health (``/healthz``) means the process and its poll loop are alive; it never depends on Capgo,
because restarting the exporter does not fix a Capgo outage. Readiness (``/readyz``) means
every enabled collector has finished its first run, successful or not: from then on the
exporter has something true to say, even if it is ``capgo_up 0``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class CollectorStatus:
    name: str
    interval_seconds: float
    runs: int = 0
    up: bool = False
    last_success: float | None = None  # Unix time
    last_duration_seconds: float | None = None
    last_error: str | None = None  # one line, never a secret
    # Parts the last successful run left out (see CollectResult.skipped): up, yet incomplete.
    skipped: tuple[str, ...] = ()
    next_run: float | None = None  # Unix time
    # A run in progress has lasted longer than the interval: the data are not being refreshed.
    stalled: bool = False

    @property
    def finished_first_run(self) -> bool:
        return self.runs > 0

    @property
    def complete(self) -> bool:
        """Up, nothing left out, no run overdue: what ``capgo_exporter_collector_up`` reports."""
        return self.up and not self.skipped and not self.stalled


class ExporterStatus(Protocol):
    def collector_statuses(self) -> list[CollectorStatus]: ...

    def healthy(self) -> bool: ...

    def ready(self) -> bool: ...
