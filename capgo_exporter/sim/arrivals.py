"""Every API request the simulator received, when, and the pauses its answers announced.

Fault-injection tests and the rate-limit benchmark ask it the question that matters for a
client under a rate limit: was any request sent while a pause announced by an earlier answer
(a 429's ``Retry-After``) was still running? Times are ``time.monotonic()`` seconds, whatever
clock the simulated world runs on: a pinned world clock still lets real time pass between
requests, and a client honours ``Retry-After`` in real seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Arrival:
    at: float  # when the request reached the simulator
    route: str  # "GET /device": method and route template
    status: int
    answered_at: float  # when the answer left (after latency or a hang)
    retry_after: float | None = None  # seconds, for answers that announce a pause

    @property
    def pause(self) -> tuple[float, float] | None:
        """The pause this answer announced: from when the client could read it to its end."""
        if self.retry_after is None:
            return None
        return self.answered_at, self.answered_at + self.retry_after


class ArrivalLog:
    """Thread-safe: the simulator's TCP server answers each connection on its own thread.

    Off until `start`: a long-running simulator (``--demo``) must not grow a list forever.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._arrivals: list[Arrival] = []
        self.recording = False

    def start(self) -> None:
        """Record from now on (what was recorded before is kept)."""
        self.recording = True

    def now(self) -> float:
        return self._clock()

    def add(self, arrival: Arrival) -> None:
        if not self.recording:
            return
        with self._lock:
            self._arrivals.append(arrival)

    def arrivals(self) -> list[Arrival]:
        with self._lock:
            return list(self._arrivals)

    def reset(self) -> None:
        with self._lock:
            self._arrivals.clear()

    def pauses(self) -> list[tuple[float, float]]:
        return [p for a in self.arrivals() if (p := a.pause) is not None]

    def inside_pauses(self) -> list[Arrival]:
        """Requests that arrived while a pause announced before them was still running."""
        arrivals = self.arrivals()
        pauses = [p for a in arrivals if (p := a.pause) is not None]
        return [a for a in arrivals if any(start < a.at < end for start, end in pauses)]


def retry_after_of(headers: dict[str, str]) -> float | None:
    """The pause an answer announces, in seconds, or None (``Retry-After`` in seconds only:
    the simulator never sends the HTTP-date form)."""
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None
