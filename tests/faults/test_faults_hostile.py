"""Fault injection, continued: answers no Capgo should give (too large, of another shape).
The same four invariants as tests/faults/test_faults.py, through the same `under_fault`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.faults.harness import Daemon, daemon_under_fault
from tests.faults.test_faults import under_fault

# Real seconds (pauses, recovery within an interval): run alone, as test_faults.py.
pytestmark = [pytest.mark.serial, pytest.mark.usefixtures("probe_every_interval")]

LIMIT = 1024 * 1024  # --capgo.max-response-size in these scenarios, its smallest value


def tamper(daemon: Daemon, **values: object) -> Callable[[], float]:
    def switch() -> float:
        for name, value in values.items():
            setattr(daemon.tamper, name, value)
        return 0.0

    return switch


async def test_answers_larger_than_the_limit(tmp_path: Path) -> None:
    """Every answer 4 MiB against a 1 MiB limit: abandoned while streaming (each a failed
    request), the daemon stays up and serves the last good values, then recovers."""
    async with daemon_under_fault(tmp_path, max_response_size=LIMIT) as daemon:
        outcome = await under_fault(
            daemon, tamper(daemon, oversized=4 * LIMIT), tamper(daemon, oversized=0)
        )
        oversized = daemon.tamper.tampered
    outcome.report("answers of 4 MiB, limit 1 MiB")
    print(f"  {oversized} oversized answers, each abandoned past 1 MiB")
    assert oversized > 0
    assert outcome.watch.down_seen


async def test_device_pages_answered_as_bare_arrays(tmp_path: Path) -> None:
    """GET /device answers a JSON array of the page's devices instead of the cursor page it
    answered before: a changed shape, which fails the devices runs (never read as the old
    list with rows dropped, never up while its series are gone); the index loses nothing."""
    async with daemon_under_fault(tmp_path) as daemon:
        outcome = await under_fault(
            daemon, tamper(daemon, device_arrays=True), tamper(daemon, device_arrays=False)
        )
        arrays = daemon.tamper.tampered
    outcome.report("device pages as bare arrays")
    assert arrays > 0
    assert "devices" in outcome.watch.down_seen
