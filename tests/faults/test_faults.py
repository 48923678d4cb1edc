"""Fault injection: the daemon against the simulator, one fault at a time.

Each scenario starts a healthy daemon (harness.daemon_under_fault), switches one fault on for
`FAULT_SECONDS` (two poll intervals) while simulated devices appear and check in, switches
it off, and checks the four invariants listed in harness.py: nothing sent inside a pause,
no series gone while its health says 1, recovery within one interval of the fault's end,
nothing lost in the device index. Each prints the figures the README's "Under faults"
section quotes (``python -m pytest tests/faults -s``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from capgo_exporter import health
from capgo_exporter.api.circuit import FAILURES_TO_OPEN
from capgo_exporter.api.core import CapgoHTTP
from capgo_exporter.sim.model import ApiKey
from tests.faults.harness import (
    INTERVAL,
    RECOVERY_DEADLINE,
    Daemon,
    Watch,
    daemon_under_fault,
)

FAULT_SECONDS = 2 * INTERVAL  # every collector fails two runs or more
# Each scenario checks what happens within real seconds (pauses, recovery within an interval):
# run alone, after the parallel part of the suite, not beside other tests' load.
pytestmark = [pytest.mark.serial, pytest.mark.usefixtures("probe_every_interval")]


def knobs(daemon: Daemon, lingers: float = 0.0, **values: object) -> Callable[[], float]:
    """A switch that sets simulator knobs; returns how long the fault lingers after it."""

    def switch() -> float:
        daemon.sim.configure(**values)
        return lingers

    return switch


@dataclass
class Outcome:
    watch: Watch
    recovery_seconds: float
    statuses: dict[int, int]  # answers during the fault, by status
    probe_wait: float = 0.0  # from the fault's end (and what lingered) to the circuit's probe

    def report(self, fault: str) -> None:
        print(
            f"\n{fault}: {sum(self.statuses.values())} requests during the fault "
            f"{dict(sorted(self.statuses.items()))}, {self.watch.scrapes} scrapes, "
            f"collectors seen down {sorted(self.watch.down_seen)}, "
            f"{len(self.watch.violations)} series dropped while up, "
            f"circuit's next probe {self.probe_wait:.1f}s after, "
            f"recovered {self.recovery_seconds:.2f}s after that"
        )


async def under_fault(
    daemon: Daemon,
    switch_on: Callable[[], object],
    switch_off: Callable[[], float],
    seconds: float = FAULT_SECONDS,
) -> Outcome:
    """Fault on, devices changed, watch; fault off; watch until healthy again.

    ``switch_off`` returns the seconds the fault still lingers after it (answers already
    on their way, a pause already announced); a circuit the fault opened lingers until its
    next probe: recovery is counted from then.
    """
    watch = Watch(daemon.baseline)
    first = len(daemon.sim.arrivals.arrivals())
    switch_on()
    daemon.change_devices()
    await daemon.watch(seconds, watch)
    lingers = switch_off()
    statuses: dict[int, int] = {}
    for arrival in daemon.sim.arrivals.arrivals()[first:]:
        statuses[arrival.status] = statuses.get(arrival.status, 0) + 1
    await daemon.watch(lingers, watch)
    # A circuit the fault opened: its next probe is the first request that can see Capgo back.
    probe_wait = daemon.next_probe_in()
    await daemon.watch(probe_wait, watch)
    recovery = await daemon.until_healthy(RECOVERY_DEADLINE, watch)
    assert watch.violations == []  # (b)
    assert daemon.sim.arrivals.inside_pauses() == []  # (a)
    # (c) and (d): until_healthy saw every collector up, every metric back and the device
    # metrics equal to the simulator's truth, devices added during the fault included.
    return Outcome(watch, recovery, statuses, probe_wait)


async def test_a_burst_of_server_errors(tmp_path: Path) -> None:
    async with daemon_under_fault(tmp_path) as daemon:
        outcome = await under_fault(
            daemon,
            knobs(daemon, fail_rate=1.0),
            knobs(daemon, fail_rate=0.0),
        )
    outcome.report("5xx burst")
    assert {500, 502, 503} & set(outcome.statuses)
    assert outcome.watch.down_seen  # the fault was felt: health said so
    # Probed, not hammered: the failures that open the circuit, the requests already in
    # flight then (at most the concurrency), and a probe per interval at most after that.
    probes = math.ceil(FAULT_SECONDS / INTERVAL)
    assert sum(outcome.statuses.values()) <= FAILURES_TO_OPEN + 4 + probes


async def test_requests_that_time_out(tmp_path: Path) -> None:
    timeout = 0.5
    async with daemon_under_fault(tmp_path, request_timeout=timeout) as daemon:
        outcome = await under_fault(
            daemon,
            knobs(daemon, timeout_rate=1.0, hang_seconds=5.0),
            knobs(daemon, lingers=timeout, timeout_rate=0.0),  # answers given up on
        )
    outcome.report("timeouts")
    assert outcome.statuses.get(504, 0) > 0  # answers the daemon gave up on
    assert outcome.watch.down_seen


async def test_a_429_storm_with_retry_after(tmp_path: Path) -> None:
    """Capgo allows 20 requests a minute from now on; the exporter's budget says 100,000."""
    async with daemon_under_fault(tmp_path) as daemon:

        def lift() -> float:
            daemon.sim.configure(rate_limit_per_min=0)
            ends = [end for _, end in daemon.sim.arrivals.pauses()]
            return max([0.0, *(end - time.monotonic() for end in ends)])

        outcome = await under_fault(
            daemon,
            knobs(daemon, rate_limit_per_min=20, rate_limit_burst=2),
            lift,
            # Six seconds, two of the bucket's 3-second refills: long enough for a pause to end
            # and the next request to meet another 429 (in three, the first pause outlasts it).
            seconds=6.0,
        )
    outcome.report("429 storm, 20/min")
    assert outcome.statuses.get(429, 0) >= 2
    pauses = len(daemon.sim.arrivals.pauses())
    print(f"  {pauses} pauses announced, 0 requests inside them")


async def test_latency_longer_than_the_intervals(tmp_path: Path) -> None:
    """Every answer takes 1.5 intervals: runs of several requests in a row outlast the max age
    (three intervals), so data are dropped while runs are still in progress (the symptom this
    suite was written for: "987 to 11 series while every health gauge said 1")."""
    latency = 1.5 * INTERVAL
    async with daemon_under_fault(tmp_path) as daemon:
        outcome = await under_fault(
            daemon,
            knobs(daemon, latency_ms=latency * 1000),
            knobs(daemon, lingers=latency, latency_ms=0.0),  # slow answers on their way
            seconds=5 * INTERVAL,
        )
    outcome.report(f"latency {latency:g}s, interval {INTERVAL:g}s")
    assert outcome.watch.down_seen  # data passed their max age: health said so


@pytest.mark.parametrize("kind", ["truncated", "not_json"])
async def test_bodies_that_are_not_the_json_asked_for(tmp_path: Path, kind: str) -> None:
    async with daemon_under_fault(tmp_path) as daemon:
        outcome = await under_fault(
            daemon,
            knobs(daemon, malformed_rate=1.0, malformed_kind=kind),
            knobs(daemon, malformed_rate=0.0),
        )
    outcome.report(f"{kind} bodies")
    assert outcome.statuses.get(200, 0) > 0  # 200s whose body does not parse
    assert outcome.watch.down_seen


async def test_a_key_revoked_while_in_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The key is deleted, then restored while the exporter backs off. The back-off after a
    rejected key (10 minutes in production, against Capgo's lockout after 20 failures) is
    shortened here; nothing may be sent before it ends."""
    backoff = 3.0
    defaults = CapgoHTTP.__init__.__kwdefaults__
    assert defaults is not None
    assert "auth_failure_cooldown" in defaults
    monkeypatch.setitem(defaults, "auth_failure_cooldown", backoff)
    monkeypatch.setattr(health, "AUTH_BACKOFF_SECONDS", backoff)
    async with daemon_under_fault(tmp_path) as daemon:
        revoked: list[ApiKey] = []

        def restore() -> float:
            daemon.sim.restore_key(revoked[0])
            rejected = [a for a in daemon.sim.arrivals.arrivals() if a.status == 401]
            assert rejected, "the revoked key was never used"
            return max(0.0, rejected[0].answered_at + backoff - time.monotonic())

        outcome = await under_fault(
            daemon, lambda: revoked.append(daemon.sim.revoke_key("demo")), restore
        )
        arrivals = daemon.sim.arrivals.arrivals()
    outcome.report("revoked key")
    first = next(a for a in arrivals if a.status == 401)
    in_backoff = [a for a in arrivals if first.answered_at < a.at < first.answered_at + backoff]
    assert in_backoff == []
    assert set(outcome.watch.down_seen) == set(daemon.baseline)
