"""The one instant every test runs at, and how to run the whole suite at another one.

No test reads the wall clock: simulators, collectors, billing cycles and device windows all
take their time from ``PINNED_NOW``. It is 2026-03-15 12:00 UTC, the middle of a cycle, unless
``CAPGO_TEST_NOW`` names another instant (ISO 8601, e.g. ``2028-02-29T23:59:59Z``): `.ci/run`
runs the suite once more as if it were the first day of a billing cycle, so that a test that
only passes mid-cycle cannot come back unnoticed. Try any date with::

    CAPGO_TEST_NOW=2027-01-01T00:30:00Z python -m pytest

A daemon started as a process runs on the pinned clock too: `clock_env` gives it
``CAPGO_EXPORTER_CLOCK_START`` (``--clock.start``), the instant a test's own clock reads when the
daemon starts, so the daemon and the test's simulator agree on the day. A real Prometheus cannot
be pinned: it evaluates rules on the real clock and reads only the gauges' values, so end-to-end
tests run the exporter and simulator on the pinned day while Prometheus runs on real time; what
a rule compares with ``time()`` is asked of Prometheus, never assumed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from capgo_exporter.clock import Clock


def _pinned() -> datetime:
    text = os.environ.get("CAPGO_TEST_NOW", "").strip()
    if not text:
        return datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


PINNED_NOW = _pinned()


def pinned_now() -> datetime:
    return PINNED_NOW


def pinned_clock() -> Clock:
    """The exporter's clock type, reading the pinned instant now and running at real speed."""
    return Clock.starting_at(PINNED_NOW)


def clock_env(clock: Clock) -> dict[str, str]:
    """The environment that starts a daemon process on ``clock`` (as it reads now)."""
    return {"CAPGO_EXPORTER_CLOCK_START": clock.now().isoformat()}


def running_clock() -> Callable[[], datetime]:
    """A clock that starts at the pinned instant and runs at real speed from there: for a
    simulator whose rate limits and latencies must see time pass."""
    return pinned_clock().now


def day(offset: int = 0) -> str:
    """The pinned day moved by `offset` days, as the API's `YYYY-MM-DD`."""
    return (PINNED_NOW.date() + timedelta(days=offset)).isoformat()
