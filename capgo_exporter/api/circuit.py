"""The circuit: when Capgo fails as a whole, one probe now and then instead of every request.

A route that keeps failing waits longer before each request (the client's per-route back-off),
but during a total outage every collector keeps polling every route, and the budget, not
Capgo's state, sets the pace: about 100 requests a minute against a Capgo that answers none.
So after `FAILURES_TO_OPEN` failed attempts in a row, whatever their routes (5xx, timeouts,
connection errors, bodies that are not JSON), the circuit opens: requests are refused at once,
nothing sent, except one probe once its wait has passed. The wait is the probe interval (a
little under the shortest collector interval, so that each run of that collector may probe;
at least `MIN_PROBE_INTERVAL`, so never more than 10 probes a minute). It does not grow: the
intervals already bound the rate, and a longer wait would notice Capgo's return later than
one interval. Any answer from Capgo (a success, a 4xx, a 429: Capgo is there) closes it; the
next requests go out at once, and `CapgoHTTP.when_answering_again`'s listeners are told (the
scheduler, which then runs at once the collectors that failed meanwhile).

Any answer resets the count of failures, so one route that keeps failing among routes that
work never opens the circuit: that route's own back-off handles it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import structlog

from capgo_exporter.api.budget import Clock

FAILURES_TO_OPEN: Final = 6
# At most 10 probes a minute, however short the collectors' intervals.
MIN_PROBE_INTERVAL: Final = 6.0

_log = structlog.get_logger("capgo_exporter.api")


class CircuitOpenError(Exception):
    """Internal: the circuit refused this request (nothing was sent)."""


class Circuit:
    def __init__(
        self,
        probe_interval: float,
        *,
        failures_to_open: int = FAILURES_TO_OPEN,
        clock: Clock,
        on_change: Callable[[bool], None],
    ) -> None:
        self.failures_to_open = failures_to_open
        self.probe_wait = max(MIN_PROBE_INTERVAL, probe_interval)
        self._clock = clock
        self._on_change = on_change
        self._failures = 0
        self._probe_at: float | None = None  # None: closed
        self._probing = False
        # Why it opened, kept until it closes: refusals repeat one message, logged once.
        self.reason = ""

    @property
    def is_open(self) -> bool:
        return self._probe_at is not None

    def next_probe_in(self) -> float:
        """Seconds until a probe may leave (0 when closed or due)."""
        return 0.0 if self._probe_at is None else max(0.0, self._probe_at - self._clock())

    def refuse_unless_due(self) -> None:
        """Raise CircuitOpenError when open and no probe may leave now (early, or one out)."""
        if self._probe_at is not None and (self._probing or self._clock() < self._probe_at):
            raise CircuitOpenError

    def admit(self) -> bool:
        """The last check before sending; True when the request admitted is the probe."""
        self.refuse_unless_due()
        if self._probe_at is None:
            return False
        self._probing = True
        return True

    def abandon(self) -> None:
        """The probe ended without an answer or a failure (cancelled): another may go."""
        self._probing = False

    def answered(self) -> bool:
        """Capgo answered (whatever the status). Returns True when that closed the circuit."""
        self._failures = 0
        self._probing = False
        if self._probe_at is None:
            return False
        self._probe_at, self.reason = None, ""
        _log.info("Capgo answers again; requests resume")
        self._on_change(False)
        return True

    def failed(self, reason: str, *, probe: bool = False) -> None:
        """An attempt failed the way an outage does (5xx, timeout, no connection, not JSON,
        too large); ``probe``: it was the probe."""
        if probe:  # the probe failed: the next one after a wait
            self._probing = False
            self._probe_at = self._clock() + self.probe_wait
            _log.debug("Capgo probe failed", next_probe_in_seconds=round(self.probe_wait))
            return
        if self._probe_at is not None:  # sent before it opened: changes nothing
            return
        self._failures += 1
        if self._failures < self.failures_to_open:
            return
        self.reason = reason
        self._probe_at = self._clock() + self.probe_wait
        _log.warning(
            "Capgo is failing as a whole; requests stop but for a probe now and then",
            failures_in_a_row=self._failures,
            last_error=reason,
            next_probe_in_seconds=round(self.probe_wait),
        )
        self._on_change(True)
