"""The exporter's clock: the system's, or one that started at a chosen instant.

Everything that asks what day it is for Capgo's data (the collectors' calendar: billing
cycles, device windows; ``check``; the admin commands' default ranges; with ``--demo``, the
simulated Capgo itself) reads one `Clock`. Set ``--clock.start`` (``CAPGO_EXPORTER_CLOCK_START``)
and it starts at that instant and runs on at real speed from there: the demo then shows any day
of the year, and end-to-end tests run the daemon and their simulator on a pinned day while
Prometheus runs on real time. The exporter's own timing (intervals, max age, the
``capgo_exporter_*`` timestamps Prometheus compares with its ``time()``) stays on the system
clock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime


@dataclass(frozen=True)
class Clock:
    """Unix time shifted by a fixed ``offset`` in seconds (0: the system clock)."""

    offset: float = 0.0

    @classmethod
    def starting_at(cls, start: datetime | None) -> Clock:
        """A clock that reads ``start`` now and runs on from there; the system's for None."""
        return cls() if start is None else cls(start.timestamp() - time.time())

    def time(self) -> float:
        return time.time() + self.offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    def today(self) -> date:
        """Today in UTC, Capgo's calendar."""
        return self.now().date()


SYSTEM_CLOCK = Clock()
