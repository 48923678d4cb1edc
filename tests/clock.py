"""The one instant every test runs at, and how to run the whole suite at another one.

No test reads the wall clock: simulators, collectors, billing cycles and device windows all
take their time from ``PINNED_NOW``. It is 2026-03-15 12:00 UTC, the middle of a cycle, unless
``CAPGO_TEST_NOW`` names another instant (ISO 8601, e.g. ``2028-02-29T23:59:59Z``): `.ci/run`
runs the suite once more as if it were the first day of a billing cycle, so that a test that
only passes mid-cycle cannot come back unnoticed. Try any date with::

    CAPGO_TEST_NOW=2027-01-01T00:30:00Z python -m pytest

A real Prometheus cannot be pinned: it evaluates rules on the real clock. End-to-end tests with
one therefore pin the billing cycle instead (`cycle_start_day_for`): the exporter's cycle is then
as old, in whole days, as the pinned instant's cycle is, on whatever day the test runs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from capgo_exporter.collect.statistics import billing_cycle_start


def _pinned() -> datetime:
    text = os.environ.get("CAPGO_TEST_NOW", "").strip()
    if not text:
        return datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


PINNED_NOW = _pinned()
# The billing cycle the pinned instant falls in, for a cycle starting on the 1st.
PINNED_CYCLE_DAY = (PINNED_NOW.date() - billing_cycle_start(PINNED_NOW.date(), 1)).days + 1


def pinned_now() -> datetime:
    return PINNED_NOW


def prometheus_now() -> datetime:
    """The real clock: the only place tests read it, for what a real Prometheus evaluates."""
    return datetime.now(UTC)


def cycle_start_day_for(today: date, cycle_day: int) -> int:
    """The start day that makes `today` the `cycle_day`-th day (1 = first) of its cycle."""
    return (today - timedelta(days=cycle_day - 1)).day


def running_clock() -> Callable[[], datetime]:
    """A clock that starts at the pinned instant and runs at real speed from there: for a
    simulator whose rate limits and latencies must see time pass."""
    started = time.monotonic()
    return lambda: PINNED_NOW + timedelta(seconds=time.monotonic() - started)


def day(offset: int = 0) -> str:
    """The pinned day moved by `offset` days, as the API's `YYYY-MM-DD`."""
    return (PINNED_NOW.date() + timedelta(days=offset)).isoformat()
