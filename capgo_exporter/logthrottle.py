"""Repeated log lines, rate limited: one line when a state changes, then a reminder at most
every few minutes, saying how many identical lines were left out.

A collector failing every 30 seconds for the same reason (a rejected key, an inventory that
never succeeded) would otherwise write the same warning 120 times an hour and bury the line
that matters: the first one, and the one that says something changed.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass

REMINDER_SECONDS = 300.0


@dataclass
class _Seen:
    state: Hashable
    logged_at: float
    suppressed: int = 0


class LogThrottle:
    def __init__(
        self, clock: Callable[[], float], *, reminder_seconds: float = REMINDER_SECONDS
    ) -> None:
        self._clock = clock
        self._reminder = reminder_seconds
        self._seen: dict[Hashable, _Seen] = {}

    def admit(self, key: Hashable, state: Hashable) -> int | None:
        """None to leave this line out; else the number of lines left out since the last one."""
        now = self._clock()
        seen = self._seen.get(key)
        if seen is None or seen.state != state or now - seen.logged_at >= self._reminder:
            self._seen[key] = _Seen(state, now)
            return 0 if seen is None or seen.state != state else seen.suppressed
        seen.suppressed += 1
        return None

    def reset(self, key: Hashable) -> None:
        """The condition is over (a run succeeded): its next occurrence is logged at once."""
        self._seen.pop(key, None)
